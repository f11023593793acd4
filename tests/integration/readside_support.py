"""What the readside tests share: a world of their own (a fresh topic prefix and a fresh
readside schema), intake events built from the protobuf messages, and waiting for the
projector to catch up."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from konkurs.intake.v1 import application_pb2, call_pb2, events_pb2
from konkurs.types.v1 import types_pb2
from konkurs_ops import stack
from konkurs_platform.db import migrate, migrations_for
from konkurs_platform.envelope import Actor, Envelope, decode_envelope, encode_envelope
from konkurs_platform.projection import Projector
from konkurs_platform.settings import Settings
from konkurs_readside.positions import event_partitions, stored_offsets
from konkurs_readside.projector import create_projector
from konkurs_readside.spec import SPEC

INTAKE = "intake"
OPERATOR = Actor(subject="kiri-operator", role="operator")

# The press release of 2017-06-14: 21 applications from 11 regions.
PRESS_RELEASE_2017 = {
    "KZ-75": 4,
    "KZ-51": 1,
    "KZ-11": 2,
    "KZ-63": 3,
    "KZ-47": 1,
    "KZ-39": 2,
    "KZ-55": 3,
    "KZ-35": 2,
    "KZ-19": 1,
    "KZ-27": 1,
    "KZ-31": 1,
}


async def new_world(settings: Settings, pool: asyncpg.Pool) -> tuple[Settings, str]:
    """A topic prefix and a readside schema no other test uses."""
    run = uuid.uuid4().hex[:8]
    world = replace(settings, topic_prefix=f"{settings.topic_prefix}.rs{run}")
    stack.create_topics(world)
    schema = f"rs_{run}"
    async with pool.acquire() as conn:
        await migrate(conn, schema, migrations_for(SPEC))
    return world, schema


@dataclass
class Stream:
    """One aggregate's stream: the next version and the envelopes written so far."""

    stream_id: str
    version: int = 0
    envelopes: list[bytes] = field(default_factory=list)


@dataclass
class Events:
    """Builds intake events in stream order, as the intake service would publish them."""

    clock: datetime = datetime(2017, 4, 10, 9, 0, tzinfo=UTC)
    streams: dict[str, Stream] = field(default_factory=dict)
    published: list[tuple[str, bytes]] = field(default_factory=list)

    def emit(self, stream_id: str, message: object, actor: Actor = OPERATOR) -> bytes:
        stream = self.streams.setdefault(stream_id, Stream(stream_id))
        stream.version += 1
        self.clock += timedelta(minutes=7)
        payload = message.SerializeToString()  # type: ignore[attr-defined]
        raw = encode_envelope(
            Envelope(
                event_id=uuid.uuid4(),
                event_type=message.DESCRIPTOR.full_name,  # type: ignore[attr-defined]
                stream_id=stream_id,
                stream_version=stream.version,
                occurred_at=self.clock,
                recorded_at=self.clock + timedelta(seconds=1),
                actor=actor,
                correlation_id=str(uuid.uuid4()),
                causation_id=None,
                schema_version=1,
                payload=payload,
            )
        )
        stream.envelopes.append(raw)
        self.published.append((stream_id, raw))
        return raw

    def announce(self, call_id: str) -> None:
        definition = call_pb2.CallDefinition(
            title=types_pb2.LocalizedText(ru="Конкурс кластеров", en="Cluster competition"),
            programme="territorial-clusters",
            time_zone="Asia/Almaty",
            quota=6,
            region_set="2017",
            accepted_region_codes=sorted(PRESS_RELEASE_2017),
        )
        definition.opens_at.FromDatetime(datetime(2017, 4, 10, tzinfo=UTC))
        definition.closes_at.FromDatetime(datetime(2017, 6, 8, tzinfo=UTC))
        self.emit(
            f"call-{call_id}",
            events_pb2.CallAnnounced(call_id=call_id, call=definition, illustrative=True),
        )

    def submit(
        self,
        call_id: str,
        number: int,
        region: str,
        *,
        coordinator: str,
        participants: tuple[str, ...] = (),
        specialisation: tuple[str, ...] = ("16100",),
    ) -> str:
        application_id = str(uuid.uuid4())
        content = _content(f"Cluster {number}", region, coordinator, participants, specialisation)
        self.emit(
            f"application-{application_id}",
            events_pb2.ApplicationSubmitted(
                application_id=application_id,
                call_id=call_id,
                registration_number=f"TC-2017-{number:03d}",
                content=content,
                illustrative=True,
            ),
            Actor(subject=f"applicant-{number}", role="applicant", organisation=coordinator),
        )
        return application_id

    def amend(self, application_id: str, revision: int, name: str) -> None:
        submitted = events_pb2.ApplicationSubmitted.FromString(
            decode_envelope(self.streams[f"application-{application_id}"].envelopes[0]).payload
        )
        content = application_pb2.ApplicationContent()
        content.CopyFrom(submitted.content)
        content.cluster.name = name
        self.emit(
            f"application-{application_id}",
            events_pb2.ApplicationAmended(
                application_id=application_id, revision=revision, content=content
            ),
        )

    def attach(self, application_id: str, filename: str) -> None:
        self.emit(
            f"application-{application_id}",
            events_pb2.DocumentAttached(
                application_id=application_id,
                document=application_pb2.Document(
                    kind="letter-of-intent",
                    filename=filename,
                    media_type="application/pdf",
                    size_bytes=1234,
                    sha256="ab" * 32,
                ),
            ),
        )

    def withdraw(self, application_id: str, reason: str) -> None:
        self.emit(
            f"application-{application_id}",
            events_pb2.ApplicationWithdrawn(application_id=application_id, reason=reason),
        )


def _content(
    name: str,
    region: str,
    coordinator: str,
    participants: tuple[str, ...],
    specialisation: tuple[str, ...],
) -> application_pb2.ApplicationContent:
    members = [coordinator, *participants]
    return application_pb2.ApplicationContent(
        cluster=application_pb2.Cluster(
            name=name,
            description="illustrative",
            region_code=region,
            specialisation_oked_codes=list(specialisation),
        ),
        coordinator=application_pb2.Organisation(bin=coordinator, name=f"Org {coordinator}"),
        participants=[
            application_pb2.Participant(
                bin=b,
                name=f"Org {b}",
                kind=application_pb2.PARTICIPANT_KIND_SME,
                employees=40,
                annual_revenue=types_pb2.Money(currency="KZT", minor_units=10_000_000),
            )
            for b in members
        ],
        strategy_summary="grow together",
        requested_support=[
            application_pb2.SupportRequest(
                kind="consulting", amount=types_pb2.Money(currency="KZT", minor_units=500_000)
            )
        ],
        co_financing=application_pb2.CoFinancing(
            amount=types_pb2.Money(currency="KZT", minor_units=250_000), share_percent=33
        ),
        contact=application_pb2.ContactPerson(
            name="Aigerim Nurlanovna", phone="+7 701 234 5678", email="aigerim@example.kz"
        ),
        documents=[
            application_pb2.Document(
                kind="charter",
                filename="charter.pdf",
                media_type="application/pdf",
                size_bytes=99,
                sha256="cd" * 32,
            )
        ],
    )


def _intake(stream_id: str) -> str:
    return INTAKE


async def publish(
    settings: Settings,
    records: list[tuple[str, bytes]],
    service_of: Callable[[str], str] = _intake,
) -> None:
    """Produce `records` (stream id, envelope bytes) to their service's topic (by default
    intake's; `service_of` names it from the stream id), keyed by stream id, as each
    service's relay does."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for stream_id, raw in records:
            topic = settings.events_topic(service_of(stream_id))
            await producer.send(topic, raw, key=stream_id.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def caught_up(settings: Settings, pool: asyncpg.Pool, schema: str) -> bool:
    """Whether the stored offsets reach the end of every event partition."""
    partitions = await event_partitions(settings)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    async with pool.acquire() as conn:
        stored = await stored_offsets(conn, schema)
    return all(stored.get(tp, 0) >= end for tp, end in ends.items())


async def wait_caught_up(
    settings: Settings, pool: asyncpg.Pool, schema: str, timeout: float = 60
) -> None:
    async with asyncio.timeout(timeout):
        while not await caught_up(settings, pool, schema):
            await asyncio.sleep(0.2)


def projector(
    settings: Settings, pool: asyncpg.Pool, schema: str, max_records: int = 2000
) -> Projector:
    return create_projector(
        settings,
        pool,
        schema=schema,
        group_id=f"{settings.topic_prefix}.projection.{schema}",
        max_records=max_records,
    )


async def table_rows(pool: asyncpg.Pool, schema: str, table: str) -> list[asyncpg.Record]:
    """Every row of a read-model table, in a stable order (all columns, row for row)."""
    async with pool.acquire() as conn:
        return list(await conn.fetch(f"SELECT * FROM {schema}.{table} ORDER BY 1, 2, 3"))
