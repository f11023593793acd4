"""Eligibility screening of one application (stream `screening-<application_id>`).

An application is checked against its call's eligibility rules on the latest content scoring
learned: `EligibilityAssessed` with each rule's result. A later version of the application
(an amendment or a document that was filed before the call closed but arrived after scoring
saw it close) is checked again; the same version never is, so a redelivered event decides
nothing. An operator may override the result with a written justification; the override is
its own event and the assessment stays in the history.

Pure: the application, the call's terms and `now` arrive in the command.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from konkurs_platform.domain import Conflict, Decider, DomainError, FieldIssue, NotFound
from konkurs_scoring.domain.applications import KnownApplication, ParticipantKind
from konkurs_scoring.domain.calls import CallTerms

# A justification is "at least a sentence": this many characters and words.
MIN_JUSTIFICATION_CHARS = 20
MIN_JUSTIFICATION_WORDS = 4

_RESEARCH = {ParticipantKind.UNIVERSITY, ParticipantKind.RESEARCH_ORGANISATION}


@dataclass(frozen=True)
class RuleResult:
    """One rule applied: what it requires and what the application has, as text."""

    rule: str
    passed: bool
    required: str
    found: str


def assess(application: KnownApplication, terms: CallTerms) -> tuple[RuleResult, ...]:
    """Every eligibility rule of the call applied to the application, in a fixed order."""
    rules = terms.eligibility
    kinds = application.participant_kinds
    count = len(application.participant_bins)
    results = [
        RuleResult(
            "region",
            not terms.regions or application.region_code in terms.regions,
            ", ".join(terms.regions) or "any",
            application.region_code,
        )
    ]
    if rules.min_participants:
        results.append(
            RuleResult(
                "min_participants",
                count >= rules.min_participants,
                str(rules.min_participants),
                str(count),
            )
        )
    if rules.min_sme_share_percent:
        # In whole percent rounded down, as the rule is published; no participants is 0 %.
        share = (100 * sum(k is ParticipantKind.SME for k in kinds)) // count if count else 0
        results.append(
            RuleResult(
                "min_sme_share_percent",
                share >= rules.min_sme_share_percent,
                str(rules.min_sme_share_percent),
                str(share),
            )
        )
    if rules.require_university_or_research:
        partners = sum(k in _RESEARCH for k in kinds)
        results.append(RuleResult("university_or_research", partners > 0, "1", str(partners)))
    if rules.required_document_kinds:
        missing = [k for k in rules.required_document_kinds if k not in application.document_kinds]
        results.append(
            RuleResult(
                "required_documents",
                not missing,
                ", ".join(rules.required_document_kinds),
                "missing: " + ", ".join(missing) if missing else "all filed",
            )
        )
    return tuple(results)


# Commands -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssessEligibility:
    application: KnownApplication
    terms: CallTerms
    now: datetime


@dataclass(frozen=True)
class OverrideEligibility:
    application_id: str
    eligible: bool
    justification: str
    now: datetime


ScreeningCommand = AssessEligibility | OverrideEligibility


# Events -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EligibilityAssessed:
    application_id: str
    call_id: str
    application_version: int
    call_version: int
    eligible: bool
    results: tuple[RuleResult, ...]


@dataclass(frozen=True)
class EligibilityOverridden:
    application_id: str
    call_id: str
    eligible: bool
    justification: str
    # The stream version of the result it replaces.
    overrides_version: int


ScreeningEvent = EligibilityAssessed | EligibilityOverridden


# State --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Screening:
    """The application's screening so far; `version` counts the stream's events."""

    application_id: str = ""
    call_id: str = ""
    version: int = 0
    application_version: int = 0
    call_version: int = 0
    # The result that holds: the last assessment's, or the last override's after it.
    eligible: bool | None = None
    overridden: bool = False
    results: tuple[RuleResult, ...] = ()


def decide(command: ScreeningCommand, state: Screening) -> Sequence[ScreeningEvent]:
    """What the screening answers to `command` in `state`."""
    match command:
        case AssessEligibility(application=app, terms=terms):
            if (app.version, terms.version) <= (state.application_version, state.call_version):
                # This content (or a later one) was assessed under these terms already.
                return []
            results = assess(app, terms)
            return [
                EligibilityAssessed(
                    app.application_id,
                    app.call_id,
                    app.version,
                    terms.version,
                    all(r.passed for r in results),
                    results,
                )
            ]
        case OverrideEligibility():
            if state.eligible is None:
                raise NotFound("not_screened", "The application has not been screened yet.")
            _check_justification(command.justification)
            if command.eligible == state.eligible:
                raise Conflict(
                    "override_changes_nothing",
                    f"The application is {'eligible' if state.eligible else 'ineligible'} already.",
                )
            return [
                EligibilityOverridden(
                    state.application_id,
                    state.call_id,
                    command.eligible,
                    command.justification.strip(),
                    state.version,
                )
            ]
    raise AssertionError(f"unknown command {command!r}")


def _check_justification(text: str) -> None:
    words = text.split()
    if len(text.strip()) < MIN_JUSTIFICATION_CHARS or len(words) < MIN_JUSTIFICATION_WORDS:
        raise DomainError(
            "justification_required",
            "An override needs a written justification of at least a sentence.",
            [
                FieldIssue(
                    "/justification",
                    f"write at least {MIN_JUSTIFICATION_WORDS} words and "
                    f"{MIN_JUSTIFICATION_CHARS} characters",
                )
            ],
        )


def evolve(state: Screening, event: ScreeningEvent) -> Screening:
    """The screening after `event`."""
    version = state.version + 1
    match event:
        case EligibilityAssessed():
            return Screening(
                event.application_id,
                event.call_id,
                version,
                event.application_version,
                event.call_version,
                event.eligible,
                False,
                event.results,
            )
        case EligibilityOverridden():
            return replace(state, version=version, eligible=event.eligible, overridden=True)
    raise AssertionError(f"unknown event {event!r}")


screening_decider: Decider[ScreeningCommand, Screening, ScreeningEvent] = Decider(
    Screening(), decide, evolve
)
