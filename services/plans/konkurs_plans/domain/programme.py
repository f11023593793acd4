"""A programme's frame for the plans of its call: the phases, the reporting periods with the
grace period for reports, and the call's time zone.

Pure values; which programme a call follows is configuration (`konkurs_plans.programmes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

# A report is due within this many days after its period ends, unless the programme says so.
DEFAULT_GRACE_DAYS = 30


@dataclass(frozen=True)
class Phase:
    """A phase of the programme, with its first and last day."""

    phase_id: str
    name_ru: str
    name_kk: str
    name_en: str
    starts_on: date
    ends_on: date


@dataclass(frozen=True)
class Period:
    """A reporting period; its report is due by `report_due_on` (inclusive)."""

    period_id: str
    starts_on: date
    ends_on: date
    report_due_on: date


@dataclass(frozen=True)
class Programme:
    """What a call's plans start from."""

    phases: tuple[Phase, ...]
    periods: tuple[Period, ...]
    time_zone: str


def quarterly_periods(
    first: date, last: date, grace_days: int = DEFAULT_GRACE_DAYS
) -> tuple[Period, ...]:
    """The calendar quarters from the one holding `first` to the one holding `last`, each
    named "YYYY-Qn", its report due `grace_days` after its last day."""
    periods: list[Period] = []
    year, quarter = first.year, (first.month - 1) // 3 + 1
    while (year, quarter) <= (last.year, (last.month - 1) // 3 + 1):
        starts = date(year, 3 * quarter - 2, 1)
        next_year, next_quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
        ends = date(next_year, 3 * next_quarter - 2, 1) - timedelta(days=1)
        periods.append(
            Period(f"{year}-Q{quarter}", starts, ends, ends + timedelta(days=grace_days))
        )
        year, quarter = next_year, next_quarter
    return tuple(periods)
