"""The 2017 pilot clusters' plans as demo data: six ClusterSelected events of the 2017 call,
imported as the commission's demo records them, through plan tracking's reaction; the demo
started before the worker opened them (it waits) and loaded twice, recorded once, at
historical times; approved plans reported on every quarter of 2017-2019, three on track,
one late with its overdue milestone, one amended with its reason, one at risk."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import asyncpg
import pytest

from konkurs_ops import stack
from konkurs_plans import demo
from konkurs_plans.bootstrap import SCHEMA, plans_of
from konkurs_plans.domain.plans import Plan
from konkurs_plans.domain.progress import progress
from konkurs_platform.db import create_pool, migrate_service
from konkurs_platform.settings import Settings
from konkurs_platform.spec import by_name, discover
from tests.integration.test_plans_api import cluster_selected, deliver

pytestmark = pytest.mark.integration

# The commission's publication of the 2017 decision (illustrative), and the six winners'
# coordinators.
SELECTED_AT = datetime(2017, 7, 20, 5, tzinfo=UTC)
COORDINATORS = [f"17044000{n:04d}" for n in range(11, 17)]


@pytest.fixture
async def own(servers: Settings) -> AsyncIterator[tuple[Settings, asyncpg.Pool]]:
    """A database of this test's own, plan tracking's schema migrated: the demo takes the
    2017 call's first six plans, and other tests open plans of that call too."""
    database = f"konkurs_test_plans_demo_{uuid.uuid4().hex[:8]}"
    s = replace(servers, database_url=stack.create_database(servers, database))
    await migrate_service(s, by_name(discover(), "plans"))
    pool = await create_pool(s, max_size=4)
    try:
        yield s, pool
    finally:
        await pool.close()
        stack.drop_database(servers, database)


@pytest.fixture
async def loaded(own: tuple[Settings, asyncpg.Pool]) -> AsyncIterator[list[str]]:
    """The demo started, the six selections delivered while it waits, the demo done; yields
    the plans' ids by registration number."""
    settings, pool = own
    ids = sorted(str(uuid.uuid4()) for _ in COORDINATORS)
    loading = asyncio.create_task(demo.load_plans(pool, settings, deadline_seconds=60))
    await deliver(
        pool,
        settings,
        *(
            cluster_selected(plan_id, bin_, at=SELECTED_AT, imported=True)
            for plan_id, bin_ in zip(ids, COORDINATORS, strict=True)
        ),
    )
    await asyncio.wait_for(loading, timeout=120)
    rows = await plans_of(pool, settings).listed(call_id=demo.CALL_ID)
    yield [str(r["plan_id"]) for r in rows]


async def test_the_2017_plans_are_approved_reported_and_recorded_once_at_historical_times(
    own: tuple[Settings, asyncpg.Pool], loaded: list[str]
) -> None:
    settings, pool = own
    async with pool.acquire() as conn:
        count = await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.events")
    await demo.load_plans(pool, settings, deadline_seconds=5)
    async with pool.acquire() as conn:
        assert await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.events") == count
        events = await conn.fetch(
            f"SELECT event_type, occurred_at, imported FROM {SCHEMA}.events "
            "WHERE correlation_id = $1",
            f"demo-load:plans:{demo.CALL_ID}",
        )
        timers = await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.timers")
    types = Counter(e["event_type"].rsplit(".", 1)[1] for e in events)
    periods = 10
    assert types["PlanApproved"] == demo.PLANS + 1  # the fifth plan's amendment
    assert types["PlanReturned"] == 1 and types["ReportReturned"] == 2
    # The first plan's 2019-Q3 report awaits its coordinator, returned.
    assert types["ReportAccepted"] == demo.PLANS * periods - 1
    assert types["ReportSubmitted"] == demo.PLANS * periods + 1
    assert types["MilestoneOverdue"] == 1 and "ReportOverdue" not in types
    assert all(e["imported"] for e in events)
    assert all(
        datetime(2017, 8, 1, tzinfo=UTC) <= e["occurred_at"] < datetime(2020, 3, 1, tzinfo=UTC)
        for e in events
    )
    # History sets no timers: its due dates passed long ago.
    assert timers == 0

    plans = plans_of(pool, settings)
    states = [(await plans.load(plan_id)).state for plan_id in loaded]
    assert all(isinstance(s, Plan) for s in states)
    after = date(2020, 2, 15)
    statuses = [progress(s, after).status for s in states if isinstance(s, Plan)]
    assert statuses == ["on_track"] * 3 + ["late", "on_track", "at_risk"]
    late = states[demo.OVERDUE]
    assert isinstance(late, Plan) and late.overdue_milestones == {demo.MISSED}
    amended = states[demo.AMENDED]
    assert isinstance(amended, Plan) and amended.approved is not None
    assert [(v.number, v.reason) for v in amended.versions] == [
        (1, ""),
        (2, demo.AMENDMENT_REASON),
    ]
    q4_2018 = amended.reports["2018-Q4"].submitted
    assert q4_2018.plan_version == 2
    # As it stood in June 2018, the fifth plan said version 1.
    as_of = await plans.as_of(amended.plan_id, datetime(2018, 6, 30, tzinfo=UTC))
    assert isinstance(as_of.state, Plan) and as_of.state.approved is not None
    assert as_of.state.approved.number == 1
    first = states[0]
    assert isinstance(first, Plan)
    assert first.reports["2019-Q3"].status == "returned"
    assert first.reports["2019-Q3"].comments == (demo.AWAITING_COMMENTS,)
    # Its 2019-Q3 disbursement is not counted until the report is accepted.
    budget = progress(first, after).budget
    assert budget.planned_total == Decimal("85000000.00")
    assert budget.disbursed_to_date == budget.planned_total - Decimal("3750000.00")
