"""The call: a competition's window, quota, regions, eligibility rules and methodology.

Commands: AnnounceCall, AmendCall, CloseCall. Events: CallAnnounced, CallAmended, CallClosed.
A call can be amended until it opens; it closes at `closes_at` (the scheduler sends
CloseCall) or earlier by a manual decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from konkurs_intake.domain.regions import RegionSet, region_codes
from konkurs_platform.domain import Conflict, Decider, DomainError, FieldIssue, NotFound


@dataclass(frozen=True)
class LocalizedText:
    """Text in Russian, Kazakh and English; at least one is given."""

    ru: str = ""
    kk: str = ""
    en: str = ""


class CriterionKind(StrEnum):
    AUTOMATIC = "automatic"
    EXPERT = "expert"


@dataclass(frozen=True)
class Criterion:
    """One scoring criterion. Scores range over [scale_min, scale_max]; an application
    scoring below `threshold` on it fails the criterion."""

    id: str
    name: LocalizedText
    weight: int
    scale_min: int
    scale_max: int
    kind: CriterionKind
    threshold: int


class ScaleStep(StrEnum):
    HALF_POINT = "half"
    WHOLE_POINT = "whole"


class Aggregation(StrEnum):
    MEAN = "mean"
    MEDIAN = "median"


# The tie-break rule every chain ends with: the earlier registration ranks first.
REGISTRATION_ORDER = "registration"
CRITERION_ORDER_PREFIX = "criterion:"


@dataclass(frozen=True)
class Methodology:
    """Criteria with weights in percent (summing to 100). The overall score is the weighted
    mean of the criteria scores, each normalised to 0-100; `overall_threshold` is on that
    0-100 scale."""

    criteria: tuple[Criterion, ...]
    overall_threshold: int
    # Independent experts per application, and the largest spread of their scores on one
    # criterion (in scale points) accepted without a consensus report.
    experts_per_application: int = 3
    divergence_threshold: int = 2
    # How experts score and how their scores combine (issue 8); the defaults are the
    # programme's.
    scale_step: ScaleStep = ScaleStep.HALF_POINT
    min_comment_chars: int = 30
    aggregation: Aggregation = Aggregation.MEAN
    blind_applicants: bool = False
    exclude_same_region_experts: bool = False
    evaluation_days: int = 14
    # Orders equal overall scores: "criterion:<id>" entries, then "registration", last.
    tie_break: tuple[str, ...] = (REGISTRATION_ORDER,)


@dataclass(frozen=True)
class EligibilityRules:
    min_participants: int
    min_sme_share_percent: int
    require_university_or_research: bool
    required_document_kinds: tuple[str, ...]


@dataclass(frozen=True)
class CallDefinition:
    title: LocalizedText
    description: LocalizedText
    programme: str
    opens_at: datetime
    closes_at: datetime
    timezone: str
    quota: int
    region_set: RegionSet
    regions: tuple[str, ...]
    eligibility: EligibilityRules
    methodology: Methodology


# Commands ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnnounceCall:
    call_id: str
    definition: CallDefinition
    now: datetime
    # Demo data whose content is partly invented (the 2017 methodology).
    illustrative: bool = False


@dataclass(frozen=True)
class AmendCall:
    call_id: str
    definition: CallDefinition
    now: datetime


class CloseReason(StrEnum):
    SCHEDULED = "scheduled"
    MANUAL = "manual"


@dataclass(frozen=True)
class CloseCall:
    call_id: str
    now: datetime
    reason: CloseReason = CloseReason.SCHEDULED


CallCommand = AnnounceCall | AmendCall | CloseCall

# Events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallAnnounced:
    call_id: str
    definition: CallDefinition
    illustrative: bool = False


@dataclass(frozen=True)
class CallAmended:
    call_id: str
    definition: CallDefinition


@dataclass(frozen=True)
class CallClosed:
    call_id: str
    closed_at: datetime
    reason: CloseReason


CallEvent = CallAnnounced | CallAmended | CallClosed

# State ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoCall:
    pass


@dataclass(frozen=True)
class AnnouncedCall:
    call_id: str
    definition: CallDefinition


@dataclass(frozen=True)
class ClosedCall:
    call_id: str
    definition: CallDefinition
    closed_at: datetime


CallState = NoCall | AnnouncedCall | ClosedCall


def is_open(state: CallState, at: datetime) -> bool:
    """Whether applications are accepted at `at`."""
    return (
        isinstance(state, AnnouncedCall)
        and state.definition.opens_at <= at < state.definition.closes_at
    )


# Rules ------------------------------------------------------------------------------------


def check_definition(d: CallDefinition, now: datetime) -> list[FieldIssue]:
    """Every rule a call definition breaks, each with its field's pointer."""
    issues: list[FieldIssue] = []
    if d.closes_at <= d.opens_at:
        issues.append(FieldIssue("/closes_at", "must be later than opens_at"))
    if d.closes_at <= now:
        issues.append(FieldIssue("/closes_at", "is already in the past"))
    if d.quota < 1:
        issues.append(FieldIssue("/quota", "must be at least 1"))
    known = region_codes(d.region_set)
    if not d.regions:
        issues.append(FieldIssue("/regions", "must name at least one region"))
    seen: set[str] = set()
    for i, code in enumerate(d.regions):
        if code not in known:
            issues.append(
                FieldIssue(f"/regions/{i}", f"{code} is not a region of the {d.region_set} set")
            )
        if code in seen:
            issues.append(FieldIssue(f"/regions/{i}", f"{code} is listed twice"))
        seen.add(code)
    e = d.eligibility
    if e.min_participants < 1:
        issues.append(FieldIssue("/eligibility/min_participants", "must be at least 1"))
    if not 0 <= e.min_sme_share_percent <= 100:
        issues.append(FieldIssue("/eligibility/min_sme_share_percent", "must be between 0 and 100"))
    issues.extend(_check_methodology(d.methodology))
    return issues


def _check_methodology(m: Methodology) -> list[FieldIssue]:
    issues: list[FieldIssue] = []
    if not m.criteria:
        issues.append(FieldIssue("/methodology/criteria", "must list at least one criterion"))
    ids: set[str] = set()
    for i, c in enumerate(m.criteria):
        at = f"/methodology/criteria/{i}"
        if c.id in ids:
            issues.append(FieldIssue(f"{at}/id", f"criterion {c.id} is listed twice"))
        ids.add(c.id)
        if c.weight <= 0:
            issues.append(FieldIssue(f"{at}/weight", "must be a positive percentage"))
        if c.scale_max <= c.scale_min:
            issues.append(FieldIssue(f"{at}/scale_max", "must be greater than scale_min"))
        elif not c.scale_min <= c.threshold <= c.scale_max:
            issues.append(
                FieldIssue(f"{at}/threshold", f"must lie on the scale {c.scale_min}..{c.scale_max}")
            )
    total = sum(c.weight for c in m.criteria)
    if m.criteria and total != 100:
        issues.append(
            FieldIssue("/methodology/criteria", f"weights must sum to 100, they sum to {total}")
        )
    if not 0 <= m.overall_threshold <= 100:
        issues.append(FieldIssue("/methodology/overall_threshold", "must be between 0 and 100"))
    if m.experts_per_application < 1:
        issues.append(FieldIssue("/methodology/experts_per_application", "must be at least 1"))
    if m.divergence_threshold < 0:
        issues.append(FieldIssue("/methodology/divergence_threshold", "cannot be negative"))
    if m.min_comment_chars < 1:
        issues.append(FieldIssue("/methodology/min_comment_chars", "must be at least 1"))
    if m.evaluation_days < 1:
        issues.append(FieldIssue("/methodology/evaluation_days", "must be at least 1"))
    issues.extend(_check_tie_break(m.tie_break, ids))
    return issues


def _check_tie_break(chain: tuple[str, ...], criteria: set[str]) -> list[FieldIssue]:
    """Criteria of the call, each once, then the registration order, which ends the chain
    (two applications never register at once, so nothing after it could matter)."""
    if not chain or chain[-1] != REGISTRATION_ORDER:
        return [FieldIssue("/methodology/tie_break", f"must end with {REGISTRATION_ORDER!r}")]
    issues: list[FieldIssue] = []
    named: set[str] = set()
    for i, rule in enumerate(chain[:-1]):
        criterion = rule.removeprefix(CRITERION_ORDER_PREFIX)
        if rule == criterion or criterion not in criteria:
            issues.append(
                FieldIssue(
                    f"/methodology/tie_break/{i}", f"{rule!r} names no criterion of the call"
                )
            )
        elif criterion in named:
            issues.append(FieldIssue(f"/methodology/tie_break/{i}", f"{rule!r} is listed twice"))
        named.add(criterion)
    return issues


def _invalid(issues: list[FieldIssue]) -> DomainError:
    return DomainError("invalid_call", "The call definition breaks the rules of a call.", issues)


def decide(command: CallCommand, state: CallState) -> Sequence[CallEvent]:
    """What the call answers to `command` in `state`."""
    match command:
        case AnnounceCall(call_id, definition, now, illustrative):
            if not isinstance(state, NoCall):
                raise Conflict("call_exists", f"Call {call_id} has already been announced.")
            if issues := check_definition(definition, now):
                raise _invalid(issues)
            return [CallAnnounced(call_id, definition, illustrative)]
        case AmendCall(call_id, definition, now):
            if isinstance(state, NoCall):
                raise NotFound("call_not_found", f"There is no call {call_id}.")
            if isinstance(state, ClosedCall) or now >= state.definition.opens_at:
                raise Conflict(
                    "call_already_open",
                    f"Call {call_id} has opened; it can only be amended before it opens.",
                )
            if issues := check_definition(definition, now):
                raise _invalid(issues)
            if definition == state.definition:
                return []
            return [CallAmended(call_id, definition)]
        case CloseCall(call_id, now, reason):
            if isinstance(state, NoCall):
                raise NotFound("call_not_found", f"There is no call {call_id}.")
            if isinstance(state, ClosedCall):
                return []  # the scheduler may ask twice; closing is idempotent
            if reason is CloseReason.SCHEDULED and now < state.definition.closes_at:
                raise Conflict(
                    "call_not_due", f"Call {call_id} closes at {state.definition.closes_at}."
                )
            # A scheduled close happens at closes_at, however late the clock notices it.
            closed_at = state.definition.closes_at if reason is CloseReason.SCHEDULED else now
            return [CallClosed(call_id, closed_at, reason)]
    raise TypeError(f"not a call command: {command!r}")


def evolve(state: CallState, event: CallEvent) -> CallState:
    """The call's state after `event`."""
    match event:
        case CallAnnounced(call_id, definition) | CallAmended(call_id, definition):
            return AnnouncedCall(call_id, definition)
        case CallClosed(call_id, closed_at, _):
            assert not isinstance(state, NoCall)
            return ClosedCall(call_id, state.definition, closed_at)
    raise TypeError(f"not a call event: {event!r}")


call_decider: Decider[CallCommand, CallState, CallEvent] = Decider(NoCall(), decide, evolve)
