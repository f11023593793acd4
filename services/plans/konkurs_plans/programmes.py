"""The programmes whose calls' selected clusters get plans, keyed by call id.

Configuration, kept in the service as typed data rather than a file read at run time: a
plan's phases, reporting periods and time zone are fixed when ClusterSelected opens it, and
the same frame must come out of the worker, the demo and a test, versioned with the code
that interprets it. The commission's ClusterSelected names the call but carries none of it.
The time zone is the call's (intake announced the 2017 call in Asia/Almaty); plan tracking
does not learn it from intake's events, so that opening a plan rests on one event alone
and not on the order in which two topics are read. A call not listed here follows the
default programme, dated from its selection.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from konkurs_plans.domain.programme import Phase, Programme, quarterly_periods

DEFAULT_TIME_ZONE = "Asia/Almaty"

_DIAGNOSTICS = (
    "diagnostics",
    "Диагностика и вовлечение стейкхолдеров",
    "Диагностика және мүдделі тараптарды тарту",
    "Diagnostics and stakeholder involvement",
)
_ORGANISATION = (
    "organisation",
    "Организация и стратегия кластера",
    "Кластерді ұйымдастыру және стратегиясы",
    "Cluster organisation and strategy",
)
_SUPPORT_DESIGN = (
    "support-design",
    "Разработка мер государственной поддержки",
    "Мемлекеттік қолдау шараларын әзірлеу",
    "Design of state support measures",
)
_IMPLEMENTATION = (
    "implementation",
    "Реализация плана с мерами государственной поддержки",
    "Жоспарды мемлекеттік қолдау шараларымен іске асыру",
    "Implementation with state support",
)

# The 2017 pilot clusters (reference/competition-2017.md): after the selection in the summer
# of 2017, diagnostics, then organisation and strategy, the design of support measures, and
# implementation with state support in 2018-2019; quarterly reports until the end of 2019.
# The phases' exact dates are not public: these are illustrative.
KZ_CLUSTERS_2017 = Programme(
    phases=(
        Phase(*_DIAGNOSTICS, date(2017, 7, 1), date(2017, 9, 30)),
        Phase(*_ORGANISATION, date(2017, 10, 1), date(2017, 12, 31)),
        Phase(*_SUPPORT_DESIGN, date(2017, 11, 1), date(2018, 3, 31)),
        Phase(*_IMPLEMENTATION, date(2018, 1, 1), date(2019, 12, 31)),
    ),
    periods=quarterly_periods(date(2017, 7, 1), date(2019, 12, 31)),
    time_zone="Asia/Almaty",
)

PROGRAMMES: dict[str, Programme] = {"kz-clusters-2017": KZ_CLUSTERS_2017}


def default_programme(selected_at: datetime) -> Programme:
    """The 2017 programme's shape dated from a selection: three months each of diagnostics,
    organisation and the design of support measures from the first day of the month after
    the selection, then two years of implementation; quarterly reports throughout."""
    selected = selected_at.astimezone(ZoneInfo(DEFAULT_TIME_ZONE)).date()
    start = date(selected.year + selected.month // 12, selected.month % 12 + 1, 1)

    def months_on(day: date, months: int) -> date:
        index = day.year * 12 + day.month - 1 + months
        return date(index // 12, index % 12 + 1, 1)

    bounds = [start, *(months_on(start, n) for n in (3, 6, 9, 33))]
    phases = tuple(
        Phase(*names, bounds[i], bounds[i + 1] - timedelta(days=1))
        for i, names in enumerate((_DIAGNOSTICS, _ORGANISATION, _SUPPORT_DESIGN, _IMPLEMENTATION))
    )
    return Programme(
        phases, quarterly_periods(start, bounds[-1] - timedelta(days=1)), DEFAULT_TIME_ZONE
    )


def programme_of(call_id: str, selected_at: datetime) -> Programme:
    """The programme of the call's plans: configured, or the default from the selection."""
    return PROGRAMMES.get(call_id) or default_programme(selected_at)
