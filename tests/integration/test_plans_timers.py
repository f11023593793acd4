"""Plan tracking's overdue timers on the real PostgreSQL: at the midnight ending a due date in
the call's time zone, an unmet milestone and an unsubmitted report are marked overdue, once,
also when the timer service is restarted (a new leader over the same timers); a milestone
met or cancelled and a report submitted in time are never marked."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal

import asyncpg
import pytest

from konkurs_plans.app.plans import PlanClock, Plans
from konkurs_plans.bootstrap import SCHEMA, plans_of
from konkurs_plans.domain.plans import (
    AcceptReport,
    ApprovePlan,
    Direction,
    DraftPlan,
    Indicator,
    Milestone,
    MilestoneStatus,
    MilestoneTransition,
    PlanCommand,
    PlanContent,
    SubmitPlan,
    SubmitReport,
)
from konkurs_platform.envelope import Actor
from konkurs_platform.eventstore import Metadata
from konkurs_platform.settings import Settings
from tests.integration.test_plans_api import COORDINATOR, Clock, cluster_selected, deliver

pytestmark = pytest.mark.integration

META = Metadata(Actor("tester", "operator"), "plans-timers-test")

CONTENT = PlanContent(
    milestones=(
        # Met in time (by the 2017-Q3 report, accepted).
        Milestone("met", "Diagnostics", "diagnostics", COORDINATOR, date(2017, 9, 30)),
        # Cancelled by the amendment.
        Milestone("cancelled", "Study tour", "diagnostics", COORDINATOR, date(2017, 9, 30)),
        # Never reported: overdue.
        Milestone("missed", "Stakeholder map", "diagnostics", COORDINATOR, date(2017, 9, 30)),
        Milestone("later", "Strategy", "organisation", COORDINATOR, date(2017, 12, 31)),
    ),
    indicators=(
        Indicator("members", "Members", "organisations", Direction.INCREASING, 2016, Decimal(10)),
    ),
)


async def run(plans: Plans, command: PlanCommand) -> None:
    async with plans.pool.acquire() as conn, conn.transaction():
        await plans.execute(conn, command, META)


async def overdue_events(pool: asyncpg.Pool, plan_id: str) -> Counter[str]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT event_type, payload FROM {SCHEMA}.events WHERE stream_id = $1 "
            "AND event_type LIKE '%Overdue'",
            f"plan-{plan_id}",
        )
    return Counter(r["event_type"].rsplit(".", 1)[1] for r in rows)


async def test_overdue_timers_mark_unmet_milestones_and_missing_reports_once_across_a_restart(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    clock = Clock(datetime(2017, 8, 1, 4, tzinfo=UTC))
    plans = plans_of(pool, settings, clock)
    plan_id = str(uuid.uuid4())
    await deliver(pool, settings, cluster_selected(plan_id))
    await run(plans, DraftPlan(plan_id, COORDINATOR, CONTENT))
    await run(plans, SubmitPlan(plan_id, COORDINATOR))
    await run(plans, ApprovePlan(plan_id, clock()))
    # 2017-09-30, 20:00 in Almaty: the 2017-Q3 report, in before the due dates pass.
    clock.now = datetime(2017, 9, 30, 14, tzinfo=UTC)
    await run(
        plans,
        SubmitReport(
            plan_id,
            COORDINATOR,
            "2017-Q3",
            (),
            (MilestoneTransition("met", MilestoneStatus.MET, date(2017, 9, 29)),),
            (),
            "Diagnostics done (illustrative).",
            clock(),
        ),
    )
    await run(plans, AcceptReport(plan_id, "2017-Q3"))
    amended = PlanContent(
        tuple(
            Milestone(
                m.milestone_id, m.title, m.phase_id, m.owner, m.due_on, MilestoneStatus.CANCELLED
            )
            if m.milestone_id == "cancelled"
            else m
            for m in CONTENT.milestones
        ),
        CONTENT.indicators,
    )
    await run(plans, DraftPlan(plan_id, COORDINATOR, amended, "The study tour is not funded."))
    await run(plans, SubmitPlan(plan_id, COORDINATOR))
    await run(plans, ApprovePlan(plan_id, clock()))

    first = PlanClock(settings.dsn, plans, clock)

    async def fire(clock_service: PlanClock) -> list[str]:
        # Every due timer, batch after batch; other tests' plans share the schema's timers,
        # so this plan's firings only.
        fired = []
        while batch := await clock_service.fire_due():
            fired += batch
        return sorted(t.purpose for t in fired if t.stream_id == f"plan-{plan_id}")

    # One minute before midnight in Almaty (UTC+6 in 2017): nothing is due yet.
    clock.now = datetime(2017, 9, 30, 17, 59, tzinfo=UTC)
    assert await fire(first) == []
    clock.now = datetime(2017, 9, 30, 18, 0, tzinfo=UTC)
    assert await fire(first) == ["milestone:missed"]
    assert await overdue_events(pool, plan_id) == {"MilestoneOverdue": 1}

    # A restart: a new timer service over the same timers finds nothing left to fire.
    restarted = PlanClock(settings.dsn, plans, clock)
    assert await fire(restarted) == []
    # The 2017-Q4 report is never sent: due by 2018-01-30, overdue at its midnight; the
    # strategy milestone is overdue too, and still only once each after a second restart.
    clock.now = datetime(2018, 1, 30, 18, 0, tzinfo=UTC)
    assert await fire(restarted) == ["milestone:later", "report:2017-Q4"]
    assert await fire(PlanClock(settings.dsn, plans, clock)) == []
    assert await overdue_events(pool, plan_id) == {"MilestoneOverdue": 2, "ReportOverdue": 1}
    state = (await plans.load(plan_id)).state
    assert state.overdue_milestones == {"missed", "later"}  # type: ignore[union-attr]
    assert state.overdue_reports == {"2017-Q4"}  # type: ignore[union-attr]
    async with pool.acquire() as conn:
        marks = await conn.fetch(
            f"SELECT purpose, done_at IS NOT NULL AS done FROM {SCHEMA}.timers "
            "WHERE stream_id = $1 ORDER BY purpose",
            f"plan-{plan_id}",
        )
    pending = {m["purpose"] for m in marks if not m["done"]}
    # The met and cancelled milestones and the 2017-Q3 report have no timer left at all.
    assert not {"milestone:met", "milestone:cancelled", "report:2017-Q3"} & {
        m["purpose"] for m in marks
    }
    assert pending == {f"report:{y}-Q{q}" for y in (2018, 2019) for q in (1, 2, 3, 4)}
