"""The evaluation of one application (stream `evaluation-<application_id>`).

Experts on the application's panel save drafts and submit once; when every active member of
the panel has submitted, the automatic criteria are computed from the application's data and
the experts' scores are aggregated per criterion. A spread above the methodology's limit on
any criterion requires a consensus report by a rapporteur, which then counts instead of the
aggregation (the individual reports stay in the stream). The evaluation is then final, with
its per-criterion and overall scores and the thresholds it fails. A re-evaluation reopens it
in a new round.

Pure: the panel (from the assignments), the application's measured data and the methodology
arrive in the command, as does `now`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from fractions import Fraction
from typing import Literal

from konkurs_platform.domain import Conflict, Decider, DomainError, FieldIssue, Forbidden
from konkurs_scoring.domain.aggregation import (
    CriterionScore,
    ScoringRules,
    aggregate,
    band_score,
    check_scores,
    diverges,
    verdict,
)

Declared = Literal["none", "no_conflict", "conflict"]


@dataclass(frozen=True)
class PanelMember:
    """An expert actively assigned to the application, and what they declared."""

    expert_id: str
    assigned_at: datetime
    declared: Declared


# Commands -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SaveDraft:
    application_id: str
    call_id: str
    expert_id: str
    scores: tuple[CriterionScore, ...]
    rules: ScoringRules
    panel: tuple[PanelMember, ...]
    now: datetime


@dataclass(frozen=True)
class SubmitEvaluation:
    """An expert's final report. `measures` are the application's measured quantities by
    measure name (for the automatic criteria, should this submission complete the panel)."""

    application_id: str
    call_id: str
    expert_id: str
    scores: tuple[CriterionScore, ...]
    rules: ScoringRules
    panel: tuple[PanelMember, ...]
    measures: Mapping[str, int]
    now: datetime


@dataclass(frozen=True)
class NameRapporteur:
    """The operator names the expert who writes the consensus report."""

    application_id: str
    expert_id: str
    panel: tuple[PanelMember, ...]
    now: datetime


@dataclass(frozen=True)
class RecordConsensus:
    application_id: str
    expert_id: str
    scores: tuple[CriterionScore, ...]
    justification: str
    rules: ScoringRules
    now: datetime


@dataclass(frozen=True)
class ReopenEvaluation:
    """A re-evaluation: an appeal upheld by the commission (`appeal_id`) or an operator's
    decision with `reason`."""

    application_id: str
    reason: str
    appeal_id: str
    now: datetime


EvaluationCommand = (
    SaveDraft | SubmitEvaluation | NameRapporteur | RecordConsensus | ReopenEvaluation
)


# Events -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvaluationDraftSaved:
    application_id: str
    call_id: str
    round: int
    expert_id: str
    scores: tuple[CriterionScore, ...]
    saved_at: datetime


@dataclass(frozen=True)
class EvaluationSubmitted:
    application_id: str
    call_id: str
    round: int
    expert_id: str
    scores: tuple[CriterionScore, ...]
    submitted_at: datetime


@dataclass(frozen=True)
class AutomaticScore:
    """An automatic criterion's score and the input it was computed from."""

    criterion_id: str
    measure: str
    measured: int
    score: int


@dataclass(frozen=True)
class AutomaticScoresComputed:
    application_id: str
    call_id: str
    round: int
    scores: tuple[AutomaticScore, ...]
    computed_at: datetime


@dataclass(frozen=True)
class Divergence:
    """A criterion on which the experts' spread exceeded the limit (scores in half points)."""

    criterion_id: str
    lowest: int
    highest: int


@dataclass(frozen=True)
class ConsensusRequired:
    application_id: str
    call_id: str
    round: int
    divergences: tuple[Divergence, ...]
    required_at: datetime


@dataclass(frozen=True)
class RapporteurNamed:
    application_id: str
    call_id: str
    round: int
    expert_id: str
    # True when named by the rule (the panel's first assigned expert), False by an operator.
    by_rule: bool
    named_at: datetime


@dataclass(frozen=True)
class ConsensusRecorded:
    application_id: str
    call_id: str
    round: int
    expert_id: str
    scores: tuple[CriterionScore, ...]
    justification: str
    recorded_at: datetime


class Basis(StrEnum):
    """Where a criterion's final score comes from."""

    AUTOMATIC = "automatic"
    EXPERTS = "experts"
    CONSENSUS = "consensus"


@dataclass(frozen=True)
class FinalScore:
    criterion_id: str
    score: Fraction
    basis: Basis


@dataclass(frozen=True)
class EvaluationFinalised:
    application_id: str
    call_id: str
    round: int
    # Every criterion of the methodology, in its order.
    scores: tuple[FinalScore, ...]
    overall: Fraction
    failed_thresholds: tuple[str, ...]
    fundable: bool
    # The experts whose submissions the scores stand on, in order of id.
    experts: tuple[str, ...]
    # The version of the call whose methodology was applied.
    call_version: int
    finalised_at: datetime


@dataclass(frozen=True)
class EvaluationReopened:
    application_id: str
    call_id: str
    # The round that begins.
    round: int
    reason: str
    appeal_id: str
    reopened_at: datetime


EvaluationEvent = (
    EvaluationDraftSaved
    | EvaluationSubmitted
    | AutomaticScoresComputed
    | ConsensusRequired
    | RapporteurNamed
    | ConsensusRecorded
    | EvaluationFinalised
    | EvaluationReopened
)


# State --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """An application's evaluation in its current round; earlier rounds live in the stream."""

    application_id: str = ""
    call_id: str = ""
    round: int = 1
    drafts: Mapping[str, tuple[CriterionScore, ...]] = field(default_factory=dict)
    submitted: Mapping[str, tuple[CriterionScore, ...]] = field(default_factory=dict)
    automatic: tuple[AutomaticScore, ...] = ()
    divergences: tuple[Divergence, ...] = ()
    rapporteur: str | None = None
    consensus: ConsensusRecorded | None = None
    final: EvaluationFinalised | None = None
    # Appeals that reopened it: a second request for the same appeal changes nothing.
    appeals: frozenset[str] = frozenset()

    @property
    def status(self) -> Literal["open", "consensus", "final"]:
        if self.final is not None:
            return "final"
        return "consensus" if self.divergences else "open"


def evolve(state: Evaluation, event: EvaluationEvent) -> Evaluation:
    """The evaluation after `event`."""
    match event:
        case EvaluationDraftSaved():
            drafts = dict(state.drafts) | {event.expert_id: event.scores}
            return replace(
                state, application_id=event.application_id, call_id=event.call_id, drafts=drafts
            )
        case EvaluationSubmitted():
            submitted = dict(state.submitted) | {event.expert_id: event.scores}
            drafts = {k: v for k, v in state.drafts.items() if k != event.expert_id}
            return replace(
                state,
                application_id=event.application_id,
                call_id=event.call_id,
                drafts=drafts,
                submitted=submitted,
            )
        case AutomaticScoresComputed():
            return replace(state, automatic=event.scores)
        case ConsensusRequired():
            return replace(state, divergences=event.divergences)
        case RapporteurNamed():
            return replace(state, rapporteur=event.expert_id)
        case ConsensusRecorded():
            return replace(state, consensus=event)
        case EvaluationFinalised():
            return replace(state, final=event)
        case EvaluationReopened():
            appeals = state.appeals | {event.appeal_id} if event.appeal_id else state.appeals
            return Evaluation(
                application_id=state.application_id,
                call_id=state.call_id,
                round=event.round,
                appeals=appeals,
            )
    raise TypeError(f"not an evaluation event: {event!r}")


# Decisions ----------------------------------------------------------------------------------


def _member(panel: Sequence[PanelMember], expert_id: str) -> PanelMember:
    member = next((m for m in panel if m.expert_id == expert_id), None)
    if member is None:
        raise Forbidden("not_assigned", "You are not assigned to evaluate this application.")
    if member.declared != "no_conflict":
        raise Forbidden(
            "no_declaration",
            "Declare that you have no conflict of interest with this application first.",
        )
    return member


def _open_for(state: Evaluation, expert_id: str) -> None:
    if state.final is not None:
        raise Conflict("evaluation_final", "The evaluation is final; it must be reopened first.")
    if expert_id in state.submitted:
        raise Conflict("already_submitted", "You submitted your evaluation; it is locked.")
    if state.divergences:
        raise Conflict(
            "consensus_pending", "The panel has submitted and the evaluation awaits consensus."
        )


def _refuse_invalid(issues: Sequence[FieldIssue]) -> None:
    if issues:
        raise DomainError("invalid_scores", "The scores break the methodology.", tuple(issues))


def _save_draft(cmd: SaveDraft, state: Evaluation) -> list[EvaluationEvent]:
    _member(cmd.panel, cmd.expert_id)
    _open_for(state, cmd.expert_id)
    _refuse_invalid(check_scores(cmd.rules, cmd.scores, complete=False, pointer="/scores"))
    return [
        EvaluationDraftSaved(
            cmd.application_id, cmd.call_id, state.round, cmd.expert_id, cmd.scores, cmd.now
        )
    ]


def _submit(cmd: SubmitEvaluation, state: Evaluation) -> list[EvaluationEvent]:
    _member(cmd.panel, cmd.expert_id)
    _open_for(state, cmd.expert_id)
    _refuse_invalid(check_scores(cmd.rules, cmd.scores, complete=True, pointer="/scores"))
    submitted = EvaluationSubmitted(
        cmd.application_id, cmd.call_id, state.round, cmd.expert_id, cmd.scores, cmd.now
    )
    after = evolve(state, submitted)
    return [submitted, *_close_if_complete(cmd, after)]


def _close_if_complete(cmd: SubmitEvaluation, state: Evaluation) -> list[EvaluationEvent]:
    """Once every active panel member has submitted: the automatic scores, then consensus
    or the final scores. Experts no longer on the panel do not count, submitted or not."""
    panel = sorted(cmd.panel, key=lambda m: (m.assigned_at, m.expert_id))
    if any(m.expert_id not in state.submitted for m in panel):
        return []
    events: list[EvaluationEvent] = []
    automatic = _automatic(cmd, state)
    if automatic is not None:
        events.append(automatic)
        state = evolve(state, automatic)
    experts = {m.expert_id: state.submitted[m.expert_id] for m in panel}
    divergences = tuple(
        Divergence(c.id, min(halves), max(halves))
        for c in cmd.rules.expert_criteria
        if diverges(halves := _halves(experts, c.id), cmd.rules.divergence_threshold)
    )
    if divergences:
        # The rule names the first assigned expert; an operator may name another.
        return [
            *events,
            ConsensusRequired(cmd.application_id, cmd.call_id, state.round, divergences, cmd.now),
            RapporteurNamed(
                cmd.application_id, cmd.call_id, state.round, panel[0].expert_id, True, cmd.now
            ),
        ]
    return [*events, _finalise(cmd.rules, state, experts, None, cmd.now)]


def _automatic(cmd: SubmitEvaluation, state: Evaluation) -> AutomaticScoresComputed | None:
    rules = cmd.rules.automatic_criteria
    if not rules:
        return None
    missing = [r.measure for r in rules if r.measure not in cmd.measures]
    if missing:
        raise DomainError(
            "unmeasured", f"The application's data lacks what is measured: {', '.join(missing)}."
        )
    scores = tuple(
        AutomaticScore(
            r.id, r.measure, cmd.measures[r.measure], band_score(r, cmd.measures[r.measure])
        )
        for r in rules
    )
    return AutomaticScoresComputed(cmd.application_id, cmd.call_id, state.round, scores, cmd.now)


def _halves(experts: Mapping[str, Sequence[CriterionScore]], criterion_id: str) -> list[int]:
    return [
        s.half_points
        for scores in experts.values()
        for s in scores
        if s.criterion_id == criterion_id
    ]


def _finalise(
    rules: ScoringRules,
    state: Evaluation,
    experts: Mapping[str, Sequence[CriterionScore]],
    consensus: ConsensusRecorded | None,
    now: datetime,
) -> EvaluationFinalised:
    automatic = {a.criterion_id: a for a in state.automatic}
    agreed = {s.criterion_id: s for s in consensus.scores} if consensus else {}
    scores: list[FinalScore] = []
    for c in rules.criteria:
        if c.id in automatic:
            scores.append(FinalScore(c.id, Fraction(automatic[c.id].score), Basis.AUTOMATIC))
        elif c.id in agreed:
            scores.append(FinalScore(c.id, Fraction(agreed[c.id].half_points, 2), Basis.CONSENSUS))
        else:
            score = aggregate(_halves(experts, c.id), rules.aggregation)
            scores.append(FinalScore(c.id, score, Basis.EXPERTS))
    result = verdict(rules, {s.criterion_id: s.score for s in scores})
    return EvaluationFinalised(
        application_id=state.application_id,
        call_id=state.call_id,
        round=state.round,
        scores=tuple(scores),
        overall=result.overall,
        failed_thresholds=result.failed_thresholds,
        fundable=result.fundable,
        experts=tuple(sorted(experts)),
        call_version=rules.call_version,
        finalised_at=now,
    )


def _name_rapporteur(cmd: NameRapporteur, state: Evaluation) -> list[EvaluationEvent]:
    if not state.divergences or state.final is not None:
        raise Conflict("no_consensus_pending", "The evaluation awaits no consensus.")
    member = next((m for m in cmd.panel if m.expert_id == cmd.expert_id), None)
    if member is None or cmd.expert_id not in state.submitted:
        raise DomainError(
            "not_on_panel",
            "The rapporteur must be an expert of the panel who submitted an evaluation.",
            (FieldIssue("/expert_id", "not a submitting expert of this application"),),
        )
    if state.rapporteur == cmd.expert_id:
        return []
    return [
        RapporteurNamed(
            state.application_id, state.call_id, state.round, cmd.expert_id, False, cmd.now
        )
    ]


def _record_consensus(cmd: RecordConsensus, state: Evaluation) -> list[EvaluationEvent]:
    if not state.divergences or state.final is not None:
        raise Conflict("no_consensus_pending", "The evaluation awaits no consensus.")
    if cmd.expert_id != state.rapporteur:
        raise Forbidden("not_rapporteur", "Only the rapporteur records the consensus report.")
    issues = check_scores(cmd.rules, cmd.scores, complete=True, pointer="/scores")
    if len(cmd.justification.strip()) < cmd.rules.min_comment_chars:
        issues.append(
            FieldIssue(
                "/justification",
                f"a justification of at least {cmd.rules.min_comment_chars} characters",
            )
        )
    _refuse_invalid(issues)
    recorded = ConsensusRecorded(
        state.application_id,
        state.call_id,
        state.round,
        cmd.expert_id,
        cmd.scores,
        cmd.justification,
        cmd.now,
    )
    return [recorded, _finalise(cmd.rules, state, state.submitted, recorded, cmd.now)]


def _reopen(cmd: ReopenEvaluation, state: Evaluation) -> list[EvaluationEvent]:
    if cmd.appeal_id and cmd.appeal_id in state.appeals:
        return []
    if state.final is None:
        raise Conflict("evaluation_not_final", "Only a final evaluation can be reopened.")
    if not cmd.reason.strip():
        raise DomainError(
            "reason_required",
            "Say why the evaluation is reopened.",
            (FieldIssue("/reason", "required"),),
        )
    return [
        EvaluationReopened(
            state.application_id,
            state.call_id,
            state.round + 1,
            cmd.reason,
            cmd.appeal_id,
            cmd.now,
        )
    ]


def decide(command: EvaluationCommand, state: Evaluation) -> Sequence[EvaluationEvent]:
    """The events `command` causes on the evaluation `state`, or a refusal."""
    match command:
        case SaveDraft():
            return _save_draft(command, state)
        case SubmitEvaluation():
            return _submit(command, state)
        case NameRapporteur():
            return _name_rapporteur(command, state)
        case RecordConsensus():
            return _record_consensus(command, state)
        case ReopenEvaluation():
            return _reopen(command, state)
    raise TypeError(f"not an evaluation command: {command!r}")


evaluation_decider: Decider[EvaluationCommand, Evaluation, EvaluationEvent] = Decider(
    Evaluation(), decide, evolve
)


# What an expert may see ---------------------------------------------------------------------


@dataclass(frozen=True)
class ExpertView:
    """An expert's own draft or submission, and the others' submissions only once their own
    is in: no expert sees another's scores or comments before submitting (blind review)."""

    round: int
    status: Literal["open", "consensus", "final"]
    draft: tuple[CriterionScore, ...] | None
    submitted: tuple[CriterionScore, ...] | None
    others: Mapping[str, tuple[CriterionScore, ...]]
    rapporteur: bool


def expert_view(state: Evaluation, expert_id: str) -> ExpertView:
    """What `expert_id` sees of the evaluation."""
    own = state.submitted.get(expert_id)
    others = (
        {k: v for k, v in sorted(state.submitted.items()) if k != expert_id}
        if own is not None
        else {}
    )
    return ExpertView(
        round=state.round,
        status=state.status,
        draft=state.drafts.get(expert_id),
        submitted=own,
        others=others,
        rapporteur=state.rapporteur == expert_id,
    )
