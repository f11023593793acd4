"""The experts assigned to one application (stream `assignment-<application_id>`), their
declarations of interest, and the automatic assignment of a call's applications.

Hard rules, checked here for every assignment, automatic or by hand: never an inactive
expert; never one affiliated with the coordinator's or any participant's BIN; never one
from the application's region when the methodology says so; never one who declared a
conflict with the application. Soft rules order the automatic choice: the lightest load in
the call first, then a sector match on the cluster's OKED section, then the expert id, so the
same inputs always give the same assignment. Load before sector: choosing a sector match
over a lighter load can leave the last applications with only heavily loaded experts, and
then someone ends up more than one application above the average; among the experts of
equal load (all of them, at the start of each round) the sector decides.

Pure: the application, the experts' cards, the methodology's terms and `now` arrive in the
commands.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from konkurs_platform.domain import Conflict, Decider, DomainError, FieldIssue, Forbidden
from konkurs_scoring.domain.applications import KnownApplication
from konkurs_scoring.domain.calls import AssignmentTerms
from konkurs_scoring.domain.experts import ExpertCard

Declared = Literal["none", "no_conflict", "conflict"]

# Least length of a written reason (manual assignment, unassignment, a conflict's nature).
MIN_REASON_CHARS = 10


class AssignmentMode(StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"
    REPLACEMENT = "replacement"


class UnassignmentCause(StrEnum):
    MANUAL = "manual"
    CONFLICT = "conflict"
    OVERDUE = "overdue"
    APPLICATION_OUT = "application_out"


@dataclass(frozen=True)
class Assignment:
    """One expert on an application's panel, now or before (`active`)."""

    expert_id: str
    assigned_at: datetime
    declared: Declared
    due_at: datetime
    active: bool
    overdue: bool = False
    # The expert submitted their evaluation: nothing is due from them any more.
    completed: bool = False


def hard_rule_breaches(
    expert: ExpertCard, application: KnownApplication, terms: AssignmentTerms
) -> list[str]:
    """Why `expert` may never evaluate `application`; empty when they may."""
    breaches = []
    if not expert.active:
        breaches.append("the expert is deactivated")
    shared = sorted(expert.affiliation_bins & application.bins)
    if shared:
        breaches.append(f"the expert is affiliated with {', '.join(shared)}, which takes part")
    if terms.exclude_same_region_experts and application.region_code in expert.region_codes:
        breaches.append(f"the expert is from the application's region {application.region_code}")
    return breaches


# Commands -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssignExpert:
    application: KnownApplication
    expert: ExpertCard
    terms: AssignmentTerms
    mode: AssignmentMode
    reason: str
    now: datetime


@dataclass(frozen=True)
class UnassignExpert:
    application_id: str
    expert_id: str
    cause: UnassignmentCause
    reason: str
    now: datetime


@dataclass(frozen=True)
class DeclareInterest:
    """The expert's declaration for the application: a conflict (with its nature) or none."""

    application_id: str
    expert_id: str
    conflict: bool
    nature: str
    now: datetime


@dataclass(frozen=True)
class ReleasePanel:
    """Unassign every active expert: the application was withdrawn or became ineligible."""

    application_id: str
    reason: str
    now: datetime


@dataclass(frozen=True)
class FlagOverdue:
    """The due timer fired: flag every active assignment whose due time has passed."""

    application_id: str
    now: datetime


@dataclass(frozen=True)
class RenewPanel:
    """A re-evaluation opened `round` of the application's evaluation: the panel owes new
    evaluations, due as at its first assignment."""

    application_id: str
    terms: AssignmentTerms
    round: int
    reason: str
    now: datetime


@dataclass(frozen=True)
class CompleteAssignment:
    """The expert submitted their evaluation (`round`), in the same transaction."""

    application_id: str
    expert_id: str
    round: int
    now: datetime


AssignmentCommand = (
    AssignExpert
    | UnassignExpert
    | DeclareInterest
    | ReleasePanel
    | FlagOverdue
    | RenewPanel
    | CompleteAssignment
)


# Events -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpertAssigned:
    application_id: str
    call_id: str
    expert_id: str
    mode: AssignmentMode
    reason: str
    assigned_at: datetime
    due_at: datetime


@dataclass(frozen=True)
class ExpertUnassigned:
    application_id: str
    expert_id: str
    cause: UnassignmentCause
    reason: str


@dataclass(frozen=True)
class ConflictDeclared:
    application_id: str
    expert_id: str
    nature: str


@dataclass(frozen=True)
class NoConflictDeclared:
    application_id: str
    expert_id: str


@dataclass(frozen=True)
class AssignmentOverdue:
    application_id: str
    expert_id: str
    due_at: datetime


@dataclass(frozen=True)
class AssignmentCompleted:
    """The expert's evaluation is in: the assignment is never overdue from now on."""

    application_id: str
    expert_id: str
    round: int
    completed_at: datetime


AssignmentEvent = (
    ExpertAssigned
    | ExpertUnassigned
    | ConflictDeclared
    | NoConflictDeclared
    | AssignmentOverdue
    | AssignmentCompleted
)


# State --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    """An application's experts: every assignment by expert, and who declared a conflict."""

    application_id: str = ""
    call_id: str = ""
    members: Mapping[str, Assignment] = field(default_factory=dict)
    conflicted: frozenset[str] = frozenset()
    # How each expert was first chosen, which a renewal for a new round repeats.
    modes: Mapping[str, AssignmentMode] = field(default_factory=dict)

    @property
    def active(self) -> list[Assignment]:
        """The experts on the panel now, by expert id."""
        return sorted((a for a in self.members.values() if a.active), key=lambda a: a.expert_id)

    def is_active(self, expert_id: str) -> bool:
        member = self.members.get(expert_id)
        return member is not None and member.active


def check_may_read_content(panel: Panel, expert_id: str) -> None:
    """An expert sees an application's content only while assigned to it and after
    declaring no conflict of interest (`Forbidden` otherwise, with the reason)."""
    member = panel.members.get(expert_id)
    if member is None or not member.active:
        raise Forbidden("not_assigned", "You are not assigned to this application.")
    if member.declared != "no_conflict":
        raise Forbidden(
            "declaration_required",
            "Declare whether you have a conflict of interest with this application first.",
        )


def decide(command: AssignmentCommand, state: Panel) -> Sequence[AssignmentEvent]:
    """What the panel answers to `command` in `state`."""
    match command:
        case AssignExpert():
            return _assign(command, state)
        case UnassignExpert():
            if not state.is_active(command.expert_id):
                raise Conflict("not_assigned", f"{command.expert_id} is not assigned.")
            _check_reason(command.reason, "/reason")
            return [
                ExpertUnassigned(
                    command.application_id, command.expert_id, command.cause, command.reason.strip()
                )
            ]
        case DeclareInterest():
            return _declare(command, state)
        case ReleasePanel():
            return [
                ExpertUnassigned(
                    command.application_id,
                    a.expert_id,
                    UnassignmentCause.APPLICATION_OUT,
                    command.reason,
                )
                for a in state.active
            ]
        case FlagOverdue():
            return [
                AssignmentOverdue(command.application_id, a.expert_id, a.due_at)
                for a in state.active
                if not a.overdue and not a.completed and a.due_at <= command.now
            ]
        case RenewPanel():
            return _renew(command, state)
        case CompleteAssignment():
            member = state.members.get(command.expert_id)
            if member is None or not member.active:
                # The evaluation accepted the submission from the panel's rows in this very
                # transaction, so an expert off the panel here is a bug, not a user's error.
                raise Conflict("not_assigned", f"{command.expert_id} is not assigned.")
            if member.completed:
                # A later round's submission on a panel that was not renewed for it (a
                # re-evaluation recorded before renewals were): the assignment is done.
                return []
            return [
                AssignmentCompleted(
                    command.application_id, command.expert_id, command.round, command.now
                )
            ]
    raise AssertionError(f"unknown command {command!r}")


def _assign(command: AssignExpert, state: Panel) -> Sequence[AssignmentEvent]:
    app, expert = command.application, command.expert
    if state.is_active(expert.expert_id):
        return []  # assigned already: a retried assignment changes nothing
    if app.withdrawn:
        raise Conflict("application_withdrawn", "The application was withdrawn.")
    if expert.expert_id in state.conflicted:
        raise Conflict(
            "conflict_declared",
            f"{expert.expert_id} declared a conflict of interest with this application.",
        )
    breaches = hard_rule_breaches(expert, app, command.terms)
    if breaches:
        raise Conflict(
            "assignment_rule_broken",
            f"{expert.expert_id} may not evaluate this application: {'; '.join(breaches)}.",
        )
    if len(state.active) >= command.terms.experts_per_application:
        raise Conflict(
            "panel_full",
            f"The application has its {command.terms.experts_per_application} experts; "
            "unassign one first.",
        )
    _check_reason(command.reason, "/reason")
    due_at = command.now + timedelta(days=command.terms.evaluation_days)
    return [
        ExpertAssigned(
            app.application_id,
            app.call_id,
            expert.expert_id,
            command.mode,
            command.reason.strip(),
            command.now,
            due_at,
        )
    ]


def _renew(command: RenewPanel, state: Panel) -> Sequence[AssignmentEvent]:
    """ExpertAssigned again for every active member, with the round's due time. Not a new
    choice of experts (the hard rules held when they were chosen; an operator changes the
    panel by unassigning and assigning): the mode, the time of assignment (the rapporteur's
    rule) and the declaration stand."""
    due_at = command.now + timedelta(days=command.terms.evaluation_days)
    reason = f"Re-evaluation, round {command.round}: {command.reason.strip()}"
    return [
        ExpertAssigned(
            state.application_id,
            state.call_id,
            member.expert_id,
            state.modes[member.expert_id],
            reason,
            member.assigned_at,
            due_at,
        )
        for member in state.active
    ]


def _declare(command: DeclareInterest, state: Panel) -> Sequence[AssignmentEvent]:
    member = state.members.get(command.expert_id)
    if member is None or not member.active:
        raise Forbidden("not_assigned", "You are not assigned to this application.")
    if member.declared == "no_conflict":
        if command.conflict:
            raise Conflict(
                "declared_already", "You declared no conflict; ask the operator to unassign you."
            )
        return []  # the same declaration again
    if not command.conflict:
        return [NoConflictDeclared(command.application_id, command.expert_id)]
    _check_reason(command.nature, "/nature")
    nature = command.nature.strip()
    return [
        ConflictDeclared(command.application_id, command.expert_id, nature),
        ExpertUnassigned(
            command.application_id, command.expert_id, UnassignmentCause.CONFLICT, nature
        ),
    ]


def _check_reason(text: str, pointer: str) -> None:
    if len(text.strip()) < MIN_REASON_CHARS:
        raise DomainError(
            "reason_required",
            "Say why, in words.",
            [FieldIssue(pointer, f"write at least {MIN_REASON_CHARS} characters")],
        )


def evolve(state: Panel, event: AssignmentEvent) -> Panel:
    """The panel after `event`."""
    members = dict(state.members)
    match event:
        case ExpertAssigned():
            current = members.get(event.expert_id)
            if current is not None and current.active:
                # Renewed for a re-evaluation's round: a new due time and nothing owed yet;
                # the declaration stands (the application is the same).
                members[event.expert_id] = replace(
                    current, due_at=event.due_at, overdue=False, completed=False
                )
                return replace(state, members=members)
            # Assigned again after an unassignment: a fresh assignment, a fresh declaration.
            members[event.expert_id] = Assignment(
                event.expert_id, event.assigned_at, "none", event.due_at, True
            )
            return replace(
                state,
                application_id=event.application_id,
                call_id=event.call_id,
                members=members,
                modes={**state.modes, event.expert_id: event.mode},
            )
        case ExpertUnassigned():
            members[event.expert_id] = replace(members[event.expert_id], active=False)
        case ConflictDeclared():
            members[event.expert_id] = replace(members[event.expert_id], declared="conflict")
            return replace(state, members=members, conflicted=state.conflicted | {event.expert_id})
        case NoConflictDeclared():
            members[event.expert_id] = replace(members[event.expert_id], declared="no_conflict")
        case AssignmentOverdue():
            members[event.expert_id] = replace(members[event.expert_id], overdue=True)
        case AssignmentCompleted():
            members[event.expert_id] = replace(members[event.expert_id], completed=True)
        case _:
            raise AssertionError(f"unknown event {event!r}")
    return replace(state, members=members)


assignment_decider: Decider[AssignmentCommand, Panel, AssignmentEvent] = Decider(
    Panel(), decide, evolve
)


# The automatic assignment ----------------------------------------------------------------------


@dataclass(frozen=True)
class Pick:
    """One expert chosen for one application, and the rule that chose them."""

    application_id: str
    expert_id: str
    reason: str


@dataclass(frozen=True)
class Shortfall:
    """An application left with fewer experts than the methodology asks: no one else may."""

    application_id: str
    missing: int


@dataclass(frozen=True)
class Plan:
    picks: tuple[Pick, ...]
    shortfalls: tuple[Shortfall, ...]


def plan_assignment(
    applications: Sequence[KnownApplication],
    panels: Mapping[str, Panel],
    experts: Sequence[ExpertCard],
    terms: AssignmentTerms,
    load: Mapping[str, int],
) -> Plan:
    """Fill every open seat of `applications` (those eligible and not withdrawn) from
    `experts`, given each application's panel and each expert's current `load` (active
    assignments in the call). Deterministic: applications by registration number, experts
    by id, ties broken by id."""
    loads = Counter({e.expert_id: load.get(e.expert_id, 0) for e in experts})
    ordered = sorted(applications, key=lambda a: (a.registration_number, a.application_id))
    seats = {
        a.application_id: max(
            0, terms.experts_per_application - len(panels.get(a.application_id, Panel()).active)
        )
        for a in ordered
    }
    picks: list[Pick] = []
    shortfalls: list[Shortfall] = []
    for app in ordered:
        panel = panels.get(app.application_id, Panel())
        # Never again someone who left this application (a conflict, an overdue evaluation,
        # an operator's decision): only an operator may bring them back, by hand.
        taken = set(panel.members) | set(panel.conflicted)
        for seat in range(seats[app.application_id]):
            candidates = [
                e
                for e in sorted(experts, key=lambda e: e.expert_id)
                if e.expert_id not in taken and not hard_rule_breaches(e, app, terms)
            ]
            if not candidates:
                shortfalls.append(Shortfall(app.application_id, seats[app.application_id] - seat))
                break
            section = app.oked_section
            chosen = min(
                candidates,
                key=lambda e: (loads[e.expert_id], section not in e.oked_sections, e.expert_id),
            )
            match = (
                f"sector {section} matches"
                if section in chosen.oked_sections
                else "no sector match"
            )
            picks.append(
                Pick(
                    app.application_id,
                    chosen.expert_id,
                    f"automatic: least loaded ({loads[chosen.expert_id]} in the call), {match}",
                )
            )
            loads[chosen.expert_id] += 1
            taken.add(chosen.expert_id)
    return Plan(tuple(picks), tuple(shortfalls))
