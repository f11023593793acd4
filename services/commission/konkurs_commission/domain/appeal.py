"""An appeal (stream `appeal-<appeal_id>`): lodged by an applicant on its own application
within the appeal window of the published decision, decided by the chair or a named panel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from konkurs_commission.domain.acting import Caller, require_secretary
from konkurs_commission.domain.events import (
    AppealEvent,
    AppealGround,
    AppealLodged,
    AppealPanelNamed,
    AppealRejected,
    AppealUpheld,
    Member,
    MemberRole,
    ReevaluationRequested,
)
from konkurs_platform.domain import Conflict, Decider, DomainError, FieldIssue, Forbidden


@dataclass(frozen=True)
class PublishedDecision:
    """What an appeal needs of the meeting it appeals (read from the meeting's stream)."""

    meeting_id: str
    call_id: str
    # Application id -> coordinator BIN, for every candidate the decision concerns.
    coordinators: tuple[tuple[str, str], ...]
    appeals_close_at: datetime
    window_closed: bool
    # Member id -> role, of the meeting's members.
    members: tuple[tuple[str, MemberRole], ...]


@dataclass(frozen=True)
class LodgeAppeal:
    appeal_id: str
    application_id: str
    applicant_bin: str
    ground: AppealGround
    explanation: str
    decision: PublishedDecision
    now: datetime


@dataclass(frozen=True)
class NamePanel:
    member_ids: tuple[str, ...]
    decision: PublishedDecision
    # The secretary of the call's commission as it stands now (`commission`), who names
    # the panel for the commission: the meeting's may have left it since.
    by: Caller
    commission: tuple[Member, ...]


@dataclass(frozen=True)
class DecideAppeal:
    upheld: bool
    reasons: str
    decided_by: str
    # The chair of the meeting appealed: decides unless the commission named a panel.
    chair_id: str
    now: datetime


AppealCommand = LodgeAppeal | NamePanel | DecideAppeal


@dataclass(frozen=True)
class Appeal:
    lodged: AppealLodged | None = None
    panel: tuple[str, ...] = ()
    decided: bool = False


def _lodge(c: LodgeAppeal, state: Appeal) -> list[AppealEvent]:
    if state.lodged is not None:
        raise Conflict("appeal_exists", f"Appeal {c.appeal_id} is lodged already.")
    d = c.decision
    coordinators = dict(d.coordinators)
    if c.application_id not in coordinators:
        raise DomainError(
            "not_decided",
            f"The decision of meeting {d.meeting_id} does not concern {c.application_id}.",
            [FieldIssue("/application_id", "not a candidate of this decision")],
        )
    if coordinators[c.application_id] != c.applicant_bin:
        raise Forbidden("not_own_application", "An applicant appeals on its own application only.")
    if d.window_closed or c.now >= d.appeals_close_at:
        raise Conflict(
            "appeal_window_closed",
            f"The appeal window closed at {d.appeals_close_at.isoformat()} "
            f"(the deadline was before then).",
        )
    if not c.explanation.strip():
        raise DomainError(
            "explanation_required",
            "An appeal explains its ground.",
            [FieldIssue("/explanation", "must not be empty")],
        )
    return [
        AppealLodged(
            c.appeal_id,
            d.call_id,
            c.application_id,
            d.meeting_id,
            c.applicant_bin,
            c.ground,
            c.explanation,
            c.now,
        )
    ]


def _panel(c: NamePanel, state: Appeal) -> list[AppealEvent]:
    if state.lodged is None:
        raise Conflict("appeal_not_found", "No such appeal.")
    require_secretary(c.by, c.commission, f"the commission of {state.lodged.call_id}")
    if state.decided:
        raise Conflict("appeal_decided", "The appeal is decided.")
    members = dict(c.decision.members)
    unknown = [
        m for m in c.member_ids if members.get(m) not in (MemberRole.CHAIR, MemberRole.MEMBER)
    ]
    if not c.member_ids or unknown:
        raise DomainError(
            "invalid_panel",
            "A panel is one or more voting members of the meeting.",
            [FieldIssue("/member_ids", f"not a voting member: {m}") for m in unknown]
            or [FieldIssue("/member_ids", "must not be empty")],
        )
    return [AppealPanelNamed(state.lodged.appeal_id, c.member_ids)]


def _decide_appeal(c: DecideAppeal, state: Appeal) -> list[AppealEvent]:
    lodged = state.lodged
    if lodged is None:
        raise Conflict("appeal_not_found", "No such appeal.")
    if state.decided:
        raise Conflict("appeal_decided", "The appeal is decided.")
    deciders = state.panel or (c.chair_id,)
    if c.decided_by not in deciders:
        raise Forbidden(
            "not_on_panel", "The chair, or the panel the commission named, decides an appeal."
        )
    if not c.reasons.strip():
        raise DomainError(
            "reasons_required",
            "A decision gives reasons.",
            [FieldIssue("/reasons", "must not be empty")],
        )
    if not c.upheld:
        return [
            AppealRejected(lodged.appeal_id, lodged.application_id, c.reasons, c.decided_by, c.now)
        ]
    return [
        AppealUpheld(lodged.appeal_id, lodged.application_id, c.reasons, c.decided_by, c.now),
        ReevaluationRequested(
            lodged.call_id,
            lodged.application_id,
            lodged.appeal_id,
            f"{lodged.ground.value}: {c.reasons}",
            c.now,
        ),
    ]


def decide(command: AppealCommand, state: Appeal) -> Sequence[AppealEvent]:
    """The events `command` causes on the appeal, or a `DomainError`."""
    match command:
        case LodgeAppeal():
            return _lodge(command, state)
        case NamePanel():
            return _panel(command, state)
        case DecideAppeal():
            return _decide_appeal(command, state)


def evolve(state: Appeal, event: AppealEvent) -> Appeal:
    match event:
        case AppealLodged():
            return Appeal(lodged=event)
        case AppealPanelNamed():
            return Appeal(state.lodged, event.member_ids, state.decided)
        case AppealRejected() | AppealUpheld():
            return Appeal(state.lodged, state.panel, True)
        case _:
            return state


appeal_decider: Decider[AppealCommand, Appeal, AppealEvent] = Decider(Appeal(), decide, evolve)
