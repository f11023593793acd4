"""A plan's progress on a date: the figures of `figures` applied to what the plan's approved
version sets and what its accepted reports say. Only accepted reports count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from konkurs_plans.domain import figures
from konkurs_plans.domain.plans import Plan


@dataclass(frozen=True)
class Attainment:
    """An indicator in an accepted period: its target, its actual (None: not reported) and
    the attainment (None: unknown)."""

    code: str
    period_id: str
    target: Decimal
    actual: Decimal | None
    attainment: Decimal | None


@dataclass(frozen=True)
class Progress:
    """The figures of a plan on a date."""

    on: date
    attainments: tuple[Attainment, ...]
    budget: figures.BudgetExecution
    milestones_overdue: tuple[str, ...]
    reports_overdue: tuple[str, ...]
    status: figures.PlanStatus


def progress(plan: Plan, on: date) -> Progress:
    """The figures of `plan` on `on` (a date in the call's time zone), by the approved
    version in effect; a plan with no approved version has nothing to measure yet."""
    approved = plan.approved
    if approved is None:
        empty = figures.budget_execution([], [], on)
        return Progress(on, (), empty, (), (), "on_track")
    content = approved.content
    accepted = [
        plan.reports[p.period_id]
        for p in plan.opened.periods
        if plan.reports.get(p.period_id) is not None
        and plan.reports[p.period_id].status == "accepted"
    ]
    attainments: list[Attainment] = []
    for report in accepted:
        actuals = {a.code: a.value for a in report.submitted.actuals}
        for indicator in content.indicators:
            target = indicator.target_for(report.submitted.period_id)
            if target is None:
                continue
            actual = actuals.get(indicator.code)
            attainments.append(
                Attainment(
                    indicator.code,
                    report.submitted.period_id,
                    target,
                    actual,
                    figures.attainment(
                        indicator.direction.value, indicator.baseline_value, target, actual
                    ),
                )
            )
    latest = accepted[-1].submitted.period_id if accepted else None
    planned = [(d.on, d.amount) for s in content.support_measures for d in s.planned]
    made = [
        (d.disbursement.on, d.disbursement.amount)
        for r in accepted
        for d in r.submitted.disbursements
    ]
    overdue_milestones = tuple(
        m.milestone_id
        for m in content.milestones
        if figures.is_milestone_overdue(
            plan.milestones.get(m.milestone_id, m).status.value, m.due_on, on
        )
    )
    overdue_reports = tuple(
        p.period_id
        for p in plan.opened.periods
        if figures.is_report_overdue(p.period_id in plan.reports, p.report_due_on, on)
    )
    status = figures.plan_status(
        len(overdue_milestones),
        len(overdue_reports),
        [a.attainment for a in attainments if a.period_id == latest],
    )
    return Progress(
        on,
        tuple(attainments),
        figures.budget_execution(planned, made, on),
        overdue_milestones,
        overdue_reports,
        status,
    )
