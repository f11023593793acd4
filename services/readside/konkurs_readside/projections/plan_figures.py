"""The derived figures of a development plan, as the readside computes them: indicator
attainment, budget execution, overdue tests and the plan's status (on-track, at-risk, late).

A copy of plan tracking's rules (konkurs_plans/domain/figures.py): the readside may not import
a service's package (LAYOUT.md), and these rules must not drift apart, so
tests/unit/test_plan_figures_agree.py runs both on a table of edge cases. Change a rule there
and here together.

Every figure is an exact Decimal, never a float; a share is rounded half-up to four places
(0.8333), so both copies round alike. A figure that cannot be known is None, never zero: a
missing actual is not an actual of nought.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Literal

Direction = Literal["increasing", "decreasing"]
MilestoneStatus = Literal["scheduled", "met", "partly_met", "not_met", "cancelled"]
PlanStatus = Literal["on_track", "at_risk", "late"]

SHARE_PLACES = Decimal("0.0001")
# A progress below three quarters of the way from baseline to target puts a plan at risk.
DEFAULT_AT_RISK_BELOW = Decimal("0.75")

# A milestone in these states still owes its due date; met, partly met and cancelled ones
# never fall overdue.
UNMET_STATUSES: frozenset[str] = frozenset({"scheduled", "not_met"})


def share(part: Decimal, whole: Decimal) -> Decimal:
    """part / whole rounded half-up to four places, in a context of its own (so a caller's
    Decimal context cannot change the figure). `whole` must not be zero."""
    with localcontext() as ctx:
        ctx.prec = 34
        return (part / whole).quantize(SHARE_PLACES, rounding=ROUND_HALF_UP)


def is_at_or_better(direction: Direction, value: Decimal, target: Decimal) -> bool:
    """Whether `value` reaches `target` in the indicator's direction of improvement."""
    return value >= target if direction == "increasing" else value <= target


def attainment(
    direction: Direction, baseline: Decimal, target: Decimal, actual: Decimal | None
) -> Decimal | None:
    """The progress of an indicator in a period, from its baseline towards the period's target.

    Increasing: (actual - baseline) / (target - baseline); decreasing, mirrored:
    (baseline - actual) / (baseline - target). 1 is the target reached, above 1 an overshoot,
    below 0 a value worse than the baseline. A target that asks for no improvement (equal to
    the baseline, or on the wrong side of it, e.g. "hold at least 10" after a baseline of 12)
    has no way to go, so there is nothing to divide by: attainment is 1 when the actual is at
    or better than the target in the indicator's direction, 0 otherwise. A missing actual is
    None (unknown).
    """
    if actual is None:
        return None
    if direction == "increasing":
        gap, gained = target - baseline, actual - baseline
    else:
        gap, gained = baseline - target, baseline - actual
    if gap <= 0:
        return Decimal(1) if is_at_or_better(direction, actual, target) else Decimal(0)
    return share(gained, gap)


@dataclass(frozen=True, slots=True)
class BudgetExecution:
    """Disbursed against planned, for the whole plan and up to a date.

    `overall` is everything disbursed up to the date against everything planned; `to_date`
    is the same disbursed sum against what was planned up to the date. Either is None when
    its planned sum is zero (nothing to execute against).
    """

    planned_total: Decimal
    planned_to_date: Decimal
    disbursed_to_date: Decimal
    overall: Decimal | None
    to_date: Decimal | None


def budget_execution(
    planned: Iterable[tuple[date, Decimal]],
    disbursed: Iterable[tuple[date, Decimal]],
    as_of: date,
) -> BudgetExecution:
    """Budget execution on `as_of` (inclusive) from planned and made disbursements, each a
    (date, amount in tenge) pair; a disbursement dated after `as_of` does not count yet."""
    planned = list(planned)
    planned_total = sum((amount for _, amount in planned), Decimal(0))
    planned_to_date = sum((amount for on, amount in planned if on <= as_of), Decimal(0))
    disbursed_to_date = sum((amount for on, amount in disbursed if on <= as_of), Decimal(0))
    return BudgetExecution(
        planned_total=planned_total,
        planned_to_date=planned_to_date,
        disbursed_to_date=disbursed_to_date,
        overall=share(disbursed_to_date, planned_total) if planned_total else None,
        to_date=share(disbursed_to_date, planned_to_date) if planned_to_date else None,
    )


def is_milestone_overdue(status: MilestoneStatus, due_on: date, today: date) -> bool:
    """Whether a milestone is overdue on `today` (a date in the call's time zone): its due date
    has passed (the midnight ending it) and it is neither met, partly met nor cancelled."""
    return status in UNMET_STATUSES and today > due_on


def is_report_overdue(submitted: bool, due_on: date, today: date) -> bool:
    """Whether a period's report is overdue on `today`: its due date (the period's end plus the
    grace period) has passed and no report on the period was submitted. `submitted` is whether
    one ever was: a report returned with comments was still submitted in time, and its
    resubmission is a correction, not a late report."""
    return not submitted and today > due_on


def plan_status(
    milestones_overdue: int,
    reports_overdue: int,
    latest_accepted_attainments: Iterable[Decimal | None],
    at_risk_below: Decimal = DEFAULT_AT_RISK_BELOW,
) -> PlanStatus:
    """The plan's status, by this rule:

    - late: a milestone or a report is overdue (see is_milestone_overdue, is_report_overdue);
    - at-risk: otherwise, when an indicator's attainment in the latest accepted report is known
      and below `at_risk_below` (0.75 by default); an unknown attainment (no actual) does not
      count either way;
    - on-track: otherwise (also before any report is accepted).
    """
    if milestones_overdue > 0 or reports_overdue > 0:
        return "late"
    if any(a is not None and a < at_risk_below for a in latest_accepted_attainments):
        return "at_risk"
    return "on_track"
