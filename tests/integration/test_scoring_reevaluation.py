"""The commission's re-evaluation requests through scoring's reaction, on the real broker and
PostgreSQL: after a published ranking, an upheld appeal (ReevaluationRequested on the
commission's topic) reopens the named application's evaluation once, its panel owes new
evaluations on durable due timers, and the panel's new submissions publish ranking version 2
while version 1 stays. What scoring must refuse is parked with its reason.

The records are published to the commission's topic of a world of this test's own and read
back; `react` runs over them with scoring's effects, as the worker's agent does, so that the
test ends when they are all handled. A record delivered twice is a redelivery.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from google.protobuf.timestamp_pb2 import Timestamp
from helpers import read_topic

from konkurs.commission.v1 import events_pb2
from konkurs_platform.deadletter import HEADER_REASON
from konkurs_platform.envelope import HEADER_EVENT_TYPE, Actor, Envelope, encode_envelope
from konkurs_platform.reaction import react
from konkurs_platform.settings import Settings
from konkurs_scoring.adapters.codec_s1 import EXPERT_ASSIGNED
from konkurs_scoring.adapters.codec_s2 import REOPENED
from konkurs_scoring.app.assignment import EVALUATION_DUE, assignment_stream
from konkurs_scoring.app.ranking import evaluation_stream
from konkurs_scoring.bootstrap import SCHEMA, commission_reaction
from konkurs_scoring.consumers.commission_events import CONSUMER
from tests.integration.test_consumers_hostile import dead_letters, world
from tests.integration.test_evaluation_ranking import Call, open_call, scores

pytestmark = pytest.mark.integration

# When the commission decides and when scoring's worker reopens: the panel's new due times
# count from the reopening (the methodology's evaluation days, 14 when it is silent).
DECIDED = datetime(2017, 8, 18, 9, tzinfo=UTC)
REOPENED_AT = datetime(2017, 8, 18, 9, 5, tzinfo=UTC)
EVALUATION_DAYS = 14
REASON = "Appeal upheld: the experts did not read annex 3, the partners' letters of intent."


@dataclass(frozen=True)
class Delivered:
    """What `react` reads of a faust event: the record's value, headers and position."""

    value: bytes
    headers: dict[str, bytes]
    message: ConsumerRecord


def request(
    call_id: str, application_id: str, appeal_id: str, reason: str = REASON
) -> tuple[Envelope, bytes]:
    """A ReevaluationRequested as the commission publishes it, and its record's bytes."""
    decided_at = Timestamp()
    decided_at.FromDatetime(DECIDED)
    payload = events_pb2.ReevaluationRequested(
        call_id=call_id,
        application_id=application_id,
        appeal_id=appeal_id,
        reason=reason,
        decided_at=decided_at,
    )
    envelope = Envelope(
        event_id=uuid.uuid4(),
        event_type=payload.DESCRIPTOR.full_name,
        stream_id=f"selection-{call_id}",
        stream_version=1,
        occurred_at=DECIDED,
        recorded_at=DECIDED,
        actor=Actor(subject="secretary-1", role="commission_secretary"),
        correlation_id=f"appeal:{appeal_id}",
        causation_id=None,
        schema_version=1,
        payload=payload.SerializeToString(),
    )
    return envelope, encode_envelope(envelope)


async def deliver(
    settings: Settings, pool: asyncpg.Pool, call: Call, records: Sequence[bytes]
) -> None:
    """Publish `records` to the commission's topic and run scoring's reaction over them, in
    order; a record listed twice is delivered twice."""
    topic = settings.events_topic("commission")
    distinct = list(dict.fromkeys(records))
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        header = [
            (HEADER_EVENT_TYPE, events_pb2.ReevaluationRequested.DESCRIPTOR.full_name.encode())
        ]
        for value in distinct:
            await producer.send(topic, value, key=call.call_id.encode(), headers=header)
        await producer.flush()
    finally:
        await producer.stop()
    published = {r.value: r for r in await read_topic(settings, topic, until=len(distinct))}

    async def stream() -> AsyncIterator[Delivered]:
        for value in records:
            r = published[value]
            yield Delivered(r.value, dict(r.headers), r)

    reaction = commission_reaction(call.svc.store, pool, lambda: REOPENED_AT)
    await react(
        stream(),  # type: ignore[arg-type]
        settings=settings,
        pool=pool,
        schema=SCHEMA,
        consumer=CONSUMER,
        effects=reaction.effects(),
    )


async def ranked_call(pool: asyncpg.Pool) -> Call:
    """A call of two applications evaluated by their panels (a 60, b 52): ranking version 1
    is published."""
    call = await open_call(pool, 2)
    a, b = call.applications
    for application_id, s in ((a, scores(3, 3)), (b, scores(2, 2))):
        await call.submit(application_id, "exp-1", s)
        await call.submit(application_id, "exp-2", s)
    assert await call.published() == [1]
    return call


async def test_an_upheld_appeal_reopens_once_renews_the_due_times_and_ranks_again(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    s = await world(settings)
    call = await ranked_call(pool)
    a, b = call.applications
    first, first_record = request(call.call_id, b, "appeal-1")
    # The same appeal published again by the commission: another event, the same appeal.
    again, again_record = request(call.call_id, b, "appeal-1", "The same appeal, sent twice.")

    await asyncio.wait_for(deliver(s, pool, call, [first_record, first_record, again_record]), 120)

    async with pool.acquire() as conn:
        evaluation = await call.svc.store.load(evaluation_stream(b), conn=conn)
        panel = await call.svc.store.load(assignment_stream(b), conn=conn)
        rows = await conn.fetch(
            f"SELECT expert_id, due_at, declared, active, completed, overdue "
            f"FROM {SCHEMA}.assignments WHERE application_id = $1 ORDER BY expert_id",
            b,
        )
        timer = await conn.fetchrow(
            f"SELECT due_at, correlation_id FROM {SCHEMA}.timers "
            "WHERE stream_id = $1 AND purpose = $2 AND done_at IS NULL",
            assignment_stream(b),
            EVALUATION_DUE,
        )
        inbox = await conn.fetch(
            f"SELECT event_id FROM {SCHEMA}.inbox WHERE consumer = $1 AND event_id = ANY($2)",
            CONSUMER,
            [first.event_id, again.event_id],
        )
    # Reopened once, caused by the first request, with its reason and appeal.
    (reopened,) = [e for e in evaluation if e.event_type == REOPENED]
    assert reopened.causation_id == str(first.event_id)
    assert reopened.correlation_id == first.correlation_id
    assert reopened.actor.subject == f"system:{CONSUMER}"
    decoded = call.svc.handler.codec.decode(reopened)
    assert (decoded.round, decoded.reason, decoded.appeal_id) == (2, REASON, "appeal-1")
    # The panel owes round 2, due as at its first assignment, on a durable timer; the
    # experts' declarations stand.
    due = REOPENED_AT + timedelta(days=EVALUATION_DAYS)
    renewed = [e for e in panel if e.causation_id == str(first.event_id)]
    assert [e.event_type for e in renewed] == [EXPERT_ASSIGNED, EXPERT_ASSIGNED]
    assert [(r["expert_id"], r["due_at"]) for r in rows] == [("exp-1", due), ("exp-2", due)]
    assert all(
        r["declared"] == "no_conflict" and r["active"] and not r["completed"] and not r["overdue"]
        for r in rows
    )
    assert timer is not None and timer["due_at"] == due
    # Both events are in the inbox, once each.
    assert sorted(r["event_id"] for r in inbox) == sorted([first.event_id, again.event_id])
    assert await call.published() == [1]

    # The panel submits round 2: b now leads, in version 2; version 1 stays as it was.
    await call.submit(b, "exp-1", scores(5, 5))
    await call.submit(b, "exp-2", scores(5, 4.5))
    assert await call.published() == [1, 2]
    async with pool.acquire() as conn:
        version_1, version_2 = await call.svc.rankings.published(call.call_id, conn)
        pending = await conn.fetchval(
            f"SELECT count(*) FROM {SCHEMA}.timers WHERE stream_id = $1 AND done_at IS NULL",
            assignment_stream(b),
        )
    assert [e.application_id for e in version_1.content.entries] == [a, b]
    assert [(e.application_id, e.round) for e in version_2.content.entries] == [(b, 2), (a, 1)]
    # Every expert's round 2 is in: nothing is due any more.
    assert pending == 0


async def test_a_request_scoring_cannot_honour_is_parked_with_its_reason(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    s = await world(settings)
    call = await ranked_call(pool)
    a, b = call.applications
    unknown = str(uuid.uuid4())
    records = [
        request(call.call_id, unknown, "appeal-2")[1],
        request("another-call", a, "appeal-3")[1],
        # b reopened by one appeal: another one finds its evaluation not final.
        request(call.call_id, b, "appeal-4")[1],
        request(call.call_id, b, "appeal-5")[1],
    ]

    await asyncio.wait_for(deliver(s, pool, call, records), 120)

    parked = await dead_letters(s, CONSUMER, 3)
    reasons = [p[HEADER_REASON].decode() for p in parked]
    assert len(reasons) == 3
    assert f"Scoring knows no application {unknown}" in reasons[0]
    assert f"belongs to call {call.call_id}, not to another-call" in reasons[1]
    assert "evaluation_not_final" in reasons[2]
    async with pool.acquire() as conn:
        reopened = {
            x: await conn.fetchval(
                f"SELECT count(*) FROM {SCHEMA}.events WHERE event_type = $1 AND stream_id = $2",
                REOPENED,
                evaluation_stream(x),
            )
            for x in (unknown, a, b)
        }
    assert reopened == {unknown: 0, a: 0, b: 1}
    assert await call.published() == [1]
