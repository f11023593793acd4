"""Plan tracking's reaction to the commission's events fed malformed and hostile records on
the real broker (issue 13, as test_consumers_hostile.py does the other reactions): each
record that cannot open a plan is parked in the dead-letter topic with its reason, the
reaction goes on, and the good ClusterSelected events around them open their plans, once
even when one is published twice."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

import asyncpg
import pytest
from test_consumers_hostile import (
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

from konkurs.commission.v1 import events_pb2
from konkurs_plans.adapters.commission_events import CLUSTER_SELECTED
from konkurs_plans.bootstrap import SCHEMA, commission_reaction, plans_of
from konkurs_plans.consumers.commission_events import CONSUMER
from konkurs_platform.deadletter import HEADER_REASON
from konkurs_platform.reaction import react
from konkurs_platform.settings import Settings

pytestmark = pytest.mark.integration

CALL_ID = "kz-clusters-2017"


def selected(application_id: str, coordinator_bin: str = "170440000017") -> Record:
    """A ClusterSelected as the commission publishes it."""
    message = events_pb2.ClusterSelected(
        call_id=CALL_ID,
        application_id=application_id,
        registration_number="KZ-2017-001",
        cluster_name="Кластер (иллюстративный)",
        region_code="KZ-75",
        coordinator_bin=coordinator_bin,
        rank=1,
    )
    return good(CALL_ID, 1, message)


async def test_the_reaction_parks_each_hostile_selection_and_opens_the_good_plans_once(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    s = await world(settings)
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    first = selected(a)
    records = [
        first,
        Record(b"\xff\x00 not an envelope", typed(CLUSTER_SELECTED), poison=True),
        Record(
            envelope(CALL_ID, 1, CLUSTER_SELECTED, b"\xff\xff\xff"),
            typed(CLUSTER_SELECTED),
            poison=True,
        ),
        Record(with_version(first.value, 0), typed(CLUSTER_SELECTED), poison=True),
        Record(with_version(first.value, -1), typed(CLUSTER_SELECTED), poison=True),
        Record(with_time_out_of_range(first.value), typed(CLUSTER_SELECTED), poison=True),
        # Another commission event labelled as a selection: never applied as one.
        Record(
            envelope(CALL_ID, 2, "konkurs.commission.v1.ApplicationDeclined", b""),
            typed(CLUSTER_SELECTED),
            poison=True,
        ),
        # Selections no plan can be opened from: empty, a NUL in the id, an id of 100 KB, a
        # coordinator that is no BIN.
        replace(good(CALL_ID, 3, events_pb2.ClusterSelected()), poison=True),
        replace(selected(a + "\x00"), poison=True),
        replace(selected("x" * 100_000), poison=True),
        replace(selected(str(uuid.uuid4()), "not-a-bin"), poison=True),
        # Types no effect names are skipped unread, however long; a redelivery is skipped.
        Record(first.value, typed("x" * 100_000)),
        first,
        selected(b),
    ]
    await publish(s, records, key=CALL_ID.encode(), producer="commission")
    await asyncio.wait_for(
        react(
            records_of(s, "commission", len(records)),  # type: ignore[arg-type]
            settings=s,
            pool=pool,
            schema=SCHEMA,
            consumer=CONSUMER,
            effects=commission_reaction(plans_of(pool, s)).effects(),
        ),
        120,
    )
    async with pool.acquire() as conn:
        opened = await conn.fetch(
            f"SELECT stream_id, count(*) AS n FROM {SCHEMA}.events "
            "WHERE stream_id = ANY($1::text[]) GROUP BY stream_id ORDER BY stream_id",
            [f"plan-{a}", f"plan-{b}"],
        )
    assert sorted((r["stream_id"], r["n"]) for r in opened) == sorted(
        [(f"plan-{a}", 1), (f"plan-{b}", 1)]
    ), "the good selections on both sides of the poison open one plan each"
    poison = sum(r.poison for r in records)
    parked = await dead_letters(s, CONSUMER, poison)
    assert len(parked) == poison and all(p[HEADER_REASON] for p in parked)
