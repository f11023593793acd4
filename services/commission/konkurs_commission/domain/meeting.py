"""A meeting (stream `meeting-<meeting_id>`): scheduled on a ranking, opened with its
attendance, votes candidate by candidate within the call's quota, decides, approves its
minutes, publishes, and keeps the appeal window.

The quota is the aggregate's: one vote is open at a time, a vote cannot be opened once as
many candidates have carried as the quota allows, and every command is appended with the
version it was decided on, so concurrent votes and closes from many members serialise on the
stream and the decision never selects more than the quota.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from konkurs_commission.domain.acting import (
    Caller,
    require_chair_or_secretary,
    require_secretary,
)
from konkurs_commission.domain.events import (
    AppealWindowClosed,
    ApplicationDeclined,
    AttendanceChanged,
    Candidate,
    ClusterSelected,
    DecidedCandidate,
    DecisionPublished,
    DecisionRule,
    DecisionTaken,
    DissentingOpinionAttached,
    MeetingEvent,
    MeetingOpened,
    MeetingScheduled,
    Member,
    MemberRecused,
    MemberRole,
    MinutesApproved,
    Rules,
    Tally,
    VoteCast,
    VoteChoice,
    VoteClosed,
    VoteOpened,
    WinnerReplaced,
)
from konkurs_commission.domain.minutes import build_minutes, minutes_sha256
from konkurs_platform.domain import Conflict, Decider, DomainError, FieldIssue, Forbidden, NotFound

# What an automatic recusal says (the matching BINs are in their own field, so that the
# reason can be shown to other applicants while the BINs are not).
AUTOMATIC_REASON = "an affiliation of the member takes part in the candidate"
# How a refusal names the commission whose secretary or chair may act on a meeting.
THIS_COMMISSION = "this meeting's commission"


# Commands ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleMeeting:
    meeting_id: str
    call_id: str
    scheduled_for: datetime
    venue: str
    ranking_event_id: str
    ranking_version: int
    ranking_content_hash: str
    candidates: tuple[Candidate, ...]
    quota: int
    composition_version: int
    members: tuple[Member, ...]
    reconsidered: tuple[str, ...]
    time_zone: str
    rules: Rules


@dataclass(frozen=True)
class OpenMeeting:
    present_member_ids: tuple[str, ...]
    now: datetime
    by: Caller


@dataclass(frozen=True)
class ChangeAttendance:
    member_id: str
    present: bool
    by: Caller


@dataclass(frozen=True)
class DeclareRecusal:
    member_id: str
    application_id: str
    reason: str


@dataclass(frozen=True)
class OpenVote:
    application_id: str
    by: Caller


@dataclass(frozen=True)
class CastVote:
    member_id: str
    application_id: str
    choice: VoteChoice


@dataclass(frozen=True)
class CloseVote:
    application_id: str
    by: Caller


@dataclass(frozen=True)
class AttachDissentingOpinion:
    member_id: str
    application_id: str
    text: str


@dataclass(frozen=True)
class TakeDecision:
    # Application id -> why the commission departed from the ranking in selecting it.
    rationales: Mapping[str, str]
    reserve_application_ids: tuple[str, ...]
    now: datetime
    by: Caller


@dataclass(frozen=True)
class ApproveMinutes:
    # The chair or the secretary, who approves in their own name.
    by: Caller
    # The hash of the minutes they read: approving other minutes is refused.
    minutes_sha256: str


@dataclass(frozen=True)
class PublishDecision:
    now: datetime
    by: Caller


@dataclass(frozen=True)
class ReplaceWinner:
    """A published winner withdrew or was disqualified: the reserve list's next takes the
    place."""

    application_id: str
    cause: str
    reason: str
    now: datetime
    by: Caller


@dataclass(frozen=True)
class CloseAppealWindow:
    now: datetime


MeetingCommand = (
    ScheduleMeeting
    | OpenMeeting
    | ChangeAttendance
    | DeclareRecusal
    | OpenVote
    | CastVote
    | CloseVote
    | AttachDissentingOpinion
    | TakeDecision
    | ApproveMinutes
    | PublishDecision
    | ReplaceWinner
    | CloseAppealWindow
)


# State ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Meeting:
    scheduled: MeetingScheduled | None = None
    opened: MeetingOpened | None = None
    present: frozenset[str] = frozenset()
    quorum_met: bool = False
    # (member id, application id) of every recusal.
    recusals: frozenset[tuple[str, str]] = frozenset()
    open_vote: str | None = None
    # application id -> member id -> counted vote.
    votes: Mapping[str, Mapping[str, VoteChoice]] = field(default_factory=dict)
    closed: Mapping[str, VoteClosed] = field(default_factory=dict)
    decision: DecisionTaken | None = None
    # member id -> (role, hash) of each approval.
    approvals: Mapping[str, tuple[MemberRole, str]] = field(default_factory=dict)
    published: DecisionPublished | None = None
    window_closed: bool = False
    # Winners who withdrew or were disqualified, and the reserves who took their places.
    replaced: tuple[str, ...] = ()
    from_reserve: tuple[str, ...] = ()
    # The events the minutes are built from, in order (until the publication).
    record: tuple[MeetingEvent, ...] = ()

    def member(self, member_id: str) -> Member | None:
        assert self.scheduled is not None
        return next((m for m in self.scheduled.members if m.member_id == member_id), None)

    def candidate(self, application_id: str) -> Candidate | None:
        assert self.scheduled is not None
        return next(
            (c for c in self.scheduled.candidates if c.application_id == application_id), None
        )

    @property
    def carried(self) -> tuple[str, ...]:
        """The candidates carried so far, in ranking order."""
        assert self.scheduled is not None
        return tuple(
            c.application_id
            for c in self.scheduled.candidates
            if (v := self.closed.get(c.application_id)) is not None and v.carried
        )

    def minutes_sha256(self) -> str:
        """The hash of the minutes as they stand (names play no part in it)."""
        return minutes_sha256(build_minutes(self.record, names={}))


def quorum_required(rules: Rules, members: int) -> int:
    """Members needed for quorum: ceil(members * numerator / denominator)."""
    return math.ceil(members * rules.quorum_numerator / rules.quorum_denominator)


def appeals_close_at(published_at: datetime, time_zone: str, days: int) -> datetime:
    """The end (exclusive) of the appeal window: midnight after the day of publication in the
    call's time zone, plus the appeal days, as an instant."""
    zone = ZoneInfo(time_zone)
    local_day = published_at.astimezone(zone).date()
    end = datetime.combine(local_day + timedelta(days=1 + days), time(0), tzinfo=zone)
    return end.astimezone(ZoneInfo("UTC"))


# decide --------------------------------------------------------------------------------------


def _scheduled(state: Meeting) -> MeetingScheduled:
    if state.scheduled is None:
        raise NotFound("meeting_not_found", "No such meeting.")
    return state.scheduled


def _require_quorum(state: Meeting) -> None:
    scheduled = _scheduled(state)
    if state.opened is None:
        raise Conflict("meeting_not_open", "The meeting has not been opened.")
    if not state.quorum_met:
        required = state.opened.quorum_required
        missing = required - len(state.present)
        raise Conflict(
            "no_quorum",
            f"The meeting has no quorum: {len(state.present)} of {len(scheduled.members)} "
            f"members present, {required} required; {missing} missing.",
        )


def _require_undecided(state: Meeting) -> None:
    if state.decision is not None:
        raise Conflict("decision_taken", "The commission has taken its decision already.")


def _voter(state: Meeting, member_id: str, application_id: str) -> Member:
    member = state.member(member_id)
    if member is None:
        raise Forbidden("not_a_member", f"{member_id} is not a member of this meeting.")
    if not member.votes:
        raise Forbidden("secretary_does_not_vote", "The secretary does not vote.")
    if member_id not in state.present:
        raise Conflict("member_absent", f"{member_id} is not present.")
    if (member_id, application_id) in state.recusals:
        raise Forbidden("member_recused", f"{member_id} is recused for {application_id}.")
    return member


def _schedule(c: ScheduleMeeting, state: Meeting) -> list[MeetingEvent]:
    if state.scheduled is not None:
        raise Conflict("meeting_exists", f"Meeting {c.meeting_id} is scheduled already.")
    issues = []
    if c.quota < 1:
        issues.append(FieldIssue("/quota", "the call's quota must be at least 1"))
    if not c.candidates:
        issues.append(FieldIssue("/candidates", "the ranking has no candidates"))
    if not any(m.role is MemberRole.CHAIR for m in c.members):
        issues.append(FieldIssue("/members", "the commission has no chair"))
    if not c.venue.strip():
        issues.append(FieldIssue("/venue", "must not be empty"))
    if issues:
        raise DomainError("invalid_meeting", "The meeting cannot be scheduled.", issues)
    return [
        MeetingScheduled(
            c.meeting_id,
            c.call_id,
            c.scheduled_for,
            c.venue,
            c.ranking_event_id,
            c.ranking_version,
            c.ranking_content_hash,
            c.candidates,
            c.quota,
            c.composition_version,
            c.members,
            c.reconsidered,
            c.time_zone,
            c.rules,
        )
    ]


def _open(c: OpenMeeting, state: Meeting) -> list[MeetingEvent]:
    scheduled = _scheduled(state)
    require_secretary(c.by, scheduled.members, THIS_COMMISSION)
    if state.opened is not None:
        raise Conflict("meeting_open", "The meeting is open already.")
    ids = {m.member_id for m in scheduled.members}
    unknown = [m for m in c.present_member_ids if m not in ids]
    if unknown:
        raise DomainError(
            "unknown_members",
            f"Not members of this meeting: {', '.join(unknown)}.",
            [FieldIssue("/present_member_ids", f"unknown member {m}") for m in unknown],
        )
    present = tuple(m.member_id for m in scheduled.members if m.member_id in c.present_member_ids)
    required = quorum_required(scheduled.rules, len(scheduled.members))
    events: list[MeetingEvent] = [
        MeetingOpened(scheduled.meeting_id, present, required, len(present) >= required, c.now)
    ]
    # Every member's affiliations against every candidate's participants, present or not: a
    # member who arrives later is recused already.
    for candidate in scheduled.candidates:
        for member in scheduled.members:
            matching = tuple(b for b in member.affiliation_bins if b in candidate.participant_bins)
            if matching and member.votes:
                events.append(
                    MemberRecused(
                        scheduled.meeting_id,
                        member.member_id,
                        candidate.application_id,
                        True,
                        matching,
                        AUTOMATIC_REASON,
                    )
                )
    return events


def _attendance(c: ChangeAttendance, state: Meeting) -> list[MeetingEvent]:
    scheduled = _scheduled(state)
    require_secretary(c.by, scheduled.members, THIS_COMMISSION)
    if state.opened is None:
        raise Conflict("meeting_not_open", "Attendance changes after the opening.")
    _require_undecided(state)
    if state.member(c.member_id) is None:
        raise NotFound("member_not_found", f"{c.member_id} is not a member of this meeting.")
    if (c.member_id in state.present) == c.present:
        return []
    count = len(state.present) + (1 if c.present else -1)
    met = count >= state.opened.quorum_required
    return [AttendanceChanged(scheduled.meeting_id, c.member_id, c.present, met)]


def _recuse(c: DeclareRecusal, state: Meeting) -> list[MeetingEvent]:
    scheduled = _scheduled(state)
    if state.opened is None:
        raise Conflict("meeting_not_open", "A recusal is declared in the meeting.")
    _require_undecided(state)
    if state.member(c.member_id) is None:
        raise Forbidden("not_a_member", f"{c.member_id} is not a member of this meeting.")
    if state.candidate(c.application_id) is None:
        raise NotFound("candidate_not_found", f"{c.application_id} is not on the agenda.")
    if (c.member_id, c.application_id) in state.recusals:
        return []
    if not c.reason.strip():
        raise DomainError(
            "reason_required", "A recusal says why.", [FieldIssue("/reason", "must not be empty")]
        )
    if c.application_id in state.closed or c.member_id in state.votes.get(c.application_id, {}):
        raise Conflict("voted_already", f"{c.member_id} has voted on {c.application_id} already.")
    return [MemberRecused(scheduled.meeting_id, c.member_id, c.application_id, False, (), c.reason)]


def _open_vote(c: OpenVote, state: Meeting) -> list[MeetingEvent]:
    scheduled = _scheduled(state)
    require_chair_or_secretary(c.by, scheduled.members, THIS_COMMISSION)
    _require_quorum(state)
    _require_undecided(state)
    if state.candidate(c.application_id) is None:
        raise NotFound("candidate_not_found", f"{c.application_id} is not on the agenda.")
    if state.open_vote == c.application_id:
        return []
    if state.open_vote is not None:
        raise Conflict("vote_open", f"The vote on {state.open_vote} is still open.")
    if c.application_id in state.closed:
        raise Conflict("vote_held", f"The vote on {c.application_id} was held already.")
    if len(state.carried) >= scheduled.quota:
        raise Conflict(
            "quota_filled",
            f"{len(state.carried)} candidates carried: the call's quota of {scheduled.quota} "
            "is filled.",
        )
    return [VoteOpened(scheduled.meeting_id, c.application_id)]


def _cast(c: CastVote, state: Meeting) -> list[MeetingEvent]:
    scheduled = _scheduled(state)
    _require_quorum(state)
    if state.open_vote != c.application_id:
        raise Conflict("vote_not_open", f"The vote on {c.application_id} is not open.")
    _voter(state, c.member_id, c.application_id)
    before = state.votes.get(c.application_id, {}).get(c.member_id)
    if before is c.choice:
        return []
    return [VoteCast(scheduled.meeting_id, c.application_id, c.member_id, c.choice, before)]


def tally(state: Meeting, application_id: str) -> tuple[Tally, bool]:
    """The count of the open vote on `application_id` and whether it carries under the
    meeting's decision rule (the chair's vote breaks a tie where the rules say so)."""
    scheduled = _scheduled(state)
    cast = state.votes.get(application_id, {})
    recused = {m for m, a in state.recusals if a == application_id}
    entitled = [
        m.member_id
        for m in scheduled.members
        if m.votes and m.member_id in state.present and m.member_id not in recused
    ]
    counted = {m: v for m, v in cast.items() if m in entitled}
    votes_for = sum(v is VoteChoice.FOR for v in counted.values())
    against = sum(v is VoteChoice.AGAINST for v in counted.values())
    abstain = sum(v is VoteChoice.ABSTAIN for v in counted.values())
    rules = scheduled.rules
    casting = False
    if rules.decision_rule is DecisionRule.MAJORITY_OF_PRESENT:
        carried = 2 * votes_for > len(entitled)
        tie = 2 * votes_for == len(entitled) and votes_for > 0
    else:
        carried = votes_for > against
        tie = votes_for == against and votes_for > 0
    chair = next((m.member_id for m in scheduled.members if m.role is MemberRole.CHAIR), "")
    chair_vote = counted.get(chair)
    if tie and rules.casting_vote and chair_vote in (VoteChoice.FOR, VoteChoice.AGAINST):
        casting = True
        carried = chair_vote is VoteChoice.FOR
    result = Tally(
        votes_for=votes_for,
        votes_against=against,
        abstentions=abstain,
        recused=len(recused),
        not_voted=len(entitled) - len(counted),
        casting_vote_used=casting,
    )
    return result, carried


def _close_vote(c: CloseVote, state: Meeting) -> list[MeetingEvent]:
    scheduled = _scheduled(state)
    require_chair_or_secretary(c.by, scheduled.members, THIS_COMMISSION)
    _require_quorum(state)
    if state.open_vote != c.application_id:
        if c.application_id in state.closed:
            return []
        raise Conflict("vote_not_open", f"The vote on {c.application_id} is not open.")
    counted, carried = tally(state, c.application_id)
    return [VoteClosed(scheduled.meeting_id, c.application_id, counted, carried)]


def _dissent(c: AttachDissentingOpinion, state: Meeting) -> list[MeetingEvent]:
    scheduled = _scheduled(state)
    if state.opened is None:
        raise Conflict("meeting_not_open", "The meeting has not been opened.")
    if state.approvals:
        raise Conflict("minutes_approved", "The minutes are approved: nothing can be added.")
    if state.member(c.member_id) is None:
        raise Forbidden("not_a_member", f"{c.member_id} is not a member of this meeting.")
    if c.application_id and state.candidate(c.application_id) is None:
        raise NotFound("candidate_not_found", f"{c.application_id} is not on the agenda.")
    if not c.text.strip():
        raise DomainError(
            "text_required", "An opinion has words.", [FieldIssue("/text", "must not be empty")]
        )
    return [DissentingOpinionAttached(scheduled.meeting_id, c.member_id, c.application_id, c.text)]


def rationale_required(candidates: Sequence[Candidate], selected: set[str], c: Candidate) -> bool:
    """Whether selecting `c` departs from the ranking: it failed a threshold, or a fundable
    candidate ranked above it is not selected."""
    if c.failed_thresholds or not c.fundable:
        return True
    return any(
        o.fundable and o.rank < c.rank and o.application_id not in selected for o in candidates
    )


def _decide_meeting(c: TakeDecision, state: Meeting) -> list[MeetingEvent]:
    scheduled = _scheduled(state)
    require_secretary(c.by, scheduled.members, THIS_COMMISSION)
    _require_quorum(state)
    _require_undecided(state)
    if state.open_vote is not None:
        raise Conflict("vote_open", f"The vote on {state.open_vote} is still open.")
    carried = set(state.carried)
    # Held by OpenVote already; checked again because a decision above the quota must be
    # impossible whatever path led here.
    if len(carried) > scheduled.quota:
        raise Conflict("quota_exceeded", "More candidates carried than the quota allows.")
    issues = []
    selected: list[DecidedCandidate] = []
    declined: list[DecidedCandidate] = []
    for cand in scheduled.candidates:
        closed = state.closed.get(cand.application_id)
        count = None if closed is None else closed.tally
        if cand.application_id in carried:
            rationale = c.rationales.get(cand.application_id, "").strip()
            if not rationale and rationale_required(scheduled.candidates, carried, cand):
                issues.append(
                    FieldIssue(
                        f"/rationales/{cand.application_id}",
                        f"selecting rank {cand.rank} departs from the ranking: a rationale "
                        "is required",
                    )
                )
            selected.append(
                DecidedCandidate(
                    cand.application_id, cand.registration_number, cand.rank, count, rationale
                )
            )
            continue
        if closed is not None:
            reason = (
                f"not carried ({closed.tally.votes_for} for, {closed.tally.votes_against} "
                f"against, {closed.tally.abstentions} abstaining)"
            )
        elif len(carried) >= scheduled.quota:
            reason = "quota filled"
        elif not cand.fundable:
            reason = "below threshold"
        else:
            reason = "not put to the vote"
        declined.append(
            DecidedCandidate(
                cand.application_id, cand.registration_number, cand.rank, count, "", reason
            )
        )
    stray = [a for a in c.rationales if a not in carried]
    issues += [FieldIssue(f"/rationales/{a}", "not a selected candidate") for a in stray]
    declined_ids = {d.application_id for d in declined}
    for i, a in enumerate(c.reserve_application_ids):
        if a not in declined_ids:
            issues.append(FieldIssue(f"/reserve_application_ids/{i}", "not a declined candidate"))
        elif a in c.reserve_application_ids[:i]:
            issues.append(FieldIssue(f"/reserve_application_ids/{i}", "listed twice"))
    if issues:
        raise DomainError("invalid_decision", "The decision cannot be taken as sent.", issues)
    return [
        DecisionTaken(
            scheduled.meeting_id,
            scheduled.call_id,
            tuple(selected),
            tuple(declined),
            c.reserve_application_ids,
            c.now,
        )
    ]


def _approve(c: ApproveMinutes, state: Meeting) -> list[MeetingEvent]:
    scheduled = _scheduled(state)
    role = require_chair_or_secretary(c.by, scheduled.members, THIS_COMMISSION)
    if state.decision is None:
        raise Conflict("no_decision", "The minutes are approved after the decision.")
    current = state.minutes_sha256()
    if c.minutes_sha256 != current:
        raise Conflict(
            "minutes_changed",
            f"The minutes approved ({c.minutes_sha256}) are not the minutes as they stand "
            f"({current}).",
        )
    if c.by.subject in state.approvals:
        return []
    return [MinutesApproved(scheduled.meeting_id, c.by.subject, role, current)]


def _publish(c: PublishDecision, state: Meeting) -> list[MeetingEvent]:
    scheduled = _scheduled(state)
    require_secretary(c.by, scheduled.members, THIS_COMMISSION)
    decision = state.decision
    if decision is None:
        raise Conflict("no_decision", "There is no decision to publish.")
    if state.published is not None:
        return []
    roles = {role for role, _ in state.approvals.values()}
    missing = {MemberRole.CHAIR, MemberRole.SECRETARY} - roles
    if missing:
        names = " and ".join(sorted(r.value for r in missing))
        raise Conflict("minutes_not_approved", f"The minutes await the {names}'s approval.")
    digest = state.minutes_sha256()
    closes = appeals_close_at(c.now, scheduled.time_zone, scheduled.rules.appeal_window_days)
    events: list[MeetingEvent] = [
        DecisionPublished(
            scheduled.meeting_id,
            scheduled.call_id,
            decision.selected,
            decision.declined,
            decision.reserve_application_ids,
            digest,
            c.now,
            closes,
        )
    ]
    for s in decision.selected:
        cand = state.candidate(s.application_id)
        assert cand is not None
        events.append(
            ClusterSelected(
                scheduled.call_id,
                cand.application_id,
                cand.registration_number,
                cand.cluster_name,
                cand.region_code,
                cand.coordinator_bin,
                cand.rank,
                scheduled.meeting_id,
                c.now,
            )
        )
    for d in decision.declined:
        reserve = decision.reserve_application_ids
        position = reserve.index(d.application_id) + 1 if d.application_id in reserve else 0
        events.append(
            ApplicationDeclined(
                scheduled.call_id,
                d.application_id,
                d.registration_number,
                d.reason,
                scheduled.meeting_id,
                position,
            )
        )
    return events


CAUSES = ("withdrawn", "disqualified")


def _replace_winner(c: ReplaceWinner, state: Meeting) -> list[MeetingEvent]:
    scheduled = _scheduled(state)
    require_secretary(c.by, scheduled.members, THIS_COMMISSION)
    published = state.published
    if published is None:
        raise Conflict("not_published", "A winner is replaced after the decision is published.")
    winners = [s.application_id for s in published.selected] + list(state.from_reserve)
    if c.application_id in state.replaced:
        raise Conflict("replaced_already", f"{c.application_id} was replaced already.")
    if c.application_id not in winners:
        raise NotFound("not_a_winner", f"{c.application_id} is not a winner of this meeting.")
    issues = []
    if c.cause not in CAUSES:
        issues.append(FieldIssue("/cause", f"one of {', '.join(CAUSES)}"))
    if not c.reason.strip():
        issues.append(FieldIssue("/reason", "must not be empty"))
    if issues:
        raise DomainError("invalid_replacement", "The replacement cannot be recorded.", issues)
    # The reserve list in order, skipping who took a place before or left.
    taken = set(winners) | set(state.replaced)
    replacement = next((a for a in published.reserve_application_ids if a not in taken), "")
    events: list[MeetingEvent] = [
        WinnerReplaced(scheduled.meeting_id, c.application_id, c.cause, c.reason, replacement)
    ]
    cand = state.candidate(replacement) if replacement else None
    if cand is not None:
        events.append(
            ClusterSelected(
                scheduled.call_id,
                cand.application_id,
                cand.registration_number,
                cand.cluster_name,
                cand.region_code,
                cand.coordinator_bin,
                cand.rank,
                scheduled.meeting_id,
                c.now,
                from_reserve=True,
            )
        )
    return events


def _close_window(c: CloseAppealWindow, state: Meeting) -> list[MeetingEvent]:
    scheduled = _scheduled(state)
    if state.published is None:
        raise Conflict("not_published", "The decision is not published.")
    if state.window_closed:
        return []
    if c.now < state.published.appeals_close_at:
        raise Conflict(
            "window_open", f"The appeal window is open until {state.published.appeals_close_at}."
        )
    return [AppealWindowClosed(scheduled.meeting_id, state.published.appeals_close_at)]


def decide(command: MeetingCommand, state: Meeting) -> Sequence[MeetingEvent]:
    """The events `command` causes on the meeting, or a `DomainError`."""
    match command:
        case ScheduleMeeting():
            return _schedule(command, state)
        case OpenMeeting():
            return _open(command, state)
        case ChangeAttendance():
            return _attendance(command, state)
        case DeclareRecusal():
            return _recuse(command, state)
        case OpenVote():
            return _open_vote(command, state)
        case CastVote():
            return _cast(command, state)
        case CloseVote():
            return _close_vote(command, state)
        case AttachDissentingOpinion():
            return _dissent(command, state)
        case TakeDecision():
            return _decide_meeting(command, state)
        case ApproveMinutes():
            return _approve(command, state)
        case PublishDecision():
            return _publish(command, state)
        case ReplaceWinner():
            return _replace_winner(command, state)
        case CloseAppealWindow():
            return _close_window(command, state)


def evolve(state: Meeting, event: MeetingEvent) -> Meeting:
    """The meeting after `event`."""
    if state.published is None and not isinstance(event, DecisionPublished):
        state = replace(state, record=(*state.record, event))
    match event:
        case MeetingScheduled():
            return replace(state, scheduled=event)
        case MeetingOpened():
            present = frozenset(event.present_member_ids)
            return replace(state, opened=event, present=present, quorum_met=event.quorum_met)
        case AttendanceChanged():
            present = (
                state.present | {event.member_id}
                if event.present
                else state.present - {event.member_id}
            )
            return replace(state, present=present, quorum_met=event.quorum_met)
        case MemberRecused():
            return replace(
                state, recusals=state.recusals | {(event.member_id, event.application_id)}
            )
        case VoteOpened():
            return replace(state, open_vote=event.application_id)
        case VoteCast():
            on = {**state.votes.get(event.application_id, {}), event.member_id: event.choice}
            return replace(state, votes={**state.votes, event.application_id: on})
        case VoteClosed():
            return replace(
                state, open_vote=None, closed={**state.closed, event.application_id: event}
            )
        case DecisionTaken():
            return replace(state, decision=event)
        case MinutesApproved():
            approval = (event.role, event.minutes_sha256)
            return replace(state, approvals={**state.approvals, event.member_id: approval})
        case DecisionPublished():
            return replace(state, published=event)
        case AppealWindowClosed():
            return replace(state, window_closed=True)
        case WinnerReplaced():
            taken = (event.replacement_application_id,) if event.replacement_application_id else ()
            return replace(
                state,
                replaced=(*state.replaced, event.withdrawn_application_id),
                from_reserve=(*state.from_reserve, *taken),
            )
        case _:
            return state


meeting_decider: Decider[MeetingCommand, Meeting, MeetingEvent] = Decider(Meeting(), decide, evolve)
