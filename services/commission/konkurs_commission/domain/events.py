"""The commission's events as plain frozen dataclasses (the protobuf mapping lives in
`adapters/codec.py`), and the values they carry.

Streams: `commission-<call_id>` (the composition), `commission-<call_id>-member-<member_id>`
(a member's name, personal data sealed under its own key), `meeting-<meeting_id>` (scheduling
to the appeal window) and `appeal-<appeal_id>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum


class MemberRole(Enum):
    CHAIR = "chair"
    SECRETARY = "secretary"
    MEMBER = "member"


class VoteChoice(Enum):
    FOR = "for"
    AGAINST = "against"
    ABSTAIN = "abstain"


class DecisionRule(Enum):
    # More votes for than against among the members present who voted for or against.
    SIMPLE_MAJORITY = "simple_majority"
    # More votes for than half of the present members entitled to vote on the candidate.
    MAJORITY_OF_PRESENT = "majority_of_present"


class AppealGround(Enum):
    CONFLICT_OF_INTEREST = "conflict_of_interest"
    QUORUM_OR_COUNT = "quorum_or_count"
    METHODOLOGY_NOT_FOLLOWED = "methodology_not_followed"
    DOCUMENTS_IGNORED = "documents_ignored"
    DEADLINE_OR_NOTICE = "deadline_or_notice"
    OTHER_PROCEDURE = "other_procedure"


@dataclass(frozen=True)
class Rules:
    """What the issue calls configuration, set per call with the composition (and copied
    into each meeting, so a later change does not alter how a held meeting counted)."""

    # Members needed for quorum: ceil(members * numerator / denominator).
    quorum_numerator: int = 2
    quorum_denominator: int = 3
    decision_rule: DecisionRule = DecisionRule.SIMPLE_MAJORITY
    # Whether the chair's vote breaks a tie.
    casting_vote: bool = True
    appeal_window_days: int = 30


@dataclass(frozen=True)
class Member:
    """A member as the composition lists them; the name is in their own stream (sealed)."""

    member_id: str
    role: MemberRole
    position: str
    affiliation_bins: tuple[str, ...] = ()

    @property
    def votes(self) -> bool:
        """The secretary records and approves; the chair and the members vote."""
        return self.role is not MemberRole.SECRETARY


@dataclass(frozen=True)
class Candidate:
    application_id: str
    registration_number: str
    rank: int
    fundable: bool
    failed_thresholds: tuple[str, ...]
    overall: str
    cluster_name: str
    region_code: str
    participant_bins: tuple[str, ...]
    coordinator_bin: str = ""


@dataclass(frozen=True)
class Tally:
    votes_for: int = 0
    votes_against: int = 0
    abstentions: int = 0
    recused: int = 0
    not_voted: int = 0
    casting_vote_used: bool = False


@dataclass(frozen=True)
class DecidedCandidate:
    application_id: str
    registration_number: str
    rank: int
    tally: Tally | None
    rationale: str = ""
    reason: str = ""


# Composition ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommissionComposed:
    call_id: str
    composition_version: int
    members: tuple[Member, ...]
    reason: str
    rules: Rules


@dataclass(frozen=True)
class MemberNamed:
    call_id: str
    member_id: str
    name: str


# Meetings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeetingScheduled:
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
class MeetingOpened:
    meeting_id: str
    present_member_ids: tuple[str, ...]
    quorum_required: int
    quorum_met: bool
    opened_at: datetime


@dataclass(frozen=True)
class AttendanceChanged:
    meeting_id: str
    member_id: str
    present: bool
    quorum_met: bool


@dataclass(frozen=True)
class MemberRecused:
    meeting_id: str
    member_id: str
    application_id: str
    automatic: bool
    matching_bins: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class VoteOpened:
    meeting_id: str
    application_id: str


@dataclass(frozen=True)
class VoteCast:
    meeting_id: str
    application_id: str
    member_id: str
    choice: VoteChoice
    replaces: VoteChoice | None


@dataclass(frozen=True)
class VoteClosed:
    meeting_id: str
    application_id: str
    tally: Tally
    carried: bool


@dataclass(frozen=True)
class DissentingOpinionAttached:
    meeting_id: str
    member_id: str
    application_id: str
    text: str


@dataclass(frozen=True)
class DecisionTaken:
    meeting_id: str
    call_id: str
    selected: tuple[DecidedCandidate, ...]
    declined: tuple[DecidedCandidate, ...]
    reserve_application_ids: tuple[str, ...]
    decided_at: datetime


@dataclass(frozen=True)
class MinutesApproved:
    meeting_id: str
    member_id: str
    role: MemberRole
    minutes_sha256: str


@dataclass(frozen=True)
class DecisionPublished:
    meeting_id: str
    call_id: str
    selected: tuple[DecidedCandidate, ...]
    declined: tuple[DecidedCandidate, ...]
    reserve_application_ids: tuple[str, ...]
    minutes_sha256: str
    published_at: datetime
    appeals_close_at: datetime


@dataclass(frozen=True)
class ClusterSelected:
    call_id: str
    application_id: str
    registration_number: str
    cluster_name: str
    region_code: str
    coordinator_bin: str
    rank: int
    meeting_id: str
    selected_at: datetime
    from_reserve: bool = False


@dataclass(frozen=True)
class ApplicationDeclined:
    call_id: str
    application_id: str
    registration_number: str
    reason: str
    meeting_id: str
    reserve_position: int


@dataclass(frozen=True)
class WinnerReplaced:
    meeting_id: str
    withdrawn_application_id: str
    # "withdrawn" or "disqualified".
    cause: str
    reason: str
    # Empty when the reserve list is exhausted.
    replacement_application_id: str


@dataclass(frozen=True)
class AppealWindowClosed:
    meeting_id: str
    closed_at: datetime


# Appeals -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppealLodged:
    appeal_id: str
    call_id: str
    application_id: str
    meeting_id: str
    applicant_bin: str
    ground: AppealGround
    explanation: str
    lodged_at: datetime


@dataclass(frozen=True)
class AppealPanelNamed:
    appeal_id: str
    member_ids: tuple[str, ...]


@dataclass(frozen=True)
class AppealRejected:
    appeal_id: str
    application_id: str
    reasons: str
    decided_by: str
    decided_at: datetime


@dataclass(frozen=True)
class AppealUpheld:
    appeal_id: str
    application_id: str
    reasons: str
    decided_by: str
    decided_at: datetime


@dataclass(frozen=True)
class ReevaluationRequested:
    call_id: str
    application_id: str
    appeal_id: str
    reason: str
    decided_at: datetime


MeetingEvent = (
    MeetingScheduled
    | MeetingOpened
    | AttendanceChanged
    | MemberRecused
    | VoteOpened
    | VoteCast
    | VoteClosed
    | DissentingOpinionAttached
    | DecisionTaken
    | MinutesApproved
    | DecisionPublished
    | ClusterSelected
    | ApplicationDeclined
    | WinnerReplaced
    | AppealWindowClosed
)
AppealEvent = (
    AppealLodged | AppealPanelNamed | AppealRejected | AppealUpheld | ReevaluationRequested
)
CompositionEvent = CommissionComposed | MemberNamed
