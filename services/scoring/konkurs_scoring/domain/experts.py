"""An expert of the registry (stream `expert-<expert_id>`).

An operator registers an expert, changes their profile, deactivates them. The expert signs
in with the role `expert` and their expert id as the token's subject. Their affiliations
(BINs), regions and sectors are what the assignment's hard and soft rules read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from konkurs_platform.domain import Conflict, Decider, DomainError, FieldIssue, NotFound

EXPERT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_BIN = re.compile(r"^[0-9]{12}$")
_REGION = re.compile(r"^KZ-[0-9]{2}$")
_SECTION = re.compile(r"^[A-U]$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")


@dataclass(frozen=True)
class ExpertProfile:
    """Who the expert is (the name is personal data) and what they are assigned by."""

    name: str
    affiliation_bins: tuple[str, ...] = ()
    region_codes: tuple[str, ...] = ()
    # OKED sections (letters A to U) the expert knows.
    oked_sections: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExpertCard:
    """What the assignment reads of an expert: no name, which it has no use for."""

    expert_id: str
    affiliation_bins: frozenset[str]
    region_codes: frozenset[str]
    oked_sections: frozenset[str]
    active: bool


# Commands -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterExpert:
    expert_id: str
    profile: ExpertProfile
    now: datetime


@dataclass(frozen=True)
class UpdateExpert:
    expert_id: str
    profile: ExpertProfile
    now: datetime


@dataclass(frozen=True)
class DeactivateExpert:
    expert_id: str
    reason: str
    now: datetime


ExpertCommand = RegisterExpert | UpdateExpert | DeactivateExpert


# Events -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpertRegistered:
    expert_id: str
    profile: ExpertProfile


@dataclass(frozen=True)
class ExpertUpdated:
    expert_id: str
    profile: ExpertProfile


@dataclass(frozen=True)
class ExpertDeactivated:
    expert_id: str
    reason: str


ExpertEvent = ExpertRegistered | ExpertUpdated | ExpertDeactivated


# State --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoExpert:
    """No expert with this id was registered."""


@dataclass(frozen=True)
class Expert:
    expert_id: str
    profile: ExpertProfile
    active: bool = True

    def card(self) -> ExpertCard:
        p = self.profile
        return ExpertCard(
            self.expert_id,
            frozenset(p.affiliation_bins),
            frozenset(p.region_codes),
            frozenset(p.oked_sections),
            self.active,
        )


ExpertState = NoExpert | Expert


def decide(command: ExpertCommand, state: ExpertState) -> Sequence[ExpertEvent]:
    """What the registry answers to `command` for this expert."""
    match command, state:
        case RegisterExpert(), NoExpert():
            _check_profile(command.expert_id, command.profile)
            return [ExpertRegistered(command.expert_id, command.profile)]
        case RegisterExpert(), Expert():
            if state.profile == command.profile:
                return []  # the same registration again: already done
            raise Conflict("expert_exists", f"Expert {command.expert_id} is registered already.")
        case UpdateExpert() | DeactivateExpert(), NoExpert():
            raise NotFound("expert_not_found", f"No expert {command.expert_id} is registered.")
        case UpdateExpert(), Expert():
            if not state.active:
                raise Conflict("expert_inactive", f"Expert {command.expert_id} is deactivated.")
            _check_profile(command.expert_id, command.profile)
            if state.profile == command.profile:
                return []
            return [ExpertUpdated(command.expert_id, command.profile)]
        case DeactivateExpert(), Expert():
            if not command.reason.strip():
                raise DomainError(
                    "reason_required",
                    "Say why the expert is deactivated.",
                    [FieldIssue("/reason", "must not be empty")],
                )
            if not state.active:
                return []
            return [ExpertDeactivated(command.expert_id, command.reason.strip())]
    raise AssertionError(f"unknown command {command!r}")


def _check_profile(expert_id: str, p: ExpertProfile) -> None:
    issues: list[FieldIssue] = []
    if not EXPERT_ID.match(expert_id):
        issues.append(FieldIssue("/expert_id", "lower-case letters, digits, '.', '_' or '-'"))
    if not p.name.strip():
        issues.append(FieldIssue("/name", "must not be empty"))
    for pointer, values, pattern, what in (
        ("/affiliation_bins", p.affiliation_bins, _BIN, "a BIN of 12 digits"),
        ("/region_codes", p.region_codes, _REGION, "an ISO 3166-2 code such as KZ-75"),
        ("/oked_sections", p.oked_sections, _SECTION, "an OKED section letter A to U"),
        ("/languages", p.languages, _LANGUAGE, "an ISO 639-1 code such as kk"),
    ):
        for i, value in enumerate(values):
            if not pattern.match(value):
                issues.append(FieldIssue(f"{pointer}/{i}", f"{value!r} is not {what}"))
        if len(set(values)) != len(values):
            issues.append(FieldIssue(pointer, "lists a value twice"))
    if issues:
        raise DomainError(
            "invalid_expert", "The expert's profile breaks the registry's rules.", issues
        )


def evolve(state: ExpertState, event: ExpertEvent) -> ExpertState:
    """The expert after `event`."""
    match event:
        case ExpertRegistered():
            return Expert(event.expert_id, event.profile)
        case ExpertUpdated():
            assert isinstance(state, Expert)
            return replace(state, profile=event.profile)
        case ExpertDeactivated():
            assert isinstance(state, Expert)
            return replace(state, active=False)
    raise AssertionError(f"unknown event {event!r}")


expert_decider: Decider[ExpertCommand, ExpertState, ExpertEvent] = Decider(
    NoExpert(), decide, evolve
)
