"""Plan tracking's decider and timers, given events / when command / then events or error:
a plan opens once, only its coordinator drafts, submits and reports, the approval workflow
and amendments with their reasons, reports accepted or returned, and overdue marks that come
once and never for a settled milestone or a submitted report; the timers the events set."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from konkurs_plans.app.plans import plan_timers
from konkurs_plans.domain.plans import (
    DECIDER,
    AcceptReport,
    ApprovePlan,
    Direction,
    Disbursement,
    DisbursementMade,
    DraftPlan,
    Indicator,
    IndicatorActual,
    MarkMilestoneOverdue,
    MarkReportOverdue,
    Milestone,
    MilestoneOverdue,
    MilestoneStatus,
    MilestoneTransition,
    OpenPlan,
    Plan,
    PlanApproved,
    PlanCommand,
    PlanContent,
    PlanDrafted,
    PlanEvent,
    PlanOpened,
    PlanReturned,
    PlanSubmitted,
    ReportAccepted,
    ReportOverdue,
    ReportReturned,
    ReportSubmitted,
    ReturnPlan,
    ReturnReport,
    SubmitPlan,
    SubmitReport,
    SupportMeasure,
    Target,
    midnight_after,
)
from konkurs_plans.domain.programme import quarterly_periods
from konkurs_plans.programmes import KZ_CLUSTERS_2017, default_programme, programme_of
from konkurs_platform.domain import Conflict, DomainError, Forbidden, NotFound
from konkurs_platform.timers import Cancel, Schedule

PLAN = "app-1"
BIN = "170440000017"
OTHER_BIN = "170440000025"
TZ = "Asia/Almaty"
OPENED = PlanOpened(
    PLAN,
    "kz-clusters-2017",
    "KZ-2017-001",
    "Cluster (illustrative)",
    "KZ-75",
    BIN,
    KZ_CLUSTERS_2017.phases,
    KZ_CLUSTERS_2017.periods,
    TZ,
    "selection-1",
)
CONTENT = PlanContent(
    milestones=(
        Milestone("diagnostics-report", "Diagnostics", "diagnostics", BIN, date(2017, 9, 30)),
        Milestone("strategy", "Strategy adopted", "organisation", BIN, date(2017, 12, 31)),
    ),
    indicators=(
        Indicator(
            "members",
            "Members",
            "organisations",
            Direction.INCREASING,
            2016,
            Decimal(10),
            (Target("2017-Q4", Decimal(14)),),
        ),
    ),
    support_measures=(
        SupportMeasure(
            "co-financing",
            "co-financing of a cluster organisation",
            Decimal("1000000.00"),
            "republican budget",
            (Disbursement(date(2017, 11, 1), Decimal("400000.00")),),
        ),
    ),
    summary="An illustrative plan.",
)
APPROVED_AT = datetime(2017, 9, 1, 4, tzinfo=UTC)
APPROVED: list[PlanEvent] = [
    OPENED,
    PlanDrafted(PLAN, 1, CONTENT),
    PlanSubmitted(PLAN, 1),
    PlanApproved(PLAN, 1, APPROVED_AT),
]
# 2018-01-10 in Almaty (UTC+6 then): the 2017-Q4 report may be written.
JAN_10 = datetime(2018, 1, 10, 6, tzinfo=UTC)
Q4_REPORT = SubmitReport(
    PLAN,
    BIN,
    "2017-Q4",
    (IndicatorActual("members", Decimal(13), ("a" * 64,)),),
    (MilestoneTransition("strategy", MilestoneStatus.MET, date(2017, 12, 20)),),
    (DisbursementMade("co-financing", Disbursement(date(2017, 11, 2), Decimal("400000.00"))),),
    "On track (illustrative).",
    JAN_10,
)


def given(events: Sequence[PlanEvent]) -> Plan | None:
    state = DECIDER.fold(list(events))
    return state if isinstance(state, Plan) else None


def when(events: Sequence[PlanEvent], command: PlanCommand) -> Sequence[PlanEvent]:
    return DECIDER.decide(command, DECIDER.fold(list(events)))


def test_a_selection_opens_a_plan_once() -> None:
    assert when([], OpenPlan(OPENED)) == [OPENED]
    assert when([OPENED], OpenPlan(OPENED)) == []


def test_a_selection_without_a_coordinator_bin_opens_no_plan() -> None:
    with pytest.raises(DomainError) as refused:
        when([], OpenPlan(PlanOpened(**{**OPENED.__dict__, "coordinator_bin": ""})))
    assert [i.pointer for i in refused.value.errors] == ["/coordinator_bin"]


def test_only_the_plans_coordinator_drafts_submits_and_reports() -> None:
    for organisation in (OTHER_BIN, None):
        with pytest.raises(Forbidden):
            when([OPENED], DraftPlan(PLAN, organisation, CONTENT))
        with pytest.raises(Forbidden):
            when([OPENED, PlanDrafted(PLAN, 1, CONTENT)], SubmitPlan(PLAN, organisation))
        with pytest.raises(Forbidden):
            when(APPROVED, SubmitReport(**{**Q4_REPORT.__dict__, "organisation": organisation}))
    assert when([OPENED], DraftPlan(PLAN, BIN, CONTENT)) == [PlanDrafted(PLAN, 1, CONTENT)]


def test_a_command_on_a_plan_never_opened_is_not_found() -> None:
    with pytest.raises(NotFound):
        when([], DraftPlan(PLAN, BIN, CONTENT))


def test_a_returned_version_is_drafted_again_and_approved_after_resubmission() -> None:
    history: list[PlanEvent] = [OPENED, PlanDrafted(PLAN, 1, CONTENT), PlanSubmitted(PLAN, 1)]
    with pytest.raises(Conflict):
        when(history, DraftPlan(PLAN, BIN, CONTENT))  # awaiting the operator
    with pytest.raises(DomainError):
        when(history, ReturnPlan(PLAN, "  "))
    returned = when(history, ReturnPlan(PLAN, "Add the jobs indicator."))
    assert returned == [PlanReturned(PLAN, 1, "Add the jobs indicator.")]
    history += returned
    with pytest.raises(Conflict):
        when(history, ApprovePlan(PLAN, APPROVED_AT))
    history += when(history, DraftPlan(PLAN, BIN, CONTENT))
    history += when(history, SubmitPlan(PLAN, BIN))
    assert when(history, ApprovePlan(PLAN, APPROVED_AT)) == [PlanApproved(PLAN, 1, APPROVED_AT)]
    plan = given([*history, PlanApproved(PLAN, 1, APPROVED_AT)])
    assert plan is not None and plan.approved is not None
    assert plan.approved.comments == ("Add the jobs indicator.",)


def test_an_amendment_needs_a_reason_and_keeps_the_approved_version_until_approved() -> None:
    with pytest.raises(DomainError) as refused:
        when(APPROVED, DraftPlan(PLAN, BIN, CONTENT))
    assert [i.pointer for i in refused.value.errors] == ["/reason"]
    amended = PlanContent(CONTENT.milestones[:1], CONTENT.indicators, CONTENT.support_measures)
    drafted = when(APPROVED, DraftPlan(PLAN, BIN, amended, "Strategy moved to 2018."))
    assert drafted == [PlanDrafted(PLAN, 2, amended, "Strategy moved to 2018.")]
    plan = given([*APPROVED, *drafted, PlanSubmitted(PLAN, 2)])
    assert plan is not None and plan.approved is not None and plan.pending is not None
    assert (plan.approved.number, plan.pending.number) == (1, 2)
    later = datetime(2018, 2, 1, tzinfo=UTC)
    plan = given([*APPROVED, *drafted, PlanSubmitted(PLAN, 2), PlanApproved(PLAN, 2, later)])
    assert plan is not None and plan.approved is not None
    assert [v.number for v in plan.versions] == [1, 2]
    assert plan.approved.content == amended and plan.versions[0].content == CONTENT


def test_a_draft_naming_unknown_phases_or_periods_is_refused_with_pointers() -> None:
    bad = PlanContent(
        milestones=(Milestone("m", "M", "no-such-phase", BIN, date(2018, 1, 1)),),
        indicators=(
            Indicator(
                "x",
                "X",
                "u",
                Direction.DECREASING,
                2016,
                Decimal(1),
                (Target("2031-Q1", Decimal(0)),),
            ),
        ),
        support_measures=(
            SupportMeasure(
                "s", "k", Decimal(10), "b", (Disbursement(date(2018, 1, 1), Decimal(11)),)
            ),
        ),
    )
    with pytest.raises(DomainError) as refused:
        when([OPENED], DraftPlan(PLAN, BIN, bad))
    assert {i.pointer for i in refused.value.errors} == {
        "/content/milestones/0/phase_id",
        "/content/indicators/0/targets/0/period_id",
        "/content/support_measures/0/planned",
    }


def test_a_report_waits_for_the_approval_and_for_the_periods_end() -> None:
    with pytest.raises(Conflict):
        when([OPENED, PlanDrafted(PLAN, 1, CONTENT)], Q4_REPORT)
    early = SubmitReport(**{**Q4_REPORT.__dict__, "now": datetime(2017, 12, 30, tzinfo=UTC)})
    with pytest.raises(Conflict) as refused:
        when(APPROVED, early)
    assert refused.value.code == "period_not_over"


def test_a_report_with_bad_evidence_or_unknown_items_is_refused() -> None:
    bad = SubmitReport(
        **{
            **Q4_REPORT.__dict__,
            "actuals": (IndicatorActual("jobs", Decimal(1), ("A" * 64,)),),
            "milestones": (MilestoneTransition("strategy", MilestoneStatus.MET, None),),
        }
    )
    with pytest.raises(DomainError) as refused:
        when(APPROVED, bad)
    assert {i.pointer for i in refused.value.errors} == {
        "/actuals/0/code",
        "/actuals/0/evidence_sha256/0",
        "/milestones/0/met_on",
    }


def test_an_accepted_report_moves_its_milestones_and_a_returned_one_is_submitted_again() -> None:
    submitted = when(APPROVED, Q4_REPORT)
    assert len(submitted) == 1 and isinstance(submitted[0], ReportSubmitted)
    assert submitted[0].plan_version == 1
    history = [*APPROVED, *submitted]
    with pytest.raises(Conflict):
        when(history, Q4_REPORT)
    returned = when(history, ReturnReport(PLAN, "2017-Q4", "Attach the minutes."))
    assert returned == [ReportReturned(PLAN, "2017-Q4", "Attach the minutes.")]
    history += [*returned, *when([*history, *returned], Q4_REPORT)]
    assert when(history, AcceptReport(PLAN, "2017-Q4")) == [ReportAccepted(PLAN, "2017-Q4")]
    plan = given([*history, ReportAccepted(PLAN, "2017-Q4")])
    assert plan is not None
    assert plan.milestones["strategy"].status is MilestoneStatus.MET
    assert plan.reports["2017-Q4"].comments == ("Attach the minutes.",)
    with pytest.raises(Conflict):
        when([*history, ReportAccepted(PLAN, "2017-Q4")], AcceptReport(PLAN, "2017-Q4"))


def test_an_unmet_milestone_falls_overdue_once_after_its_due_day_in_the_calls_zone() -> None:
    # 2017-09-30 ends at midnight in Almaty: 18:00 UTC.
    on_the_day = datetime(2017, 9, 30, 17, 59, tzinfo=UTC)
    after = datetime(2017, 9, 30, 18, 0, tzinfo=UTC)
    mark = MarkMilestoneOverdue(PLAN, "diagnostics-report", on_the_day)
    assert when(APPROVED, mark) == []
    marked = when(APPROVED, MarkMilestoneOverdue(PLAN, "diagnostics-report", after))
    assert marked == [MilestoneOverdue(PLAN, "diagnostics-report", date(2017, 9, 30))]
    assert when([*APPROVED, *marked], MarkMilestoneOverdue(PLAN, "diagnostics-report", after)) == []


@pytest.mark.parametrize(
    "status", [MilestoneStatus.MET, MilestoneStatus.PARTLY_MET, MilestoneStatus.CANCELLED]
)
def test_a_settled_milestone_never_falls_overdue_even_while_its_report_awaits(
    status: MilestoneStatus,
) -> None:
    met_on = date(2017, 12, 20) if status is not MilestoneStatus.CANCELLED else None
    report = SubmitReport(
        **{**Q4_REPORT.__dict__, "milestones": (MilestoneTransition("strategy", status, met_on),)}
    )
    pending = [*APPROVED, *when(APPROVED, report)]
    late = MarkMilestoneOverdue(PLAN, "strategy", datetime(2018, 2, 1, tzinfo=UTC))
    assert when(pending, late) == []
    assert when([*pending, ReportAccepted(PLAN, "2017-Q4")], late) == []
    # Returned, the claim no longer holds: the milestone is overdue.
    returned = [*pending, ReportReturned(PLAN, "2017-Q4", "Not evidenced.")]
    assert when(returned, late) == [MilestoneOverdue(PLAN, "strategy", date(2017, 12, 31))]


def test_a_report_falls_overdue_once_unless_submitted_in_time() -> None:
    # 2017-Q3 ends on 2017-09-30, its report is due by 2017-10-30.
    after = datetime(2017, 10, 31, tzinfo=UTC)
    assert (
        when(APPROVED, MarkReportOverdue(PLAN, "2017-Q3", datetime(2017, 10, 30, tzinfo=UTC))) == []
    )
    marked = when(APPROVED, MarkReportOverdue(PLAN, "2017-Q3", after))
    assert marked == [ReportOverdue(PLAN, "2017-Q3", date(2017, 10, 30))]
    assert when([*APPROVED, *marked], MarkReportOverdue(PLAN, "2017-Q3", after)) == []
    q4 = [*APPROVED, *when(APPROVED, Q4_REPORT)]
    returned = [*q4, ReportReturned(PLAN, "2017-Q4", "Redo.")]
    late = MarkReportOverdue(PLAN, "2017-Q4", datetime(2018, 3, 1, tzinfo=UTC))
    assert when(q4, late) == [] and when(returned, late) == []


def test_approval_arms_a_timer_per_unsettled_milestone_and_report_at_midnight_in_the_zone() -> None:
    plan = given(APPROVED)
    changes = plan_timers("plan-app-1", [APPROVED[-1]], plan)  # type: ignore[arg-type]
    schedules = {c.purpose: c.due_at for c in changes if isinstance(c, Schedule)}
    assert schedules["milestone:diagnostics-report"] == datetime(2017, 9, 30, 18, tzinfo=UTC)
    assert schedules["report:2017-Q3"] == midnight_after(date(2017, 10, 30), TZ)
    assert len(schedules) == 2 + len(KZ_CLUSTERS_2017.periods)


def test_a_report_cancels_its_timers_and_a_return_rearms_the_milestones_it_claimed() -> None:
    submitted = when(APPROVED, Q4_REPORT)
    plan = given([*APPROVED, *submitted])
    changes = plan_timers("plan-app-1", submitted, plan)  # type: ignore[arg-type]
    assert set(changes) == {Cancel("report:2017-Q4"), Cancel("milestone:strategy")}
    returned = ReportReturned(PLAN, "2017-Q4", "Redo.")
    plan = given([*APPROVED, *submitted, returned])
    assert plan_timers("plan-app-1", [returned], plan) == [  # type: ignore[arg-type]
        Schedule("milestone:strategy", datetime(2017, 12, 31, 18, tzinfo=UTC))
    ]


def test_the_2017_programme_has_four_phases_and_quarterly_reports_until_2019() -> None:
    programme = programme_of("kz-clusters-2017", datetime(2017, 7, 1, tzinfo=UTC))
    assert [p.phase_id for p in programme.phases] == [
        "diagnostics",
        "organisation",
        "support-design",
        "implementation",
    ]
    periods = programme.periods
    assert [p.period_id for p in periods][:2] == ["2017-Q3", "2017-Q4"]
    assert periods[-1].period_id == "2019-Q4" and len(periods) == 10
    assert (periods[0].ends_on, periods[0].report_due_on) == (date(2017, 9, 30), date(2017, 10, 30))


def test_a_call_without_a_programme_gets_the_default_dated_from_its_selection() -> None:
    programme = programme_of("another-call", datetime(2025, 11, 20, tzinfo=UTC))
    assert programme == default_programme(datetime(2025, 11, 20, tzinfo=UTC))
    assert programme.phases[0].starts_on == date(2025, 12, 1)
    assert programme.phases[-1].ends_on == date(2028, 8, 31)
    assert programme.periods == quarterly_periods(date(2025, 12, 1), date(2028, 8, 31))
