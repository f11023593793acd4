"""The 2017 pilot clusters' development plans as demo data (after the commission's demo).

Plan tracking opens a plan when the commission's ClusterSelected reaches its worker, so the
demo first waits, with a deadline, until the worker has opened the six plans of the 2017
call. Then, for each plan in registration order and at its historical times (2017-2019, in
Almaty), through the same handlers the API calls:

- the coordinator drafts the plan (eight milestones across the four phases; indicators for
  members, joint projects, exports, jobs and, improving downwards, the share of imported
  inputs; three support measures) and submits it; the operator approves it (the second plan
  is first returned with comments, and approved when drafted again);
- every quarter from 2017-Q3 to 2019-Q4 the coordinator reports (actual values with the
  SHA-256 of their evidence, the milestones due in the quarter, the disbursements made) and
  the operator accepts the report (one report of the first plan is returned first, and its
  2019-Q3 report is returned and awaits its coordinator: the README's walk through a
  report submits it again);
- the first three plans keep to their targets (on track); the fourth misses the 2019 export
  mission, which falls overdue at midnight after its due date; the fifth is amended in
  July 2018 with its reason (the joint-projects subsidy moves to 2019 and the export targets
  are lowered), and reports against version 2 after that; the sixth reaches about half of
  its targets' way (at risk).

All values are illustrative. Each plan's history is loaded in one transaction, and only onto
a plan that has nothing but its opening: loading again changes nothing, and a load
interrupted half-way completes the plans it had not reached. Every command is `imported`
and goes through the historical handler, which sets no timer: the 2017-2019 due dates
passed long ago, and what fell overdue then is recorded by its own command at its time.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import time
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import asyncpg

from konkurs_plans.app.plans import Plans
from konkurs_plans.bootstrap import plans_of
from konkurs_plans.domain.plans import (
    AcceptReport,
    ApprovePlan,
    Direction,
    Disbursement,
    DisbursementMade,
    DraftPlan,
    Indicator,
    IndicatorActual,
    MarkMilestoneOverdue,
    Milestone,
    MilestoneStatus,
    MilestoneTransition,
    Plan,
    PlanCommand,
    PlanContent,
    ReturnPlan,
    ReturnReport,
    SubmitPlan,
    SubmitReport,
    SupportMeasure,
    Target,
    midnight_after,
)
from konkurs_plans.domain.programme import Period
from konkurs_plans.programmes import KZ_CLUSTERS_2017
from konkurs_platform.db import create_pool
from konkurs_platform.envelope import Actor
from konkurs_platform.eventstore import Metadata
from konkurs_platform.settings import Settings

CALL_ID = "kz-clusters-2017"
# The 2017 figure (reference/competition-2017.md): six pilot clusters selected.
PLANS = 6
# How long to wait for the worker to open them.
WAIT_SECONDS = 300.0
ALMATY = ZoneInfo(KZ_CLUSTERS_2017.time_zone)
# The first drafts, unless the selection came later.
FIRST_DRAFT = date(2017, 8, 7)

OPERATOR = Actor(subject="demo-loader", role="operator")
ON_TRACK, OVERDUE, AMENDED, AT_RISK = range(3), 3, 4, 5
RETURNED_PLAN, RETURNED_REPORT = 1, (0, "2018-Q2")
MISSED = "export-mission"
AMENDED_ON = date(2018, 7, 20)
AMENDMENT_REASON = (
    "The regional co-financing of the joint projects moved to the 2019 local budget, so the "
    "subsidy's second half is paid in 2019 and the export targets from 2018-Q3 are lowered "
    "by a fifth (illustrative)."
)
PLAN_COMMENTS = (
    "Give each milestone an owning organisation and add the share of imported inputs as an "
    "indicator (illustrative)."
)
REPORT_COMMENTS = "Attach the signed agreements of the joint projects (illustrative)."
# A report of the first plan returned in October 2019 and still awaiting its coordinator (a
# quarter without a milestone due: the plan stays on track).
AWAITING = (0, "2019-Q3")
AWAITING_COMMENTS = "Attach the minutes of the final review (illustrative)."

# (milestone id, title, phase, due date)
MILESTONES = (
    ("stakeholder-map", "Карта стейкхолдеров кластера", "diagnostics", date(2017, 9, 15)),
    ("diagnostics-report", "Отчёт о диагностике кластера", "diagnostics", date(2017, 9, 30)),
    ("cluster-organisation", "Создание организации кластера", "organisation", date(2017, 11, 30)),
    ("strategy", "Стратегия развития кластера утверждена", "organisation", date(2017, 12, 31)),
    ("support-measures", "Меры господдержки согласованы", "support-design", date(2018, 3, 31)),
    ("joint-projects", "Первые совместные проекты запущены", "implementation", date(2018, 9, 30)),
    (MISSED, "Экспортная миссия участников", "implementation", date(2019, 6, 30)),
    ("final-review", "Итоговый обзор реализации плана", "implementation", date(2019, 12, 31)),
)
# (code, name, unit, direction, baseline, final target, decimals)
INDICATORS = (
    ("members", "Участники кластера", "organisations", Direction.INCREASING, 12, 30, 0),
    ("joint-projects", "Совместные проекты", "projects", Direction.INCREASING, 0, 8, 0),
    ("exports", "Экспорт участников", "KZT million", Direction.INCREASING, 850, 1400, 1),
    ("jobs", "Новые рабочие места", "jobs", Direction.INCREASING, 0, 240, 0),
    ("import-share", "Доля импортного сырья", "percent", Direction.DECREASING, 62, 48, 1),
)

PLACES = {code: places for code, *_, places in INDICATORS}


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=ALMATY)


def _round(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _content(n: int, coordinator_bin: str, *, amended: bool = False) -> PlanContent:
    """The plan of the n-th cluster (0-based): its figures scale with n; `amended` is the
    fifth plan's version 2."""
    periods = KZ_CLUSTERS_2017.periods
    indicators = []
    for code, name, unit, direction, baseline, final, places in INDICATORS:
        base = Decimal(baseline) * (1 + Decimal(n) / 10)
        goal = Decimal(final) * (1 + Decimal(n) / 10)
        targets = []
        for k, period in enumerate(periods, start=1):
            value = base + (goal - base) * k / len(periods)
            if amended and code == "exports" and period.starts_on >= date(2018, 7, 1):
                value = base + (value - base) * Decimal("0.8")
            targets.append(Target(period.period_id, _round(value, places)))
        indicators.append(
            Indicator(code, name, unit, direction, 2016, _round(base, places), tuple(targets))
        )
    cofinancing = tuple(
        Disbursement(p.ends_on - timedelta(days=20), Decimal("3750000.00"))
        for p in periods
        if p.starts_on >= date(2018, 1, 1)
    )
    subsidy_dates = [date(2018, 6, 15), date(2018, 12, 14), date(2019, 6, 14), date(2019, 12, 13)]
    if amended:
        subsidy_dates[1] = date(2019, 3, 15)
    subsidy = tuple(Disbursement(d, Decimal("12500000.00")) for d in sorted(subsidy_dates))
    return PlanContent(
        milestones=tuple(
            Milestone(milestone_id, title, phase, coordinator_bin, due)
            for milestone_id, title, phase, due in MILESTONES
        ),
        indicators=tuple(indicators),
        support_measures=(
            SupportMeasure(
                "cofinancing",
                "co-financing of a cluster organisation",
                Decimal("30000000.00"),
                "republican budget",
                cofinancing,
            ),
            SupportMeasure(
                "joint-projects-subsidy",
                "subsidy for joint projects",
                Decimal("50000000.00"),
                "local budget",
                subsidy,
            ),
            SupportMeasure(
                "training",
                "training",
                Decimal("5000000.00"),
                "development institution",
                (
                    Disbursement(date(2017, 12, 15), Decimal("2500000.00")),
                    Disbursement(date(2018, 6, 15), Decimal("2500000.00")),
                ),
            ),
        ),
        summary=(
            "План развития пилотного территориального кластера на 2017-2019 годы "
            "(иллюстративные данные)."
        ),
    )


def _evidence(*parts: str) -> str:
    """The SHA-256 of an illustrative evidence document."""
    return hashlib.sha256("/".join(("demo-evidence", *parts)).encode()).hexdigest()


def _report(
    n: int, plan_id: str, coordinator_bin: str, period: Period, content: PlanContent, at: datetime
) -> SubmitReport:
    """The n-th plan's report on `period`, by its scenario."""
    actuals = []
    for indicator in content.indicators:
        target = indicator.target_for(period.period_id)
        if target is None:
            continue
        places = PLACES[indicator.code]
        value = target
        if n == AT_RISK:
            value = _round(
                indicator.baseline_value + (target - indicator.baseline_value) / 2, places
            )
        elif n == 1:
            value = _round(target * Decimal("1.05"), places)
        actuals.append(
            IndicatorActual(
                indicator.code, value, (_evidence(plan_id, period.period_id, indicator.code),)
            )
        )
    transitions = []
    for m in content.milestones:
        if not period.starts_on <= m.due_on <= period.ends_on:
            continue
        if n == OVERDUE and m.milestone_id == MISSED:
            transitions.append(MilestoneTransition(m.milestone_id, MilestoneStatus.NOT_MET))
        else:
            met_on = m.due_on - timedelta(days=5)
            transitions.append(MilestoneTransition(m.milestone_id, MilestoneStatus.MET, met_on))
    share = Decimal("0.7") if n == AT_RISK else Decimal(1)
    disbursements = tuple(
        DisbursementMade(s.measure_id, Disbursement(d.on, _round(d.amount * share, 2)))
        for s in content.support_measures
        for d in s.planned
        if period.starts_on <= d.on <= period.ends_on
    )
    narrative = (
        f"Отчёт за {period.period_id}: работы идут по плану (иллюстративные данные)."
        if n != AT_RISK
        else f"Отчёт за {period.period_id}: участники вступают медленнее плана "
        "(иллюстративные данные)."
    )
    return SubmitReport(
        plan_id,
        coordinator_bin,
        period.period_id,
        tuple(actuals),
        tuple(transitions),
        disbursements,
        narrative,
        at,
    )


def script(n: int, plan: Plan, opened_at: datetime) -> list[tuple[datetime, Actor, PlanCommand]]:
    """The n-th plan's history: (when, who, what), in time order."""
    plan_id, bin_ = plan.plan_id, plan.opened.coordinator_bin
    coordinator = Actor(subject=f"demo-coordinator-{n + 1}", role="applicant", organisation=bin_)
    start = max(FIRST_DRAFT, opened_at.astimezone(ALMATY).date() + timedelta(days=3))
    content = _content(n, bin_)
    steps: list[tuple[datetime, Actor, PlanCommand]] = [
        (_at(start, 10), coordinator, DraftPlan(plan_id, bin_, content)),
        (_at(start + timedelta(days=7), 10), coordinator, SubmitPlan(plan_id, bin_)),
    ]
    approved_on = start + timedelta(days=14)
    if n == RETURNED_PLAN:
        steps += [
            (_at(start + timedelta(days=10), 15), OPERATOR, ReturnPlan(plan_id, PLAN_COMMENTS)),
            (_at(start + timedelta(days=12), 10), coordinator, DraftPlan(plan_id, bin_, content)),
            (_at(start + timedelta(days=13), 10), coordinator, SubmitPlan(plan_id, bin_)),
        ]
        approved_on += timedelta(days=7)
    approve_at = _at(approved_on, 15)
    steps.append((approve_at, OPERATOR, ApprovePlan(plan_id, approve_at)))
    amended = _content(n, bin_, amended=True)
    if n == AMENDED:
        steps += [
            (
                _at(AMENDED_ON, 10),
                coordinator,
                DraftPlan(plan_id, bin_, amended, AMENDMENT_REASON),
            ),
            (_at(AMENDED_ON + timedelta(days=3), 10), coordinator, SubmitPlan(plan_id, bin_)),
        ]
        amended_at = _at(AMENDED_ON + timedelta(days=7), 15)
        steps.append((amended_at, OPERATOR, ApprovePlan(plan_id, amended_at)))
    for period in plan.opened.periods:
        submitted_on = max(period.ends_on + timedelta(days=10), approved_on + timedelta(days=1))
        at = _at(submitted_on, 11)
        current = (
            amended if n == AMENDED and at > _at(AMENDED_ON + timedelta(days=7), 15) else content
        )
        report = _report(n, plan_id, bin_, period, current, at)
        steps.append((at, coordinator, report))
        accept_on = submitted_on + timedelta(days=5)
        if (n, period.period_id) == RETURNED_REPORT:
            steps += [
                (
                    _at(accept_on, 16),
                    OPERATOR,
                    ReturnReport(plan_id, period.period_id, REPORT_COMMENTS),
                ),
                (_at(accept_on + timedelta(days=3), 11), coordinator, replace(report, now=at)),
            ]
            accept_on += timedelta(days=7)
        if (n, period.period_id) == AWAITING:
            # Returned, and left for the coordinator to submit again (the README's walk).
            comments = AWAITING_COMMENTS
            steps.append(
                (_at(accept_on, 16), OPERATOR, ReturnReport(plan_id, period.period_id, comments))
            )
            continue
        steps.append((_at(accept_on, 16), OPERATOR, AcceptReport(plan_id, period.period_id)))
    if n == OVERDUE:
        due = next(d for m, _, _, d in MILESTONES if m == MISSED)
        late = midnight_after(due, KZ_CLUSTERS_2017.time_zone)
        steps.append(
            (
                late,
                Actor("system:plans-clock", "system"),
                MarkMilestoneOverdue(plan_id, MISSED, late),
            )
        )
    return sorted(steps, key=lambda step: step[0])


class _Clock:
    """The historical time of the command being recorded."""

    def __init__(self) -> None:
        self.now = datetime(2017, 1, 1, tzinfo=ALMATY)

    def __call__(self) -> datetime:
        return self.now


async def wait_for_plans(
    plans: Plans, deadline_seconds: float = WAIT_SECONDS
) -> list[dict[str, object]]:
    """Wait until the worker has opened the plans of the six 2017 clusters; their index rows
    by registration number. Says how far it got every few seconds and gives up at the
    deadline (is `konkurs worker plans` running, and the commission's demo loaded?)."""
    deadline = time.monotonic() + deadline_seconds
    said = 0.0
    while True:
        rows = await plans.listed(call_id=CALL_ID)
        if len(rows) >= PLANS:
            return rows
        now = time.monotonic()
        if now >= deadline:
            raise TimeoutError(
                f"plan tracking's worker opened {len(rows)} of {PLANS} plans of {CALL_ID} in "
                f"{deadline_seconds:.0f} s: is `konkurs worker plans` running?"
            )
        if now - said >= 5:
            print(
                f"waiting for plan tracking's worker: {len(rows)} of {PLANS} plans of "
                f"{CALL_ID} opened",
                file=sys.stderr,
            )
            said = now
        await asyncio.sleep(0.5)


async def load_plans(
    pool: asyncpg.Pool, settings: Settings, deadline_seconds: float = WAIT_SECONDS
) -> None:
    """The 2017 plans' histories, each in one transaction, onto plans that have none yet."""
    clock = _Clock()
    plans = plans_of(pool, settings, clock)
    rows = await wait_for_plans(plans, deadline_seconds)
    for n, row in enumerate(rows[:PLANS]):
        plan_id = str(row["plan_id"])
        async with pool.acquire() as conn, conn.transaction():
            loaded = await plans.load(plan_id, conn)
            if loaded.version != 1 or not isinstance(loaded.state, Plan):
                continue  # loaded before (or already worked on): never twice
            opened_at = loaded.history[0].occurred_at
            for at, actor, command in script(n, loaded.state, opened_at):
                clock.now = at
                meta = Metadata(actor, f"demo-load:plans:{CALL_ID}", imported=True)
                await plans.execute(conn, command, meta, historical=True)


async def load(settings: Settings) -> None:
    """Load the 2017 plans once (after the commission's demo; see the module's docstring)."""
    pool = await create_pool(settings, max_size=2)
    try:
        await load_plans(pool, settings)
    finally:
        await pool.close()
