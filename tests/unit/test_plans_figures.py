"""Plan tracking's derived figures (konkurs_plans.domain.figures) on their edge cases:
direction down, zero baseline, a target equal to the baseline, missing actuals, overshoot,
budget execution overall and to date, and the status rule."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from konkurs_plans.domain.figures import (
    attainment,
    budget_execution,
    is_milestone_overdue,
    is_report_overdue,
    plan_status,
)

D = Decimal


@pytest.mark.parametrize(
    ("direction", "baseline", "target", "actual", "expected"),
    [
        ("increasing", "10", "20", "15", "0.5000"),
        ("increasing", "10", "20", "25", "1.5000"),  # overshoot stays visible
        ("increasing", "10", "20", "5", "-0.5000"),  # worse than the baseline
        ("increasing", "0", "3", "1", "0.3333"),  # zero baseline
        ("increasing", "0", "0", "0", "1"),  # zero baseline and target: held
        ("increasing", "12", "12", "11", "0"),  # target equal to the baseline, missed
        ("increasing", "12", "10", "11", "1"),  # "hold at least 10": reached
        ("decreasing", "100", "80", "90", "0.5000"),  # direction down
        ("decreasing", "100", "80", "70", "1.5000"),  # direction down, overshoot
        ("decreasing", "100", "80", "110", "-0.5000"),
        ("decreasing", "0", "0", "1", "0"),  # zero baseline, target equal, worse
        ("decreasing", "5", "5", "4", "1"),
    ],
)
def test_attainment_measures_progress_from_baseline_in_the_indicators_direction(
    direction: str, baseline: str, target: str, actual: str, expected: str
) -> None:
    got = attainment(direction, D(baseline), D(target), D(actual))  # type: ignore[arg-type]
    assert got == D(expected)
    assert isinstance(got, Decimal)


def test_a_missing_actual_has_an_unknown_attainment_not_zero() -> None:
    assert attainment("increasing", D(0), D(10), None) is None
    assert attainment("decreasing", D(10), D(10), None) is None


def test_budget_execution_counts_overall_and_to_date_up_to_the_day() -> None:
    planned = [(date(2018, 3, 1), D("1000000.00")), (date(2018, 9, 1), D("3000000.00"))]
    made = [(date(2018, 3, 20), D("500000.00")), (date(2018, 9, 2), D("3000000.00"))]
    on_sept_1 = budget_execution(planned, made, date(2018, 9, 1))
    assert on_sept_1.planned_total == D("4000000.00")
    assert on_sept_1.planned_to_date == D("4000000.00")
    assert on_sept_1.disbursed_to_date == D("500000.00")
    assert on_sept_1.overall == D("0.1250")
    assert on_sept_1.to_date == D("0.1250")
    in_june = budget_execution(planned, made, date(2018, 6, 30))
    assert (in_june.planned_to_date, in_june.to_date, in_june.overall) == (
        D("1000000.00"),
        D("0.5000"),
        D("0.1250"),
    )


def test_budget_execution_with_nothing_planned_is_unknown_not_a_division_by_zero() -> None:
    nothing = budget_execution([], [(date(2018, 1, 1), D(5))], date(2019, 1, 1))
    assert (nothing.overall, nothing.to_date, nothing.disbursed_to_date) == (None, None, D(5))
    before = budget_execution([(date(2018, 6, 1), D(10))], [], date(2018, 1, 1))
    assert (before.overall, before.to_date) == (D(0), None)


def test_only_unmet_milestones_fall_overdue_and_only_after_their_due_day() -> None:
    due = date(2018, 6, 30)
    assert not is_milestone_overdue("scheduled", due, due)
    assert is_milestone_overdue("scheduled", due, date(2018, 7, 1))
    assert is_milestone_overdue("not_met", due, date(2018, 7, 1))
    for status in ("met", "partly_met", "cancelled"):
        assert not is_milestone_overdue(status, due, date(2019, 1, 1))  # type: ignore[arg-type]


def test_a_report_falls_overdue_after_its_due_day_unless_submitted() -> None:
    due = date(2018, 4, 30)
    assert not is_report_overdue(False, due, due)
    assert is_report_overdue(False, due, date(2018, 5, 1))
    assert not is_report_overdue(True, due, date(2018, 5, 1))


def test_plan_status_is_late_before_at_risk_and_ignores_unknown_attainments() -> None:
    assert plan_status(0, 0, []) == "on_track"
    assert plan_status(0, 0, [D("0.9"), None]) == "on_track"
    assert plan_status(0, 0, [D("0.9"), D("0.7499")]) == "at_risk"
    assert plan_status(0, 0, [D("0.75")]) == "on_track"
    assert plan_status(1, 0, [D("1")]) == "late"
    assert plan_status(0, 1, [D("0.1")]) == "late"
    assert plan_status(0, 0, [D("0.6")], at_risk_below=D("0.5")) == "on_track"
