"""Who acts on the commission's aggregates, and the offices the rules of procedure give them.

A role in a token says only what kind of person signs in (any call's secretary has the role
`commission_secretary`); the office is held in one composition. So every act of the secretary
or the chair names its caller, and the decider checks the caller against the members of the
composition the act belongs to: the meeting's (the composition it was scheduled with) for a
meeting, the call's current one for a new composition or an appeal's panel. Scheduling a
meeting is checked by the handler that makes the command from the current composition
(`app/commission.py`), with `require_secretary` too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from konkurs_commission.domain.events import Member, MemberRole
from konkurs_platform.domain import Forbidden


class Office(StrEnum):
    """What the caller signed in as (the token's role, in the commission's words)."""

    # The programme's operator (or an admin): records a call's first composition only.
    OPERATOR = "operator"
    # A commission secretary: acts as the secretary of the composition naming them so.
    SECRETARY = "secretary"
    # A commission member: the chair signs in as one too.
    MEMBER = "member"


@dataclass(frozen=True)
class Caller:
    """The token's subject (a member id, for the secretary and the members) and office."""

    subject: str
    office: Office


def holder(members: Sequence[Member], role: MemberRole) -> str:
    """The member id of the one member holding `role` ("" when none does)."""
    return next((m.member_id for m in members if m.role is role), "")


def require_secretary(by: Caller, members: Sequence[Member], of: str) -> None:
    """Refuse (`Forbidden`) anyone but the secretary among `members`, signed in as such;
    `of` names the commission in the refusal ("this meeting's commission")."""
    if by.office is not Office.SECRETARY or by.subject != holder(members, MemberRole.SECRETARY):
        raise Forbidden("not_the_secretary", f"{by.subject} is not the secretary of {of}.")


def require_chair_or_secretary(by: Caller, members: Sequence[Member], of: str) -> MemberRole:
    """The office `by` holds among `members` if it is the chair's (signed in as a member) or
    the secretary's (signed in as the secretary); `Forbidden` otherwise."""
    if by.office is Office.MEMBER and by.subject == holder(members, MemberRole.CHAIR):
        return MemberRole.CHAIR
    if by.office is Office.SECRETARY and by.subject == holder(members, MemberRole.SECRETARY):
        return MemberRole.SECRETARY
    raise Forbidden(
        "not_the_chair_or_secretary",
        f"{by.subject} is neither the chair nor the secretary of {of}.",
    )
