"""Every consumer fed malformed and hostile records on the real broker (issue 13): scoring's
reactions to intake's call events and to the commission's events, privacy's reaction to
intake's events, and the readside projector.

Between good events, the topic gets bytes that are no envelope, envelopes whose payload
is garbage, envelopes whose header names another type or none, a type name of 100 KB,
stream versions of 0, -1 and 2^63-1, and times out of protobuf's range. Each record that
cannot be applied goes to the dead-letter topic with a reason (and the consumer's name);
the consumer never stops or loops on it, and the good events around it are applied, so the
copy does not silently diverge from what the producer published.

A reaction is the platform's `react` with its service's effects, as its faust agent runs
it; here its stream is the topic's records read by a plain consumer, so that the test can
end when they are all handled.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from helpers import dead_letter_count, read_topic, running
from readside_support import Events, new_world, projector, wait_caught_up
from test_evaluation_ranking import open_call, scores
from test_personal_data import phone, submit

from konkurs.commission.v1 import events_pb2 as commission_pb2
from konkurs.envelope.v1 import envelope_pb2
from konkurs.intake.v1 import call_pb2, events_pb2
from konkurs_ops import stack
from konkurs_platform.deadletter import HEADER_CONSUMER, HEADER_REASON
from konkurs_platform.envelope import HEADER_EVENT_TYPE, Actor, Envelope, encode_envelope
from konkurs_platform.protobuf import to_timestamp
from konkurs_platform.reaction import react
from konkurs_platform.settings import Settings
from konkurs_privacy.adapters.intake_events import APPLICATION_AMENDED, APPLICATION_SUBMITTED
from konkurs_privacy.adapters.postgres import PrivacyBook
from konkurs_privacy.consumers import intake_events as privacy_reaction
from konkurs_scoring.adapters.calls import PostgresCallBook
from konkurs_scoring.adapters.codec_s2 import REOPENED
from konkurs_scoring.adapters.commission_events import REEVALUATION_REQUESTED
from konkurs_scoring.adapters.intake_events import CALL_AMENDED, CALL_ANNOUNCED, CALL_CLOSED
from konkurs_scoring.app.ranking import evaluation_stream
from konkurs_scoring.bootstrap import commission_reaction
from konkurs_scoring.consumers import commission_events
from konkurs_scoring.consumers.intake_events import CONSUMER, IntakeCallEvents

pytestmark = pytest.mark.integration

CLOSES_AT = datetime(2030, 6, 1, tzinfo=UTC)
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class Record:
    """One record to publish: its value and headers as a hostile producer sends them."""

    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    # Whether a correct consumer must park it in the dead-letter topic.
    poison: bool = False


def definition(quota: int) -> call_pb2.CallDefinition:
    return call_pb2.CallDefinition(
        programme="clusters",
        closes_at=to_timestamp(CLOSES_AT),
        quota=quota,
        methodology=call_pb2.Methodology(
            criteria=[call_pb2.Criterion(id="cooperation", weight_percent=100, scale_max=5)],
            overall_threshold_percent=60,
        ),
    )


def envelope(call_id: str, version: int, event_type: str, payload: bytes) -> bytes:
    now = datetime.now(UTC)
    return encode_envelope(
        Envelope(
            event_id=uuid.uuid4(),
            event_type=event_type,
            stream_id=f"call-{call_id}",
            stream_version=version,
            occurred_at=now,
            recorded_at=now,
            actor=Actor(subject="operator-1", role="operator"),
            correlation_id=str(uuid.uuid4()),
            causation_id=None,
            schema_version=1,
            payload=payload,
        )
    )


def typed(event_type: str) -> list[tuple[str, bytes]]:
    return [(HEADER_EVENT_TYPE, event_type.encode())]


def good(call_id: str, version: int, message: object) -> Record:
    event_type = message.DESCRIPTOR.full_name  # type: ignore[attr-defined]
    payload = message.SerializeToString()  # type: ignore[attr-defined]
    return Record(envelope(call_id, version, event_type, payload), typed(event_type))


def with_time_out_of_range(raw: bytes) -> bytes:
    message = envelope_pb2.Envelope.FromString(raw)
    message.occurred_at.seconds = 2**62
    return message.SerializeToString()


def with_version(raw: bytes, version: int) -> bytes:
    message = envelope_pb2.Envelope.FromString(raw)
    message.stream_version = version
    return message.SerializeToString()


async def publish(
    settings: Settings, records: Sequence[Record], key: bytes, producer: str = "intake"
) -> None:
    """Produce `records` in order to `producer`'s events topic, all on one key (one
    partition)."""
    kafka = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await kafka.start()
    try:
        for r in records:
            await kafka.send(settings.events_topic(producer), r.value, key=key, headers=r.headers)
        await kafka.flush()
    finally:
        await kafka.stop()


async def dead_letters(settings: Settings, consumer: str, count: int) -> list[dict[str, bytes]]:
    """The headers of the dead letters `consumer` parked in `settings`' world, which must
    hold exactly `count`."""
    records = await read_topic(settings, settings.deadletter_topic, until=count, timeout=10)
    assert await dead_letter_count(settings) == count
    headers = [dict(r.headers) for r in records]
    return [h for h in headers if h.get(HEADER_CONSUMER) == consumer.encode()]


async def world(settings: Settings) -> Settings:
    """A topic prefix no other test uses, its topics created."""
    s = replace(settings, topic_prefix=f"{settings.topic_prefix}.ch{uuid.uuid4().hex[:8]}")
    stack.create_topics(s)
    return s


# --- scoring's reaction ------------------------------------------------------------------


@dataclass(frozen=True)
class _Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class _Event:
    """What `react` reads of a faust event."""

    value: bytes
    headers: dict[str, bytes]
    message: _Message


async def records_of(settings: Settings, producer: str, count: int) -> AsyncIterator[_Event]:
    """The first `count` records of `producer`'s events topic, as faust events; then the
    stream ends."""
    consumer = AIOKafkaConsumer(
        settings.events_topic(producer),
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen = 0
    try:
        async with asyncio.timeout(60):
            while seen < count:
                for part in (await consumer.getmany(timeout_ms=500)).values():
                    for r in part:
                        seen += 1
                        message = _Message(r.topic, r.partition, r.offset, r.key, r.value)
                        yield _Event(r.value, dict(r.headers), message)
    finally:
        await consumer.stop()


async def run_reaction(settings: Settings, pool: asyncpg.Pool, records: Sequence[Record]) -> None:
    await publish(settings, records, key=b"call")

    await react(
        records_of(settings, "intake", len(records)),  # type: ignore[arg-type]
        settings=settings,
        pool=pool,
        schema="scoring",
        consumer=CONSUMER,
        effects=IntakeCallEvents(PostgresCallBook("scoring")).effects(),
    )


async def known(pool: asyncpg.Pool, call_id: str) -> tuple[int, int, datetime | None] | None:
    async with pool.acquire() as conn:
        found = await PostgresCallBook("scoring").find(conn, call_id)
    if found is None:
        return None
    return found.terms.version, found.terms.quota, found.closed_at


async def test_scorings_reaction_parks_each_hostile_record_and_applies_the_good_ones_around_it(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    s = await world(settings)
    call_id = f"hostile-{uuid.uuid4().hex[:8]}"
    announced = good(call_id, 1, events_pb2.CallAnnounced(call_id=call_id, call=definition(6)))
    amended = events_pb2.CallAmended(call_id=call_id, revision=2, call=definition(8))
    records = [
        announced,
        Record(b"\xff\x00 not an envelope", typed(CALL_ANNOUNCED), poison=True),
        Record(envelope(call_id, 2, CALL_AMENDED, b"\xff\xff\xff\xff"), typed(CALL_AMENDED), True),
        Record(with_version(announced.value, 0), typed(CALL_ANNOUNCED), poison=True),
        Record(with_version(announced.value, -1), typed(CALL_ANNOUNCED), poison=True),
        Record(with_time_out_of_range(announced.value), typed(CALL_ANNOUNCED), poison=True),
        # A type no effect names is skipped unread, however long: other types are intake's
        # application events, which scoring does not keep.
        Record(announced.value, typed("x" * 100_000)),
        good(call_id, 2, amended),
        good(call_id, 3, events_pb2.CallClosed(call_id=call_id, closed_at=to_timestamp(CLOSES_AT))),
    ]

    await asyncio.wait_for(run_reaction(s, pool, records), 120)

    assert await known(pool, call_id) == (2, 8, CLOSES_AT)
    parked = await dead_letters(s, CONSUMER, sum(r.poison for r in records))
    assert len(parked) == sum(r.poison for r in records)
    assert all(p[HEADER_REASON] for p in parked)


async def test_an_absurd_stream_version_is_kept_as_published_without_stopping_the_reaction(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    s = await world(settings)
    call_id = f"hostile-{uuid.uuid4().hex[:8]}"
    other = f"hostile-{uuid.uuid4().hex[:8]}"
    records = [
        good(call_id, INT64_MAX, events_pb2.CallAnnounced(call_id=call_id, call=definition(6))),
        good(other, 1, events_pb2.CallAnnounced(call_id=other, call=definition(7))),
    ]

    await asyncio.wait_for(run_reaction(s, pool, records), 120)

    assert await known(pool, call_id) == (INT64_MAX, 6, None)
    assert await known(pool, other) == (1, 7, None)
    assert await dead_letters(s, CONSUMER, 0) == []


async def test_an_event_whose_header_names_another_type_is_parked_not_applied_as_that_type(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    s = await world(settings)
    call_id = f"hostile-{uuid.uuid4().hex[:8]}"
    announced = good(call_id, 1, events_pb2.CallAnnounced(call_id=call_id, call=definition(6)))
    # A later CallAnnounced envelope under a CallClosed header: read as a CallClosed, its
    # definition would close the call at 1970-01-01.
    payload = events_pb2.CallAnnounced(call_id=call_id, call=definition(6)).SerializeToString()
    mislabelled = Record(envelope(call_id, 2, CALL_ANNOUNCED, payload), typed(CALL_CLOSED), True)
    records = [announced, mislabelled]

    await asyncio.wait_for(run_reaction(s, pool, records), 120)

    assert await known(pool, call_id) == (1, 6, None)
    assert len(await dead_letters(s, CONSUMER, 1)) == 1


async def test_a_call_event_without_a_type_header_is_parked_not_silently_skipped(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    s = await world(settings)
    call_id = f"hostile-{uuid.uuid4().hex[:8]}"
    announced = good(call_id, 1, events_pb2.CallAnnounced(call_id=call_id, call=definition(6)))

    await asyncio.wait_for(run_reaction(s, pool, [replace(announced, headers=[])]), 120)

    # Either applied (routed by the envelope) or parked: never lost without a trace.
    applied = await known(pool, call_id) == (1, 6, None)
    assert applied or len(await dead_letters(s, CONSUMER, 1)) == 1


# --- scoring's reaction to the commission -------------------------------------------------

# When the commission decided (the request's time) and when scoring's worker reopens.
DECIDED = datetime(2017, 8, 18, 9, tzinfo=UTC)
REOPENED_AT = datetime(2017, 8, 18, 9, 5, tzinfo=UTC)
APPEAL_REASON = "Appeal upheld: the experts did not read the partners' letters of intent."


def reevaluation(call_id: str, application_id: str, appeal_id: str) -> Record:
    """A ReevaluationRequested as the commission publishes it."""
    message = commission_pb2.ReevaluationRequested(
        call_id=call_id,
        application_id=application_id,
        appeal_id=appeal_id,
        reason=APPEAL_REASON,
        decided_at=to_timestamp(DECIDED),
    )
    return good(call_id, 1, message)


async def test_scorings_commission_reaction_parks_each_hostile_record_and_reopens_around_it(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    s = await world(settings)
    call = await open_call(pool, 2)
    a, b = call.applications
    for application_id in (a, b):
        for expert in ("exp-1", "exp-2"):
            await call.submit(application_id, expert, scores(3, 3))
    first = reevaluation(call.call_id, a, "appeal-1")
    request = commission_pb2.ReevaluationRequested
    garbage = envelope(call.call_id, 1, REEVALUATION_REQUESTED, b"\xff\xff\xff\xff")
    records = [
        first,
        Record(b"\xff\x00 not an envelope", typed(REEVALUATION_REQUESTED), poison=True),
        Record(garbage, typed(REEVALUATION_REQUESTED), poison=True),
        Record(with_version(first.value, 0), typed(REEVALUATION_REQUESTED), poison=True),
        Record(with_version(first.value, -1), typed(REEVALUATION_REQUESTED), poison=True),
        Record(with_time_out_of_range(first.value), typed(REEVALUATION_REQUESTED), poison=True),
        # Another commission event labelled as a request: never applied as one.
        Record(
            envelope(call.call_id, 2, "konkurs.commission.v1.AppealFiled", b""),
            typed(REEVALUATION_REQUESTED),
            poison=True,
        ),
        # Requests scoring must refuse: empty, a NUL in the application id, an id of 100 KB.
        replace(good(call.call_id, 3, request()), poison=True),
        replace(reevaluation(call.call_id, a + "\x00", "appeal-3"), poison=True),
        replace(reevaluation(call.call_id, "x" * 100_000, "appeal-4"), poison=True),
        # Types no effect names are skipped unread, however long.
        Record(first.value, typed("x" * 100_000)),
        reevaluation(call.call_id, b, "appeal-2"),
    ]

    await publish(s, records, key=call.call_id.encode(), producer="commission")
    reaction = commission_reaction(call.svc.store, pool, lambda: REOPENED_AT)
    await asyncio.wait_for(
        react(
            records_of(s, "commission", len(records)),  # type: ignore[arg-type]
            settings=s,
            pool=pool,
            schema="scoring",
            consumer=commission_events.CONSUMER,
            effects=reaction.effects(),
        ),
        120,
    )

    async with pool.acquire() as conn:
        reopened = [
            await conn.fetchval(
                "SELECT count(*) FROM scoring.events WHERE event_type = $1 AND stream_id = $2",
                REOPENED,
                evaluation_stream(x),
            )
            for x in (a, b)
        ]
    assert reopened == [1, 1], "the good requests on both sides of the poison are applied"
    poison = sum(r.poison for r in records)
    parked = await dead_letters(s, commission_events.CONSUMER, poison)
    assert len(parked) == poison and all(p[HEADER_REASON] for p in parked)


# --- privacy's reaction to intake ---------------------------------------------------------


async def test_privacys_reaction_parks_each_hostile_record_and_applies_the_good_ones_around_it(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    s = await world(settings)
    call_id = f"hostile-{uuid.uuid4().hex[:8]}"
    # Applications appended as intake appends them: their contacts sealed, with keys.
    first, second, third = [await submit(pool, settings, phone()) for _ in range(3)]
    submitted = [Record(encode_envelope(e), typed(APPLICATION_SUBMITTED)) for e in (first, second)]
    records = [
        good(call_id, 1, events_pb2.CallAnnounced(call_id=call_id, call=definition(6))),
        submitted[0],
        Record(b"\xff\x00 not an envelope", typed(APPLICATION_SUBMITTED), poison=True),
        Record(
            envelope(call_id, 2, APPLICATION_SUBMITTED, b"\xff\xff\xff\xff"),
            typed(APPLICATION_SUBMITTED),
            poison=True,
        ),
        Record(
            envelope(call_id, 2, APPLICATION_AMENDED, b"\xff\xff\xff\xff"),
            typed(APPLICATION_AMENDED),
            poison=True,
        ),
        Record(envelope(call_id, 2, CALL_CLOSED, b"\xff\xff"), typed(CALL_CLOSED), poison=True),
        Record(with_version(submitted[0].value, 0), typed(APPLICATION_SUBMITTED), poison=True),
        Record(with_version(submitted[0].value, -1), typed(APPLICATION_SUBMITTED), poison=True),
        Record(
            with_time_out_of_range(submitted[0].value), typed(APPLICATION_SUBMITTED), poison=True
        ),
        # A submission labelled as the call's closing: never read as one.
        Record(submitted[0].value, typed(CALL_CLOSED), poison=True),
        Record(submitted[0].value, typed("x" * 100_000)),
        # Without a header the envelope routes it; an absurd version is kept as published.
        replace(submitted[1], headers=[]),
        Record(with_version(encode_envelope(third), INT64_MAX), typed(APPLICATION_SUBMITTED)),
        good(call_id, 2, events_pb2.CallClosed(call_id=call_id, closed_at=to_timestamp(CLOSES_AT))),
    ]

    await publish(s, records, key=call_id.encode())
    await asyncio.wait_for(
        react(
            records_of(s, "intake", len(records)),  # type: ignore[arg-type]
            settings=s,
            pool=pool,
            schema="privacy",
            consumer=privacy_reaction.CONSUMER,
            effects=privacy_reaction.IntakeEvents(PrivacyBook("privacy")).effects(),
        ),
        120,
    )

    async with pool.acquire() as conn:
        seen = await conn.fetch(
            "SELECT stream_id, stream_version FROM privacy.subjects WHERE stream_id = ANY($1)",
            [e.stream_id for e in (first, second, third)],
        )
        programme = await conn.fetchval(
            "SELECT programme FROM privacy.calls WHERE call_id = $1", call_id
        )
        timers = await conn.fetch(
            "SELECT purpose FROM privacy.timers WHERE stream_id = $1", f"call-{call_id}"
        )
    assert sorted((r["stream_id"], r["stream_version"]) for r in seen) == sorted(
        [(first.stream_id, 1), (second.stream_id, 1), (third.stream_id, INT64_MAX)]
    )
    assert programme == "clusters"
    assert [t["purpose"] for t in timers] == ["retention:contact"]
    poison = sum(r.poison for r in records)
    parked = await dead_letters(s, privacy_reaction.CONSUMER, poison)
    assert len(parked) == poison and all(p[HEADER_REASON] for p in parked)


# --- the readside projector ---------------------------------------------------------------


async def test_the_projector_parks_each_hostile_record_and_applies_the_good_ones_around_it(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    s, schema = await new_world(settings, pool)
    events = Events()
    call_id = f"hostile-{uuid.uuid4().hex[:8]}"
    events.announce(call_id)
    kept = events.submit(call_id, 1, "KZ-75", coordinator="000000000001")
    events.withdraw(kept, "merged")
    announce, submit, withdraw = (raw for _, raw in events.published)
    type_of = [CALL_ANNOUNCED, "konkurs.intake.v1.ApplicationSubmitted"]
    garbage = Envelope(
        event_id=uuid.uuid4(),
        event_type=type_of[1],
        stream_id=f"application-{uuid.uuid4()}",
        stream_version=1,
        occurred_at=events.clock,
        recorded_at=events.clock,
        actor=Actor(subject="x", role="applicant"),
        correlation_id="c",
        causation_id=None,
        schema_version=2,
        payload=b"\xff\xff\xff\xff",
    )
    records = [
        Record(announce, typed(type_of[0])),
        Record(b"\xff\x00 not an envelope", typed(type_of[1]), poison=True),
        Record(encode_envelope(garbage), typed(type_of[1]), poison=True),
        Record(with_version(submit, 0), typed(type_of[1]), poison=True),
        Record(with_version(submit, -1), typed(type_of[1]), poison=True),
        # The projector routes by the envelope: wrong, missing and huge headers change nothing.
        Record(submit, typed("x" * 100_000)),
        Record(withdraw, []),
    ]
    await publish(s, records, key=b"one-partition")

    live = projector(s, pool, schema)
    async with running(live):
        await wait_caught_up(s, pool, schema, timeout=60)

    assert live.stats.dead_lettered == sum(r.poison for r in records)
    parked = await dead_letters(s, "projection.readside", live.stats.dead_lettered)
    assert len(parked) == live.stats.dead_lettered and all(p[HEADER_REASON] for p in parked)
    async with pool.acquire() as conn:
        calls = await conn.fetchval(f"SELECT count(*) FROM {schema}.calls")
        status = await conn.fetchval(
            f"SELECT status FROM {schema}.applications WHERE application_id = $1", kept
        )
    assert (calls, status) == (1, "withdrawn")


async def test_the_projector_parks_an_envelope_with_a_time_out_of_range_instead_of_looping(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    s, schema = await new_world(settings, pool)
    events = Events()
    call_id = f"hostile-{uuid.uuid4().hex[:8]}"
    events.announce(call_id)
    kept = events.submit(call_id, 1, "KZ-75", coordinator="000000000001")
    announce, submit = (raw for _, raw in events.published)
    records = [
        Record(announce),
        Record(with_time_out_of_range(announce), poison=True),
        Record(submit),
    ]
    await publish(s, records, key=b"one-partition")

    live = projector(s, pool, schema)
    async with running(live):
        await wait_caught_up(s, pool, schema, timeout=15)

    assert live.stats.dead_lettered == 1
    async with pool.acquire() as conn:
        found = await conn.fetchval(
            f"SELECT count(*) FROM {schema}.applications WHERE application_id = $1", kept
        )
    assert found == 1


async def test_a_connection_broken_mid_operation_is_waited_out_not_dead_lettered(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    """Found by the chaos run: a PostgreSQL killed under the worker surfaces as asyncpg's
    InternalClientError ("cannot switch to state ..."), which once parked a good CallClosed
    and left scoring's copy of the call open for ever."""
    s = await world(settings)
    call_id = f"broken-{uuid.uuid4().hex[:8]}"
    records = [
        good(call_id, 1, events_pb2.CallAnnounced(call_id=call_id, call=definition(6))),
        good(call_id, 2, events_pb2.CallClosed(call_id=call_id, closed_at=to_timestamp(CLOSES_AT))),
    ]
    await publish(s, records, key=b"call")
    effects = dict(IntakeCallEvents(PostgresCallBook("scoring")).effects())
    failures = iter([asyncpg.InternalClientError("cannot switch to state 15")])
    closing = effects[CALL_CLOSED]

    async def flaky(conn: Any, envelope: Any) -> None:
        if (failure := next(failures, None)) is not None:
            raise failure
        await closing(conn, envelope)

    effects[CALL_CLOSED] = flaky
    await react(
        records_of(s, "intake", len(records)),  # type: ignore[arg-type]
        settings=s,
        pool=pool,
        schema="scoring",
        consumer=CONSUMER,
        effects=effects,
    )
    assert await known(pool, call_id) == (1, 6, CLOSES_AT)
    assert await dead_letter_count(s) == 0
