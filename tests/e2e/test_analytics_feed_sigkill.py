"""The analytics feed (`konkurs projector readside`, a real process on the real broker)
SIGKILLed while it produces a call's facts: after a restart, a consumer that deduplicates by
`ce_id` sees every fact the events make exactly once and nothing else, and a fact that needs
an event from before the kill (an appeal's decision, keyed by the call its lodging named) is
produced after it.

The source events are published as the services' relays publish them (key = stream id, the
event type in a header), so the test needs no other process and controls the pace.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from google.protobuf.message import Message
from helpers import end_offsets, eventually, read_topic

from konkurs.analytics.v1 import facts_pb2
from konkurs.commission.v1 import events_pb2 as commission
from konkurs.intake.v1 import application_pb2
from konkurs.intake.v1 import events_pb2 as intake
from konkurs_ops.processes import Process, service_env
from konkurs_platform.envelope import HEADER_EVENT_TYPE, Actor, Envelope, encode_envelope
from konkurs_platform.settings import Settings
from konkurs_readside.analytics.facts import Fact, Memory, facts_of

pytestmark = pytest.mark.integration

APPLICATIONS = 4000
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


def intake_events(call_id: str) -> list[Envelope]:
    events = [envelope(f"call-{call_id}", 1, intake.CallAnnounced(call_id=call_id))]
    for n in range(APPLICATIONS):
        application_id = f"{call_id}-app-{n:04d}"
        submitted = intake.ApplicationSubmitted(
            application_id=application_id,
            call_id=call_id,
            content=application_pb2.ApplicationContent(
                cluster=application_pb2.Cluster(region_code="KZ-75", primary_oked_code="31090"),
                participants=[
                    application_pb2.Participant(kind=application_pb2.PARTICIPANT_KIND_SME)
                ]
                * (1 + n % 5),
            ),
        )
        events.append(envelope(f"application-{application_id}", 1, submitted))
    return events


async def publish(settings: Settings, service: str, events: list[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send(
                settings.events_topic(service),
                encode_envelope(event),
                key=event.stream_id.encode(),
                headers=[(HEADER_EVENT_TYPE, event.event_type.encode())],
            )
        await producer.flush()
    finally:
        await producer.stop()


async def facts_of_call(settings: Settings, call_id: str) -> list[ConsumerRecord]:
    """Every record of the feed keyed by `call_id`, from the beginning to the end now."""
    everything = await read_topic(
        settings, settings.analytics_topic, until=await produced(settings)
    )
    return [r for r in everything if r.key == call_id.encode()]


async def produced(settings: Settings) -> int:
    """How many records the feed holds now, of every call."""
    return sum((await end_offsets(settings, settings.analytics_topic)).values())


def deduplicated(records: list[ConsumerRecord]) -> dict[str, ConsumerRecord]:
    """What a consumer that deduplicates by `ce_id` keeps: the first record of each id."""
    seen: dict[str, ConsumerRecord] = {}
    for r in records:
        seen.setdefault(dict(r.headers)["ce_id"].decode(), r)
    return seen


@pytest.fixture
def projector(settings: Settings, tmp_path: Path) -> Iterator[Process]:
    process = Process(
        "readside-projector",
        ["projector", "readside"],
        service_env(settings, tmp_path / "home"),
        tmp_path,
    )
    try:
        yield process
    finally:
        process.stop()
        print(process.tail())


async def test_after_a_sigkill_a_deduplicating_consumer_sees_every_fact_once_and_none_missing(
    settings: Settings, projector: Process
) -> None:
    call_id = f"feed-{uuid.uuid4().hex[:8]}"
    appeal = f"appeal-{call_id}"
    before_kill = intake_events(call_id)
    lodged = envelope(
        appeal,
        1,
        commission.AppealLodged(
            appeal_id=appeal, call_id=call_id, application_id=f"{call_id}-app-0001",
            ground=commission.APPEAL_GROUND_DOCUMENTS_IGNORED, explanation="Письмо директора",
        ),
    )  # fmt: skip
    rejected = envelope(
        appeal,
        2,
        commission.AppealRejected(
            appeal_id=appeal, application_id=f"{call_id}-app-0001", reasons="Не подтвердилось"
        ),
    )
    # What the events make, by the same mapping, each fact once.
    memory = Memory()
    expected: dict[str, Fact] = {
        str(f.id): f for e in [*before_kill, lodged, rejected] for f in facts_of(e, memory)
    }
    assert len(expected) == APPLICATIONS + 3

    already = await produced(settings)
    projector.start()
    await publish(settings, "commission", [lodged])
    await publish(settings, "intake", before_kill)

    async def started() -> bool:
        return await produced(settings) > already

    await eventually(started, timeout=120, every=0.05)
    projector.kill()
    done = deduplicated(await facts_of_call(settings, call_id))
    assert len(done) < len(expected) - 1, "the feed was done before the kill"
    # The appeal's decision arrives while the feed is down: its call is only in the lodging,
    # consumed and committed before the kill.
    await publish(settings, "commission", [rejected])
    projector.start()

    async def complete() -> dict[str, ConsumerRecord] | None:
        seen = deduplicated(await facts_of_call(settings, call_id))
        missing = expected.keys() - seen.keys()
        print(f"{len(seen)} of {len(expected)} facts, missing e.g. {sorted(missing)[:1]}")
        return seen if not missing else None

    seen = await eventually(complete, timeout=180, every=1.0)
    assert seen.keys() == expected.keys()
    records = await facts_of_call(settings, call_id)
    for r in records:
        fact = expected[dict(r.headers)["ce_id"].decode()]
        # A duplicate is the same fact: same key, bytes and headers.
        assert (r.key, r.value, list(r.headers)) == (fact.key(), fact.value(), fact.headers())
    decided = facts_pb2.AppealDecided.FromString(
        next(r.value for r in seen.values() if dict(r.headers)["ce_type"].endswith(b"Decided"))
    )
    assert (decided.call_id, decided.appeal_id, decided.upheld) == (call_id, appeal, False)
    print(f"{len(records) - len(seen)} duplicates after the kill, deduplicated by ce_id")
