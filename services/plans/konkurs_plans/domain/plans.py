"""A selected cluster's development plan (stream `plan-<application_id>`).

The commission's ClusterSelected opens a draft plan with its programme's phases and reporting
periods. The cluster's coordinator (staff of the coordinator's BIN) drafts and submits a
version; an operator returns it with comments or approves it. Once a version is approved, a
change is an amendment: the next version, drafted with its reason and approved the same way;
every version stays in the history, and the approved one in effect at a time is what the plan
said then.

For each reporting period the coordinator submits a report against the approved version
(actual values with the SHA-256 of their evidence, milestone transitions, disbursements, a
narrative); the operator returns it with comments or accepts it. Accepted reports move the
milestones and count in the figures (`figures`).

Durable timers (set by the app from these events) fire MarkMilestoneOverdue at the midnight
ending a milestone's due date, and MarkReportOverdue at the one ending a report's due date,
both in the call's time zone. Each marks once; a milestone met, partly met or cancelled (or
claimed so by a report awaiting acceptance) and a period whose report was submitted are not
overdue, and the command then decides nothing.

Pure: times arrive in the commands.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

from konkurs_plans.domain.programme import Period, Phase
from konkurs_platform.domain import Conflict, Decider, DomainError, FieldIssue, Forbidden, NotFound

SHA256 = re.compile(r"^[0-9a-f]{64}$")
BIN = re.compile(r"^[0-9]{12}$")
# An id the API can name in a path (konkurs_platform.web.Identifier): printable, not too long.
ID = re.compile(r"^[^\x00-\x20\x7f-\x9f]{1,200}$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class MilestoneStatus(StrEnum):
    """After the Open Contracting Data Standard's milestone codelist, with cancelled."""

    SCHEDULED = "scheduled"
    MET = "met"
    PARTLY_MET = "partly_met"
    NOT_MET = "not_met"
    CANCELLED = "cancelled"


# A milestone in one of these states is done with its due date: it never falls overdue.
SETTLED = frozenset({MilestoneStatus.MET, MilestoneStatus.PARTLY_MET, MilestoneStatus.CANCELLED})
# These carry the date they were met on.
DATED = frozenset({MilestoneStatus.MET, MilestoneStatus.PARTLY_MET})


class Direction(StrEnum):
    """Which way an indicator improves."""

    INCREASING = "increasing"
    DECREASING = "decreasing"


@dataclass(frozen=True)
class Milestone:
    """An activity with its milestone; `milestone_id` is stable across versions."""

    milestone_id: str
    title: str
    phase_id: str
    owner: str
    due_on: date
    status: MilestoneStatus = MilestoneStatus.SCHEDULED
    met_on: date | None = None


@dataclass(frozen=True)
class Target:
    """An indicator's target for a reporting period."""

    period_id: str
    value: Decimal


@dataclass(frozen=True)
class Indicator:
    """A result indicator (IATI: measure, baseline, targets per period)."""

    code: str
    name: str
    unit: str
    direction: Direction
    baseline_year: int
    baseline_value: Decimal
    targets: tuple[Target, ...] = ()

    def target_for(self, period_id: str) -> Decimal | None:
        """The target of the period, None where the plan sets none."""
        return next((t.value for t in self.targets if t.period_id == period_id), None)


@dataclass(frozen=True)
class Disbursement:
    """A disbursement in tenge on a date, planned or made."""

    on: date
    amount: Decimal


@dataclass(frozen=True)
class SupportMeasure:
    """A state support measure and its planned disbursements."""

    measure_id: str
    kind: str
    amount: Decimal
    budget_source: str
    planned: tuple[Disbursement, ...] = ()


@dataclass(frozen=True)
class PlanContent:
    """What a version of the plan says, complete."""

    milestones: tuple[Milestone, ...] = ()
    indicators: tuple[Indicator, ...] = ()
    support_measures: tuple[SupportMeasure, ...] = ()
    summary: str = ""


@dataclass(frozen=True)
class IndicatorActual:
    """An indicator's value reached by the period's end, with its evidence's SHA-256s."""

    code: str
    value: Decimal
    evidence_sha256: tuple[str, ...] = ()


@dataclass(frozen=True)
class MilestoneTransition:
    """A milestone's move, as a report states it."""

    milestone_id: str
    status: MilestoneStatus
    met_on: date | None = None


@dataclass(frozen=True)
class DisbursementMade:
    """A disbursement made of a support measure."""

    measure_id: str
    disbursement: Disbursement


# --- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanOpened:
    plan_id: str
    call_id: str
    registration_number: str
    cluster_name: str
    region_code: str
    coordinator_bin: str
    phases: tuple[Phase, ...]
    periods: tuple[Period, ...]
    time_zone: str
    selection_event_id: str


@dataclass(frozen=True)
class PlanDrafted:
    plan_id: str
    version: int
    content: PlanContent
    reason: str = ""


@dataclass(frozen=True)
class PlanSubmitted:
    plan_id: str
    version: int


@dataclass(frozen=True)
class PlanReturned:
    plan_id: str
    version: int
    comments: str


@dataclass(frozen=True)
class PlanApproved:
    plan_id: str
    version: int
    effective_from: datetime


@dataclass(frozen=True)
class ReportSubmitted:
    plan_id: str
    period_id: str
    plan_version: int
    actuals: tuple[IndicatorActual, ...] = ()
    milestones: tuple[MilestoneTransition, ...] = ()
    disbursements: tuple[DisbursementMade, ...] = ()
    narrative: str = ""


@dataclass(frozen=True)
class ReportReturned:
    plan_id: str
    period_id: str
    comments: str


@dataclass(frozen=True)
class ReportAccepted:
    plan_id: str
    period_id: str


@dataclass(frozen=True)
class MilestoneOverdue:
    plan_id: str
    milestone_id: str
    due_on: date


@dataclass(frozen=True)
class ReportOverdue:
    plan_id: str
    period_id: str
    due_on: date


PlanEvent = (
    PlanOpened
    | PlanDrafted
    | PlanSubmitted
    | PlanReturned
    | PlanApproved
    | ReportSubmitted
    | ReportReturned
    | ReportAccepted
    | MilestoneOverdue
    | ReportOverdue
)

# --- commands -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenPlan:
    """Open the draft plan of a selected cluster (a reaction to ClusterSelected)."""

    opened: PlanOpened


@dataclass(frozen=True)
class DraftPlan:
    """Draft version 1, replace the current draft, or draft an amendment (with a reason).
    `organisation` is the acting caller's BIN (None for staff without one)."""

    plan_id: str
    organisation: str | None
    content: PlanContent
    reason: str = ""


@dataclass(frozen=True)
class SubmitPlan:
    plan_id: str
    organisation: str | None


@dataclass(frozen=True)
class ReturnPlan:
    plan_id: str
    comments: str


@dataclass(frozen=True)
class ApprovePlan:
    plan_id: str
    now: datetime


@dataclass(frozen=True)
class SubmitReport:
    plan_id: str
    organisation: str | None
    period_id: str
    actuals: tuple[IndicatorActual, ...]
    milestones: tuple[MilestoneTransition, ...]
    disbursements: tuple[DisbursementMade, ...]
    narrative: str
    now: datetime


@dataclass(frozen=True)
class ReturnReport:
    plan_id: str
    period_id: str
    comments: str


@dataclass(frozen=True)
class AcceptReport:
    plan_id: str
    period_id: str


@dataclass(frozen=True)
class MarkMilestoneOverdue:
    """A milestone's due timer fired at `now`."""

    plan_id: str
    milestone_id: str
    now: datetime


@dataclass(frozen=True)
class MarkReportOverdue:
    """A report's due timer fired at `now`."""

    plan_id: str
    period_id: str
    now: datetime


PlanCommand = (
    OpenPlan
    | DraftPlan
    | SubmitPlan
    | ReturnPlan
    | ApprovePlan
    | SubmitReport
    | ReturnReport
    | AcceptReport
    | MarkMilestoneOverdue
    | MarkReportOverdue
)

# --- state --------------------------------------------------------------------------------

VersionStatus = Literal["draft", "submitted", "approved"]
ReportStatus = Literal["submitted", "returned", "accepted"]


@dataclass(frozen=True)
class Version:
    """A version of the plan and where it stands; `comments` are the operator's returns."""

    number: int
    content: PlanContent
    reason: str
    status: VersionStatus
    effective_from: datetime | None = None
    comments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Report:
    """The report on a period as last submitted, and where it stands."""

    submitted: ReportSubmitted
    status: ReportStatus
    comments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tracked:
    """A milestone's status as approved versions and accepted reports left it."""

    status: MilestoneStatus
    met_on: date | None = None


@dataclass(frozen=True)
class NoPlan:
    """No cluster selected under this id (yet)."""


@dataclass(frozen=True)
class Plan:
    """A plan: its frame, its versions, its reports and what fell overdue."""

    opened: PlanOpened
    versions: tuple[Version, ...] = ()
    milestones: Mapping[str, Tracked] = field(default_factory=dict)
    reports: Mapping[str, Report] = field(default_factory=dict)
    overdue_milestones: frozenset[str] = frozenset()
    overdue_reports: frozenset[str] = frozenset()

    @property
    def plan_id(self) -> str:
        return self.opened.plan_id

    @property
    def approved(self) -> Version | None:
        """The approved version in effect (the latest approved)."""
        return next((v for v in reversed(self.versions) if v.status == "approved"), None)

    @property
    def pending(self) -> Version | None:
        """The version being drafted or awaiting approval, if any."""
        last = self.versions[-1] if self.versions else None
        return last if last is not None and last.status != "approved" else None

    def period(self, period_id: str) -> Period | None:
        """The reporting period of that id."""
        return next((p for p in self.opened.periods if p.period_id == period_id), None)

    def local_date(self, moment: datetime) -> date:
        """The calendar date of `moment` in the call's time zone."""
        return moment.astimezone(ZoneInfo(self.opened.time_zone)).date()

    def settled_or_claimed(self, milestone_id: str) -> bool:
        """Whether the milestone is met, partly met or cancelled, or a report awaiting the
        operator says so (it was reported in time; a return re-arms its timer)."""
        tracked = self.milestones.get(milestone_id)
        if tracked is not None and tracked.status in SETTLED:
            return True
        return any(
            t.milestone_id == milestone_id and t.status in SETTLED
            for r in self.reports.values()
            if r.status == "submitted"
            for t in r.submitted.milestones
        )


PlanState = NoPlan | Plan


def midnight_after(day: date, time_zone: str) -> datetime:
    """The midnight that ends `day` in `time_zone`: when a due date has passed."""
    return datetime.combine(day + timedelta(days=1), time(0), ZoneInfo(time_zone))


# --- decide -------------------------------------------------------------------------------


def decide(command: PlanCommand, state: PlanState) -> Sequence[PlanEvent]:
    """The events a command causes on the plan, or a DomainError saying which rule it breaks."""
    if isinstance(command, OpenPlan):
        # Opened once: another ClusterSelected of the same cluster (a redelivery, or a second
        # event) finds the plan and opens nothing.
        if isinstance(state, Plan):
            return []
        _check_opening(command.opened)
        return [command.opened]
    if not isinstance(state, Plan):
        raise NotFound("plan_not_found", f"There is no plan {command.plan_id}.")
    match command:
        case DraftPlan():
            return _draft(command, state)
        case SubmitPlan():
            _coordinator(state, command.organisation)
            pending = state.pending
            if pending is None or pending.status != "draft":
                raise Conflict("nothing_to_submit", "There is no draft version to submit.")
            return [PlanSubmitted(state.plan_id, pending.number)]
        case ReturnPlan():
            version = _submitted_version(state)
            _words("/comments", command.comments)
            return [PlanReturned(state.plan_id, version, command.comments)]
        case ApprovePlan():
            return [PlanApproved(state.plan_id, _submitted_version(state), command.now)]
        case SubmitReport():
            return _report(command, state)
        case ReturnReport():
            _report_awaiting(state, command.period_id)
            _words("/comments", command.comments)
            return [ReportReturned(state.plan_id, command.period_id, command.comments)]
        case AcceptReport():
            _report_awaiting(state, command.period_id)
            return [ReportAccepted(state.plan_id, command.period_id)]
        case MarkMilestoneOverdue():
            return _milestone_overdue(command, state)
        case MarkReportOverdue():
            return _report_overdue(command, state)


def _check_opening(opened: PlanOpened) -> None:
    issues = [
        FieldIssue(pointer, reason)
        for pointer, bad, reason in (
            ("/plan_id", not ID.match(opened.plan_id), "the selected application's id"),
            ("/call_id", not ID.match(opened.call_id), "the call's id"),
            ("/coordinator_bin", not BIN.match(opened.coordinator_bin), "a BIN of 12 digits"),
            ("/periods", not opened.periods, "at least one reporting period"),
        )
        if bad
    ]
    try:
        ZoneInfo(opened.time_zone)
    except (ValueError, KeyError):
        issues.append(FieldIssue("/time_zone", "an IANA time zone"))
    if issues:
        raise DomainError("invalid_selection", "The selection cannot open a plan.", issues)


def _coordinator(state: Plan, organisation: str | None) -> None:
    if organisation != state.opened.coordinator_bin:
        raise Forbidden(
            "not_the_coordinator",
            "Only the cluster's coordinator drafts, submits and reports on its plan.",
        )


def _words(pointer: str, text: str) -> None:
    if not text.strip():
        raise DomainError("text_required", "Say it in words.", [FieldIssue(pointer, "empty")])


def _submitted_version(state: Plan) -> int:
    pending = state.pending
    if pending is None or pending.status != "submitted":
        raise Conflict("nothing_submitted", "No version of the plan awaits approval.")
    return pending.number


def _draft(command: DraftPlan, state: Plan) -> Sequence[PlanEvent]:
    _coordinator(state, command.organisation)
    pending = state.pending
    if pending is not None and pending.status == "submitted":
        raise Conflict(
            "plan_submitted", "The submitted version awaits the operator: it cannot change now."
        )
    if pending is not None:
        number = pending.number
    else:
        number = state.versions[-1].number + 1 if state.versions else 1
    if number > 1 and not command.reason.strip():
        raise DomainError(
            "reason_required",
            "An amendment says why the approved plan changes.",
            [FieldIssue("/reason", "required for an amendment")],
        )
    _check_content(command.content, state)
    reason = command.reason if number > 1 else ""
    return [PlanDrafted(state.plan_id, number, command.content, reason)]


def _unique(issues: list[FieldIssue], pointer: str, ids: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    for i, value in enumerate(ids):
        if not SLUG.match(value):
            issues.append(FieldIssue(f"{pointer}/{i}", f"{what}: lower-case letters and digits"))
        elif value in seen:
            issues.append(FieldIssue(f"{pointer}/{i}", f"{what} {value!r} appears twice"))
        seen.add(value)


def _check_content(content: PlanContent, state: Plan) -> None:
    issues: list[FieldIssue] = []
    phases = {p.phase_id for p in state.opened.phases}
    periods = {p.period_id for p in state.opened.periods}
    _unique(issues, "/content/milestones", [m.milestone_id for m in content.milestones], "id")
    for i, m in enumerate(content.milestones):
        at = f"/content/milestones/{i}"
        if m.phase_id not in phases:
            issues.append(
                FieldIssue(f"{at}/phase_id", f"not a phase of the programme: {m.phase_id}")
            )
        if (m.status in DATED) != (m.met_on is not None):
            issues.append(FieldIssue(f"{at}/met_on", "the date met goes with met or partly met"))
    _unique(issues, "/content/indicators", [x.code for x in content.indicators], "code")
    for i, x in enumerate(content.indicators):
        seen: set[str] = set()
        for j, t in enumerate(x.targets):
            if t.period_id not in periods or t.period_id in seen:
                issues.append(
                    FieldIssue(
                        f"/content/indicators/{i}/targets/{j}/period_id",
                        f"not a reporting period of the plan, or twice: {t.period_id}",
                    )
                )
            seen.add(t.period_id)
    ids = [s.measure_id for s in content.support_measures]
    _unique(issues, "/content/support_measures", ids, "id")
    for i, s in enumerate(content.support_measures):
        at = f"/content/support_measures/{i}"
        if s.amount < 0:
            issues.append(FieldIssue(f"{at}/amount", "not negative"))
        if any(d.amount <= 0 for d in s.planned):
            issues.append(FieldIssue(f"{at}/planned", "each disbursement is more than zero"))
        if sum((d.amount for d in s.planned), Decimal(0)) > s.amount:
            issues.append(FieldIssue(f"{at}/planned", "the disbursements exceed the amount"))
    if issues:
        raise DomainError("invalid_plan", "The plan's content breaks its rules.", issues)


def _report(command: SubmitReport, state: Plan) -> Sequence[PlanEvent]:
    _coordinator(state, command.organisation)
    approved = state.approved
    if approved is None:
        raise Conflict("plan_not_approved", "Reports follow the plan's approval.")
    period = state.period(command.period_id)
    if period is None:
        raise NotFound("period_not_found", f"The plan has no reporting period {command.period_id}.")
    today = state.local_date(command.now)
    if today < period.ends_on:
        raise Conflict(
            "period_not_over", f"The period {period.period_id} ends on {period.ends_on}."
        )
    current = state.reports.get(period.period_id)
    if current is not None and current.status != "returned":
        raise Conflict(
            "report_submitted", f"The report on {period.period_id} is {current.status} already."
        )
    issues: list[FieldIssue] = []
    codes = {x.code for x in approved.content.indicators}
    seen: set[str] = set()
    for i, a in enumerate(command.actuals):
        if a.code not in codes or a.code in seen:
            issues.append(FieldIssue(f"/actuals/{i}/code", f"not an indicator, or twice: {a.code}"))
        seen.add(a.code)
        for j, digest in enumerate(a.evidence_sha256):
            if not SHA256.match(digest):
                issues.append(
                    FieldIssue(f"/actuals/{i}/evidence_sha256/{j}", "64 lower-case hex digits")
                )
    milestones = {m.milestone_id for m in approved.content.milestones}
    for i, t in enumerate(command.milestones):
        if t.milestone_id not in milestones:
            issues.append(FieldIssue(f"/milestones/{i}/milestone_id", "not a milestone"))
        if t.status is MilestoneStatus.SCHEDULED:
            issues.append(FieldIssue(f"/milestones/{i}/status", "a report moves a milestone"))
        if (t.status in DATED) != (t.met_on is not None) or (t.met_on or today) > today:
            issues.append(
                FieldIssue(f"/milestones/{i}/met_on", "the date met, not later than today")
            )
    measures = {s.measure_id for s in approved.content.support_measures}
    for i, d in enumerate(command.disbursements):
        if d.measure_id not in measures:
            issues.append(FieldIssue(f"/disbursements/{i}/measure_id", "not a support measure"))
        if d.disbursement.amount <= 0 or d.disbursement.on > today:
            issues.append(FieldIssue(f"/disbursements/{i}", "an amount above zero, made by today"))
    if issues:
        raise DomainError("invalid_report", "The report breaks the plan's rules.", issues)
    return [
        ReportSubmitted(
            state.plan_id,
            period.period_id,
            approved.number,
            command.actuals,
            command.milestones,
            command.disbursements,
            command.narrative,
        )
    ]


def _report_awaiting(state: Plan, period_id: str) -> None:
    report = state.reports.get(period_id)
    if report is None or report.status != "submitted":
        raise Conflict("no_report_awaiting", f"No report on {period_id} awaits the operator.")


def _milestone_overdue(command: MarkMilestoneOverdue, state: Plan) -> Sequence[PlanEvent]:
    approved = state.approved
    milestone = (
        None
        if approved is None
        else next(
            (m for m in approved.content.milestones if m.milestone_id == command.milestone_id),
            None,
        )
    )
    if (
        milestone is None
        or command.milestone_id in state.overdue_milestones
        or state.settled_or_claimed(command.milestone_id)
        or state.local_date(command.now) <= milestone.due_on
    ):
        return []
    return [MilestoneOverdue(state.plan_id, milestone.milestone_id, milestone.due_on)]


def _report_overdue(command: MarkReportOverdue, state: Plan) -> Sequence[PlanEvent]:
    period = state.period(command.period_id)
    if (
        period is None
        or period.period_id in state.overdue_reports
        or period.period_id in state.reports
        or state.local_date(command.now) <= period.report_due_on
    ):
        return []
    return [ReportOverdue(state.plan_id, period.period_id, period.report_due_on)]


# --- evolve -------------------------------------------------------------------------------


def _with_version(state: Plan, version: Version) -> Plan:
    kept = tuple(v for v in state.versions if v.number != version.number)
    return replace(state, versions=(*kept, version))


def evolve(state: PlanState, event: PlanEvent) -> PlanState:
    """The plan after one of its events."""
    if isinstance(event, PlanOpened):
        return Plan(event)
    assert isinstance(state, Plan), "a plan's first event opens it"
    match event:
        case PlanDrafted():
            # A redraft replaces the content; the comments it answers stay with the version.
            redrafted = next((v for v in state.versions if v.number == event.version), None)
            comments = redrafted.comments if redrafted is not None else ()
            drafted = Version(event.version, event.content, event.reason, "draft", None, comments)
            return _with_version(state, drafted)
        case PlanSubmitted():
            version = next(v for v in state.versions if v.number == event.version)
            return _with_version(state, replace(version, status="submitted"))
        case PlanReturned():
            version = next(v for v in state.versions if v.number == event.version)
            comments = (*version.comments, event.comments)
            return _with_version(state, replace(version, status="draft", comments=comments))
        case PlanApproved():
            version = next(v for v in state.versions if v.number == event.version)
            tracked = dict(state.milestones)
            for m in version.content.milestones:
                # A version may settle a milestone (an amendment cancels it); otherwise what
                # the reports made of it stands.
                if m.status is not MilestoneStatus.SCHEDULED or m.milestone_id not in tracked:
                    tracked[m.milestone_id] = Tracked(m.status, m.met_on)
            approved = replace(version, status="approved", effective_from=event.effective_from)
            return replace(_with_version(state, approved), milestones=tracked)
        case ReportSubmitted():
            earlier = state.reports.get(event.period_id)
            comments = earlier.comments if earlier is not None else ()
            report = Report(event, "submitted", comments)
            return replace(state, reports={**state.reports, event.period_id: report})
        case ReportReturned():
            report = state.reports[event.period_id]
            returned = replace(
                report, status="returned", comments=(*report.comments, event.comments)
            )
            return replace(state, reports={**state.reports, event.period_id: returned})
        case ReportAccepted():
            report = state.reports[event.period_id]
            tracked = dict(state.milestones)
            for t in report.submitted.milestones:
                tracked[t.milestone_id] = Tracked(t.status, t.met_on)
            accepted = replace(report, status="accepted")
            return replace(
                state, reports={**state.reports, event.period_id: accepted}, milestones=tracked
            )
        case MilestoneOverdue():
            return replace(
                state, overdue_milestones=state.overdue_milestones | {event.milestone_id}
            )
        case ReportOverdue():
            return replace(state, overdue_reports=state.overdue_reports | {event.period_id})
    raise TypeError(f"not a plan event: {event!r}")


DECIDER: Decider[PlanCommand, PlanState, PlanEvent] = Decider(NoPlan(), decide, evolve)
