"""Scoring's worker (`konkurs worker scoring`, a real process on the real broker and database)
SIGKILLed while it learns and screens a closed call's applications: after a restart every
application is known and screened exactly once per content version, and every one of
intake's events is in the inbox once.

Intake's events are published as intake's relay publishes them (key = stream id, the event
type in a header), so the test needs no intake process and controls the pace.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from google.protobuf.message import Message
from helpers import wait_until

from konkurs.intake.v1 import application_pb2, call_pb2, events_pb2
from konkurs_ops.processes import Process, service_env
from konkurs_platform.envelope import HEADER_EVENT_TYPE, Actor, Envelope, encode_envelope
from konkurs_platform.protobuf import to_timestamp
from konkurs_platform.settings import Settings
from konkurs_scoring.consumers.intake_events import CONSUMER

pytestmark = pytest.mark.integration

APPLICATIONS = 240
# Every third application is amended once after it was submitted: two content versions.
AMENDED = range(0, APPLICATIONS, 3)
NOW = datetime(2030, 3, 1, 9, tzinfo=UTC)


def envelope(stream_id: str, version: int, message: Message) -> Envelope:
    return Envelope(
        event_id=uuid.uuid4(),
        event_type=message.DESCRIPTOR.full_name,
        stream_id=stream_id,
        stream_version=version,
        occurred_at=NOW,
        recorded_at=NOW,
        actor=Actor(subject="applicant", role="applicant"),
        correlation_id=str(uuid.uuid4()),
        causation_id=None,
        schema_version=2,
        payload=message.SerializeToString(),
    )


def content(n: int, participants: int) -> application_pb2.ApplicationContent:
    return application_pb2.ApplicationContent(
        cluster=application_pb2.Cluster(
            name=f"Cluster {n}", region_code="KZ-75", primary_oked_code="31090"
        ),
        coordinator=application_pb2.Organisation(bin=f"1701400{n:05d}", name="Coordinator"),
        participants=[
            application_pb2.Participant(
                bin=f"1702400{n:03d}{i:02d}",
                name=f"Member {i}",
                kind=application_pb2.PARTICIPANT_KIND_SME,
            )
            for i in range(participants)
        ],
    )


def call_events(call_id: str) -> list[Envelope]:
    """The call announced (at least three participants) and closed."""
    announced = events_pb2.CallAnnounced(
        call_id=call_id,
        call=call_pb2.CallDefinition(
            closes_at=to_timestamp(NOW - timedelta(days=1)),
            quota=3,
            accepted_region_codes=["KZ-75"],
            eligibility=call_pb2.EligibilityRules(min_participants=3),
        ),
    )
    closed = events_pb2.CallClosed(call_id=call_id, closed_at=to_timestamp(NOW - timedelta(days=1)))
    stream = f"call-{call_id}"
    return [envelope(stream, 1, announced), envelope(stream, 2, closed)]


def application_events(call_id: str) -> list[Envelope]:
    """Each application submitted with two participants (ineligible); some amended to four
    (eligible), arriving after the call closed, as they may from other partitions."""
    events = []
    for n in range(APPLICATIONS):
        application_id = f"{call_id}-app-{n:03d}"
        stream = f"application-{application_id}"
        submitted = events_pb2.ApplicationSubmitted(
            application_id=application_id,
            call_id=call_id,
            registration_number=f"KZ-75-2030-{n + 1:04d}",
            content=content(n, 2),
        )
        events.append(envelope(stream, 1, submitted))
        if n in AMENDED:
            amended = events_pb2.ApplicationAmended(
                application_id=application_id, revision=2, content=content(n, 4)
            )
            events.append(envelope(stream, 2, amended))
    return events


async def publish(settings: Settings, events: list[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send(
                settings.events_topic("intake"),
                encode_envelope(event),
                key=event.stream_id.encode(),
                headers=[(HEADER_EVENT_TYPE, event.event_type.encode())],
            )
        await producer.flush()
    finally:
        await producer.stop()


async def all_committed(settings: Settings) -> bool:
    """Whether scoring's worker group has committed intake's topic up to its end."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(f"{settings.topic_prefix}.scoring")
        topic = settings.events_topic("intake")
        parts = [TopicPartition(topic, p) for p in range(settings.partitions)]
        ends = await consumer.end_offsets(parts)
    finally:
        await consumer.stop()
        await admin.close()
    return all(
        ends[tp] == 0 or (tp in committed and committed[tp].offset >= ends[tp]) for tp in parts
    )


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[Process]:
    process = Process(
        "scoring-worker", ["worker", "scoring"], service_env(settings, tmp_path / "home"), tmp_path
    )
    try:
        yield process
    finally:
        process.stop()
        print(process.tail())


async def test_a_sigkilled_worker_screens_every_application_once_per_content_version(
    settings: Settings, pool: asyncpg.Pool, worker: Process
) -> None:
    call_id = f"sigkill-{uuid.uuid4().hex[:8]}"
    screened_sql = (
        "SELECT count(*) FROM scoring.events e JOIN scoring.applications a "
        "ON e.stream_id = 'screening-' || a.application_id "
        "WHERE a.call_id = $1 AND e.event_type = 'konkurs.scoring.v1.EligibilityAssessed'"
    )

    async def screened(n: int) -> bool:
        return int(await pool.fetchval(screened_sql, call_id)) >= n

    async def closed() -> bool:
        return bool(
            await pool.fetchval(
                "SELECT closed_at IS NOT NULL FROM scoring.calls WHERE call_id = $1", call_id
            )
        )

    expected = APPLICATIONS + len(AMENDED)
    published = call_events(call_id)
    worker.start()
    await publish(settings, published)
    await wait_until(closed, 120, "scoring to learn that the call closed")
    applications = application_events(call_id)
    published += applications
    await publish(settings, applications)
    await wait_until(lambda: screened(1), 60, "the first screenings")
    worker.kill()
    done_before = int(await pool.fetchval(screened_sql, call_id))
    assert done_before < expected, "the applications were all screened before the kill"
    worker.start()
    await wait_until(lambda: screened(expected), 180, "every content version screened")
    await wait_until(lambda: all_committed(settings), 60, "the worker's offsets at the end")

    async with pool.acquire() as conn:
        versions = await conn.fetch(
            "SELECT a.application_id, a.stream_version, e.version, e.causation_id "
            "FROM scoring.applications a JOIN scoring.events e "
            "ON e.stream_id = 'screening-' || a.application_id WHERE a.call_id = $1",
            call_id,
        )
        inbox = await conn.fetchval(
            "SELECT count(*) FROM scoring.inbox WHERE consumer = $1 AND event_id = ANY($2)",
            CONSUMER,
            [e.event_id for e in published],
        )
        known = await conn.fetchval(
            "SELECT count(*) FROM scoring.applications WHERE call_id = $1", call_id
        )
        eligible = await conn.fetchval(
            "SELECT count(*) FROM scoring.screening WHERE call_id = $1 AND eligible", call_id
        )
    assert known == APPLICATIONS
    # One assessment per content version, each caused by a different one of intake's events,
    # and the screening streams without gaps.
    per_application = Counter(r["application_id"] for r in versions)
    assert set(per_application.values()) <= {1, 2}
    assert sum(per_application.values()) == expected
    assert all(per_application[r["application_id"]] == r["stream_version"] for r in versions), (
        "an application screened other than once per content version"
    )
    assert len({r["causation_id"] for r in versions}) == expected
    assert eligible == len(AMENDED)
    assert inbox == len(published)
