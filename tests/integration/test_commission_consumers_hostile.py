"""Hostile records for the commission's reactions (issue 13), as test_consumers_hostile.py
sends them to scoring's and privacy's: undecodable envelopes, garbage payloads, mislabelled
types, versions 0 and -1 and times out of range on intake's and scoring's topics. Each is
parked with a reason, and the good events around them are applied: the call's quota, the
application, the ranking."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from konkurs.intake.v1 import call_pb2, events_pb2
from konkurs_commission.adapters.events_in import (
    APPLICATION_SUBMITTED,
    CALL_ANNOUNCED,
    RANKING_PUBLISHED,
)
from konkurs_commission.bootstrap import SCHEMA, build
from konkurs_commission.consumers.reactions import INTAKE_CONSUMER, SCORING_CONSUMER, Reactions
from konkurs_platform.deadletter import HEADER_REASON
from konkurs_platform.reaction import react
from konkurs_platform.settings import Settings
from tests.integration.test_commission_meeting import application, ranking
from tests.integration.test_consumers_hostile import (
    Record,
    dead_letters,
    envelope,
    good,
    publish,
    records_of,
    typed,
    with_time_out_of_range,
    with_version,
    world,
)

pytestmark = pytest.mark.integration


async def test_the_commissions_reactions_park_each_hostile_record_and_apply_the_good_ones(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    s = await world(settings)
    call_id = f"hostile-{uuid.uuid4().hex[:8]}"
    announced = good(
        call_id,
        1,
        events_pb2.CallAnnounced(
            call_id=call_id, call=call_pb2.CallDefinition(quota=6, time_zone="Asia/Almaty")
        ),
    )
    submitted = good(call_id, 1, application(call_id, 1))
    intake = [
        Record(b"\xff\x00 not an envelope", typed(CALL_ANNOUNCED), poison=True),
        Record(
            envelope(call_id, 1, CALL_ANNOUNCED, b"\xff\xff\xff\xff"), typed(CALL_ANNOUNCED), True
        ),
        # Labelled a submission, it is the call: never applied as what the label claims.
        Record(announced.value, typed(APPLICATION_SUBMITTED), poison=True),
        Record(with_version(announced.value, 0), typed(CALL_ANNOUNCED), poison=True),
        Record(with_version(submitted.value, -1), typed(APPLICATION_SUBMITTED), poison=True),
        Record(with_time_out_of_range(submitted.value), typed(APPLICATION_SUBMITTED), poison=True),
        announced,
        submitted,
    ]
    ranked = good(call_id, 1, ranking(call_id, 1, 1))
    scoring = [
        Record(
            envelope(call_id, 1, RANKING_PUBLISHED, b"\x0a\xff\xff"), typed(RANKING_PUBLISHED), True
        ),
        Record(with_version(ranked.value, 0), typed(RANKING_PUBLISHED), poison=True),
        ranked,
    ]
    reactions = Reactions(build(pool, s))
    for producer, records, consumer, effects in (
        ("intake", intake, INTAKE_CONSUMER, reactions.intake_effects()),
        ("scoring", scoring, SCORING_CONSUMER, reactions.scoring_effects()),
    ):
        await publish(s, records, key=b"call", producer=producer)
        await asyncio.wait_for(
            react(
                records_of(s, producer, len(records)),  # type: ignore[arg-type]
                settings=s,
                pool=pool,
                schema=SCHEMA,
                consumer=consumer,
                effects=effects,
            ),
            120,
        )
    async with pool.acquire() as conn:
        call = await reactions.book.call(conn, call_id)
        known = await reactions.book.application(conn, f"{call_id}-app-1")
        kept = await reactions.book.ranking(conn, call_id)
    assert call is not None and (call.quota, call.time_zone) == (6, "Asia/Almaty")
    assert known is not None and known.cluster_name == "Cluster 1"
    assert kept is not None and [e.application_id for e in kept.entries] == [f"{call_id}-app-1"]
    poison = sum(r.poison for r in intake + scoring)
    parked = await dead_letters(s, INTAKE_CONSUMER, poison)
    parked += await dead_letters(s, SCORING_CONSUMER, poison)
    assert len(parked) == poison
    assert all(p[HEADER_REASON] for p in parked)
