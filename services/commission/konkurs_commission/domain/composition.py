"""A call's commission (stream `commission-<call_id>`): its members and rules, versioned; and
a member's name (stream `commission-<call_id>-member-<member_id>`, sealed as personal data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from konkurs_commission.domain.acting import Caller, Office, require_secretary
from konkurs_commission.domain.events import (
    CommissionComposed,
    Member,
    MemberNamed,
    MemberRole,
    Rules,
)
from konkurs_platform.domain import Decider, DomainError, FieldIssue, Forbidden


@dataclass(frozen=True)
class ComposeCommission:
    call_id: str
    members: tuple[Member, ...]
    # Member id -> full name (personal data, kept in the member's own stream).
    names: Mapping[str, str]
    reason: str
    rules: Rules
    by: Caller


@dataclass(frozen=True)
class Composition:
    version: int = 0
    members: tuple[Member, ...] = ()
    rules: Rules = field(default_factory=Rules)


def _issues(c: ComposeCommission, first: bool) -> list[FieldIssue]:
    issues: list[FieldIssue] = []
    ids = [m.member_id for m in c.members]
    for i, m in enumerate(c.members):
        if not m.member_id.strip():
            issues.append(FieldIssue(f"/members/{i}/member_id", "must not be empty"))
        elif m.member_id in ids[:i]:
            issues.append(FieldIssue(f"/members/{i}/member_id", "listed twice"))
        if not c.names.get(m.member_id, "").strip():
            issues.append(FieldIssue(f"/members/{i}/name", "must not be empty"))
    for role in (MemberRole.CHAIR, MemberRole.SECRETARY):
        if sum(m.role is role for m in c.members) != 1:
            issues.append(FieldIssue("/members", f"exactly one {role.value} is required"))
    r = c.rules
    if not 0 < r.quorum_numerator <= r.quorum_denominator:
        issues.append(FieldIssue("/rules/quorum", "a fraction above 0 and at most 1"))
    if r.appeal_window_days < 1:
        issues.append(FieldIssue("/rules/appeal_window_days", "at least 1 day"))
    if not first and not c.reason.strip():
        issues.append(FieldIssue("/reason", "a changed composition says why"))
    return issues


def _require_composer(by: Caller, state: Composition, call_id: str) -> None:
    # The first composition has no secretary yet, and no commission secretary may name
    # themself the secretary of a call: any call's secretary could seize a new call's
    # commission that way, and only they could change it after. The commission is
    # constituted by the ministry's order, which the programme's operator (who announced the
    # call on the ministry's behalf) records; from then on the composition is its own
    # secretary's to keep, and the operator no longer changes it.
    if state.version == 0:
        if by.office is not Office.OPERATOR:
            raise Forbidden(
                "not_the_operator",
                f"No commission is composed for {call_id} yet: the programme's operator "
                "records the first composition.",
            )
        return
    require_secretary(by, state.members, f"the commission of {call_id}")


def decide(command: ComposeCommission, state: Composition) -> Sequence[CommissionComposed]:
    """A new version of the composition, unless it is the one in force already: the first
    recorded by the programme's operator, later ones by the current composition's secretary."""
    _require_composer(command.by, state, command.call_id)
    issues = _issues(command, state.version == 0)
    if issues:
        raise DomainError("invalid_composition", "The commission cannot be composed so.", issues)
    if state.version and state.members == command.members and state.rules == command.rules:
        return []
    return [
        CommissionComposed(
            command.call_id, state.version + 1, command.members, command.reason, command.rules
        )
    ]


def evolve(state: Composition, event: CommissionComposed) -> Composition:
    return Composition(event.composition_version, event.members, event.rules)


composition_decider: Decider[ComposeCommission, Composition, CommissionComposed] = Decider(
    Composition(), decide, evolve
)


@dataclass(frozen=True)
class NameMember:
    call_id: str
    member_id: str
    name: str


def decide_name(command: NameMember, state: str) -> Sequence[MemberNamed]:
    """The member's name, when it is new or changed."""
    if command.name == state:
        return []
    return [MemberNamed(command.call_id, command.member_id, command.name)]


def evolve_name(state: str, event: MemberNamed) -> str:
    return event.name


name_decider: Decider[NameMember, str, MemberNamed] = Decider("", decide_name, evolve_name)
