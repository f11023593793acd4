"""Plan tracking's derived figures exist twice: in the service (konkurs_plans.domain.figures)
and in the readside's copy (konkurs_readside.projections.plan_figures), because the readside may
not import a service's package. Both must give the same figure for the same input: on a table of
edge cases (direction down, zero baseline, a target asking for no improvement, missing actuals,
overshoot, nothing planned, dates on the boundary), whose expected values are written out here
too, and on generated inputs."""

from __future__ import annotations

import inspect
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from konkurs_plans.domain import figures as service
from konkurs_readside.projections import plan_figures as readside

D = Decimal
BOTH = pytest.mark.parametrize("figures", [service, readside], ids=["service", "readside"])

# (direction, baseline, target, actual) -> attainment
ATTAINMENT: list[tuple[tuple[Any, ...], Decimal | None]] = [
    (("increasing", D(10), D(20), D(15)), D("0.5000")),
    (("increasing", D(10), D(20), D(20)), D("1.0000")),
    # Overshoot: above 1, not capped.
    (("increasing", D(10), D(20), D(35)), D("2.5000")),
    # Worse than the baseline: below 0.
    (("increasing", D(10), D(20), D(5)), D("-0.5000")),
    # A zero baseline divides by the target.
    (("increasing", D(0), D(3), D(1)), D("0.3333")),
    (("increasing", D(0), D(3), D(2)), D("0.6667")),
    # Direction down: less is better.
    (("decreasing", D(100), D(60), D(80)), D("0.5000")),
    (("decreasing", D(100), D(60), D(50)), D("1.2500")),
    (("decreasing", D(100), D(60), D(110)), D("-0.2500")),
    (("decreasing", D(0), D(0), D(0)), D(1)),
    (("decreasing", D(0), D(0), D("0.01")), D(0)),
    # Target equal to the baseline: nothing to divide by; reached or not.
    (("increasing", D(0), D(0), D(0)), D(1)),
    (("increasing", D(12), D(12), D(11)), D(0)),
    (("increasing", D(12), D(12), D(13)), D(1)),
    # A target on the wrong side of the baseline ("hold at least 10" after 12).
    (("increasing", D(12), D(10), D(10)), D(1)),
    (("increasing", D(12), D(10), D("9.99")), D(0)),
    (("decreasing", D(5), D(8), D(8)), D(1)),
    # Missing actual: unknown, never zero.
    (("increasing", D(10), D(20), None), None),
    (("decreasing", D(0), D(0), None), None),
]


@BOTH
@pytest.mark.parametrize(("arguments", "expected"), ATTAINMENT)
def test_attainment_on_the_edge_cases(
    figures: Any, arguments: tuple[Any, ...], expected: Decimal | None
) -> None:
    got = figures.attainment(*arguments)
    assert got == expected
    assert got is None or isinstance(got, Decimal)


PLANNED = [(date(2018, 3, 1), D("1000000.00")), (date(2018, 9, 1), D("3000000.00"))]
DISBURSED = [(date(2018, 3, 15), D("900000.50")), (date(2018, 10, 1), D("2000000"))]

# as_of -> (planned_to_date, disbursed_to_date, overall, to_date)
BUDGET: list[tuple[date, tuple[Decimal, Decimal, Decimal | None, Decimal | None]]] = [
    # Nothing planned yet: to date is unknown, not zero.
    (date(2018, 2, 28), (D(0), D(0), D("0.0000"), None)),
    # The boundary day counts.
    (date(2018, 3, 1), (D("1000000.00"), D(0), D("0.0000"), D("0.0000"))),
    (date(2018, 3, 15), (D("1000000.00"), D("900000.50"), D("0.2250"), D("0.9000"))),
    (date(2018, 12, 31), (D("4000000.00"), D("2900000.50"), D("0.7250"), D("0.7250"))),
]


@BOTH
@pytest.mark.parametrize(("as_of", "expected"), BUDGET)
def test_budget_execution_overall_and_to_date(
    figures: Any, as_of: date, expected: tuple[Any, ...]
) -> None:
    got = figures.budget_execution(PLANNED, DISBURSED, as_of)
    assert got.planned_total == D("4000000.00")
    assert (got.planned_to_date, got.disbursed_to_date, got.overall, got.to_date) == expected


@BOTH
def test_budget_execution_of_nothing_planned_is_unknown_and_overspending_shows(
    figures: Any,
) -> None:
    nothing = figures.budget_execution([], DISBURSED, date(2019, 1, 1))
    assert (nothing.overall, nothing.to_date, nothing.disbursed_to_date) == (
        None,
        None,
        D("2900000.50"),
    )
    over = figures.budget_execution(PLANNED[:1], DISBURSED, date(2019, 1, 1))
    assert over.overall == D("2.9000")


# (milestones overdue, reports overdue, latest accepted attainments) -> status
STATUS: list[tuple[tuple[Any, ...], str]] = [
    ((0, 0, []), "on_track"),
    ((0, 0, [None, None]), "on_track"),
    ((0, 0, [D("0.75"), D("1.2")]), "on_track"),
    ((0, 0, [D("0.7499"), None]), "at_risk"),
    ((0, 0, [D("-0.5")]), "at_risk"),
    ((1, 0, [D("1")]), "late"),
    ((0, 1, []), "late"),
    ((2, 3, [D("0.1")]), "late"),
]


@BOTH
@pytest.mark.parametrize(("arguments", "expected"), STATUS)
def test_plan_status_late_before_at_risk_before_on_track(
    figures: Any, arguments: tuple[Any, ...], expected: str
) -> None:
    assert figures.plan_status(*arguments) == expected


@BOTH
def test_overdue_starts_the_day_after_the_due_date_and_never_for_met_or_cancelled(
    figures: Any,
) -> None:
    due = date(2018, 3, 31)
    after = date(2018, 4, 1)
    assert [
        figures.is_milestone_overdue(s, due, after)
        for s in ("scheduled", "met", "partly_met", "not_met", "cancelled")
    ] == [True, False, False, True, False]
    assert not figures.is_milestone_overdue("scheduled", due, due)
    assert (
        figures.is_report_overdue(False, due, after),
        figures.is_report_overdue(True, due, after),
        figures.is_report_overdue(False, due, due),
    ) == (True, False, False)


def test_both_copies_define_the_same_rules_with_the_same_signatures() -> None:
    def rules(module: Any) -> dict[str, str]:
        return {
            name: str(inspect.signature(value)) if callable(value) else repr(value)
            for name, value in vars(module).items()
            if not name.startswith("_")
            and getattr(value, "__module__", module.__name__) == module.__name__
            and not inspect.ismodule(value)
        }

    assert rules(readside) == rules(service)


decimals = st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False)
directions = st.sampled_from(["increasing", "decreasing"])


@given(directions, decimals, decimals, st.none() | decimals)
def test_attainment_agrees_on_generated_indicators(
    direction: Any, baseline: Decimal, target: Decimal, actual: Decimal | None
) -> None:
    assert readside.attainment(direction, baseline, target, actual) == service.attainment(
        direction, baseline, target, actual
    )


dated = st.lists(st.tuples(st.dates(date(2017, 1, 1), date(2020, 12, 31)), decimals), max_size=8)


@given(dated, dated, st.dates(date(2017, 1, 1), date(2020, 12, 31)))
def test_budget_execution_agrees_on_generated_disbursements(
    planned: list[tuple[date, Decimal]], disbursed: list[tuple[date, Decimal]], as_of: date
) -> None:
    mine, theirs = (m.budget_execution(planned, disbursed, as_of) for m in (readside, service))
    assert (mine.planned_total, mine.planned_to_date, mine.disbursed_to_date) == (
        theirs.planned_total,
        theirs.planned_to_date,
        theirs.disbursed_to_date,
    )
    assert (mine.overall, mine.to_date) == (theirs.overall, theirs.to_date)
