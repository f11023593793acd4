"""Protobuf mapping of the evaluation and ranking events (`schemas/konkurs/scoring/v1`), and
the readings of intake's protobuf that they need: the methodology as `ScoringRules`, and an
application's content as the quantities its automatic criteria measure."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from konkurs.intake.v1 import application_pb2
from konkurs.scoring.v1 import evaluation_pb2 as pb
from konkurs.scoring.v1 import ranking_pb2
from konkurs_platform.envelope import Envelope
from konkurs_platform.eventstore import NewEvent
from konkurs_platform.protobuf import from_timestamp, new_event, to_timestamp
from konkurs_scoring.domain.aggregation import (
    REGISTRATION,
    Aggregation,
    Band,
    CriterionKind,
    CriterionRule,
    CriterionScore,
    ScoringRules,
)
from konkurs_scoring.domain.evaluation import (
    AutomaticScore,
    AutomaticScoresComputed,
    Basis,
    ConsensusRecorded,
    ConsensusRequired,
    Divergence,
    EvaluationDraftSaved,
    EvaluationEvent,
    EvaluationFinalised,
    EvaluationReopened,
    EvaluationSubmitted,
    FinalScore,
    RapporteurNamed,
)
from konkurs_scoring.domain.ranking import RankingContent, RankingEntry, RankingPublished

DRAFT_SAVED = pb.EvaluationDraftSaved.DESCRIPTOR.full_name
SUBMITTED = pb.EvaluationSubmitted.DESCRIPTOR.full_name
AUTOMATIC_COMPUTED = pb.AutomaticScoresComputed.DESCRIPTOR.full_name
CONSENSUS_REQUIRED = pb.ConsensusRequired.DESCRIPTOR.full_name
RAPPORTEUR_NAMED = pb.RapporteurNamed.DESCRIPTOR.full_name
CONSENSUS_RECORDED = pb.ConsensusRecorded.DESCRIPTOR.full_name
FINALISED = pb.EvaluationFinalised.DESCRIPTOR.full_name
REOPENED = pb.EvaluationReopened.DESCRIPTOR.full_name
RANKING_PUBLISHED = ranking_pb2.RankingPublished.DESCRIPTOR.full_name

_BASIS = {
    Basis.AUTOMATIC: pb.SCORE_BASIS_AUTOMATIC,
    Basis.EXPERTS: pb.SCORE_BASIS_EXPERTS,
    Basis.CONSENSUS: pb.SCORE_BASIS_CONSENSUS,
}
_BASIS_OF_PB = {v: k for k, v in _BASIS.items()}


def _exact(value: Fraction) -> pb.ExactScore:
    return pb.ExactScore(numerator=value.numerator, denominator=value.denominator)


def _fraction(score: pb.ExactScore) -> Fraction:
    return Fraction(score.numerator, score.denominator)


def _scores(scores: tuple[CriterionScore, ...]) -> list[pb.CriterionScore]:
    return [
        pb.CriterionScore(criterion_id=s.criterion_id, half_points=s.half_points, comment=s.comment)
        for s in scores
    ]


def _unscores(scores: Any) -> tuple[CriterionScore, ...]:
    return tuple(CriterionScore(s.criterion_id, s.half_points, s.comment) for s in scores)


class EvaluationCodec:
    """`EventCodec` for the evaluation aggregate."""

    def encode(self, event: EvaluationEvent) -> NewEvent:
        match event:
            case EvaluationDraftSaved():
                return new_event(
                    pb.EvaluationDraftSaved(
                        application_id=event.application_id,
                        call_id=event.call_id,
                        round=event.round,
                        expert_id=event.expert_id,
                        scores=_scores(event.scores),
                        saved_at=to_timestamp(event.saved_at),
                    )
                )
            case EvaluationSubmitted():
                return new_event(
                    pb.EvaluationSubmitted(
                        application_id=event.application_id,
                        call_id=event.call_id,
                        round=event.round,
                        expert_id=event.expert_id,
                        scores=_scores(event.scores),
                        submitted_at=to_timestamp(event.submitted_at),
                    )
                )
            case AutomaticScoresComputed():
                return new_event(
                    pb.AutomaticScoresComputed(
                        application_id=event.application_id,
                        call_id=event.call_id,
                        round=event.round,
                        scores=[
                            pb.AutomaticScore(
                                criterion_id=a.criterion_id,
                                measure=a.measure,
                                measured=a.measured,
                                score=a.score,
                            )
                            for a in event.scores
                        ],
                        computed_at=to_timestamp(event.computed_at),
                    )
                )
            case ConsensusRequired():
                return new_event(
                    pb.ConsensusRequired(
                        application_id=event.application_id,
                        call_id=event.call_id,
                        round=event.round,
                        divergences=[
                            pb.Divergence(
                                criterion_id=d.criterion_id,
                                lowest_half_points=d.lowest,
                                highest_half_points=d.highest,
                            )
                            for d in event.divergences
                        ],
                        required_at=to_timestamp(event.required_at),
                    )
                )
            case RapporteurNamed():
                return new_event(
                    pb.RapporteurNamed(
                        application_id=event.application_id,
                        call_id=event.call_id,
                        round=event.round,
                        expert_id=event.expert_id,
                        by_rule=event.by_rule,
                        named_at=to_timestamp(event.named_at),
                    )
                )
            case ConsensusRecorded():
                return new_event(
                    pb.ConsensusRecorded(
                        application_id=event.application_id,
                        call_id=event.call_id,
                        round=event.round,
                        expert_id=event.expert_id,
                        scores=_scores(event.scores),
                        justification=event.justification,
                        recorded_at=to_timestamp(event.recorded_at),
                    )
                )
            case EvaluationFinalised():
                return new_event(
                    pb.EvaluationFinalised(
                        application_id=event.application_id,
                        call_id=event.call_id,
                        round=event.round,
                        scores=[
                            pb.FinalScore(
                                criterion_id=s.criterion_id,
                                score=_exact(s.score),
                                basis=_BASIS[s.basis],
                            )
                            for s in event.scores
                        ],
                        overall=_exact(event.overall),
                        failed_thresholds=event.failed_thresholds,
                        fundable=event.fundable,
                        expert_ids=event.experts,
                        call_version=event.call_version,
                        finalised_at=to_timestamp(event.finalised_at),
                    )
                )
            case EvaluationReopened():
                return new_event(
                    pb.EvaluationReopened(
                        application_id=event.application_id,
                        call_id=event.call_id,
                        round=event.round,
                        reason=event.reason,
                        appeal_id=event.appeal_id,
                        reopened_at=to_timestamp(event.reopened_at),
                    )
                )
        raise TypeError(f"not an evaluation event: {event!r}")

    def decode(self, envelope: Envelope) -> EvaluationEvent:
        t, data = envelope.event_type, envelope.payload
        if t == DRAFT_SAVED:
            d = pb.EvaluationDraftSaved.FromString(data)
            return EvaluationDraftSaved(
                d.application_id,
                d.call_id,
                d.round,
                d.expert_id,
                _unscores(d.scores),
                from_timestamp(d.saved_at),
            )
        if t == SUBMITTED:
            s = pb.EvaluationSubmitted.FromString(data)
            return EvaluationSubmitted(
                s.application_id,
                s.call_id,
                s.round,
                s.expert_id,
                _unscores(s.scores),
                from_timestamp(s.submitted_at),
            )
        if t == AUTOMATIC_COMPUTED:
            a = pb.AutomaticScoresComputed.FromString(data)
            return AutomaticScoresComputed(
                a.application_id,
                a.call_id,
                a.round,
                tuple(
                    AutomaticScore(x.criterion_id, x.measure, x.measured, x.score) for x in a.scores
                ),
                from_timestamp(a.computed_at),
            )
        if t == CONSENSUS_REQUIRED:
            c = pb.ConsensusRequired.FromString(data)
            return ConsensusRequired(
                c.application_id,
                c.call_id,
                c.round,
                tuple(
                    Divergence(x.criterion_id, x.lowest_half_points, x.highest_half_points)
                    for x in c.divergences
                ),
                from_timestamp(c.required_at),
            )
        if t == RAPPORTEUR_NAMED:
            r = pb.RapporteurNamed.FromString(data)
            return RapporteurNamed(
                r.application_id,
                r.call_id,
                r.round,
                r.expert_id,
                r.by_rule,
                from_timestamp(r.named_at),
            )
        if t == CONSENSUS_RECORDED:
            k = pb.ConsensusRecorded.FromString(data)
            return ConsensusRecorded(
                k.application_id,
                k.call_id,
                k.round,
                k.expert_id,
                _unscores(k.scores),
                k.justification,
                from_timestamp(k.recorded_at),
            )
        if t == FINALISED:
            f = pb.EvaluationFinalised.FromString(data)
            return EvaluationFinalised(
                application_id=f.application_id,
                call_id=f.call_id,
                round=f.round,
                scores=tuple(
                    FinalScore(s.criterion_id, _fraction(s.score), _BASIS_OF_PB[s.basis])
                    for s in f.scores
                ),
                overall=_fraction(f.overall),
                failed_thresholds=tuple(f.failed_thresholds),
                fundable=f.fundable,
                experts=tuple(f.expert_ids),
                call_version=f.call_version,
                finalised_at=from_timestamp(f.finalised_at),
            )
        if t == REOPENED:
            o = pb.EvaluationReopened.FromString(data)
            return EvaluationReopened(
                o.application_id,
                o.call_id,
                o.round,
                o.reason,
                o.appeal_id,
                from_timestamp(o.reopened_at),
            )
        raise ValueError(f"not an evaluation event type: {t}")


class RankingCodec:
    """`EventCodec` for the ranking aggregate."""

    def encode(self, event: RankingPublished) -> NewEvent:
        content = event.content
        return new_event(
            ranking_pb2.RankingPublished(
                call_id=event.call_id,
                ranking_version=event.ranking_version,
                call_version=content.call_version,
                tie_break=content.tie_break,
                entries=[
                    ranking_pb2.RankingEntry(
                        rank=e.rank,
                        application_id=e.application_id,
                        registration_number=e.registration_number,
                        round=e.round,
                        scores=[
                            ranking_pb2.RankedScore(criterion_id=c, score=_exact(s))
                            for c, s in e.scores
                        ],
                        overall=_exact(e.overall),
                        fundable=e.fundable,
                        failed_thresholds=e.failed_thresholds,
                        event_ids=e.event_ids,
                        decided_by=e.decided_by,
                    )
                    for e in content.entries
                ],
                content_hash=event.content_hash,
                published_at=to_timestamp(event.published_at),
            )
        )

    def decode(self, envelope: Envelope) -> RankingPublished:
        if envelope.event_type != RANKING_PUBLISHED:
            raise ValueError(f"not a ranking event type: {envelope.event_type}")
        r = ranking_pb2.RankingPublished.FromString(envelope.payload)
        content = RankingContent(
            call_id=r.call_id,
            call_version=r.call_version,
            tie_break=tuple(r.tie_break),
            entries=tuple(
                RankingEntry(
                    rank=e.rank,
                    application_id=e.application_id,
                    registration_number=e.registration_number,
                    round=e.round,
                    scores=tuple((s.criterion_id, _fraction(s.score)) for s in e.scores),
                    overall=_fraction(e.overall),
                    fundable=e.fundable,
                    failed_thresholds=tuple(e.failed_thresholds),
                    event_ids=tuple(e.event_ids),
                    decided_by=e.decided_by,
                )
                for e in r.entries
            ),
        )
        return RankingPublished(
            r.call_id, r.ranking_version, content, r.content_hash, from_timestamp(r.published_at)
        )


# Intake's protobuf, read for scoring -----------------------------------------------------------

_MEASURE_PREFIX = "AUTOMATIC_MEASURE_"
_KIND_PREFIX = "CRITERION_KIND_"


def rules_of(methodology: Mapping[str, Any], call_version: int) -> ScoringRules:
    """The methodology as scoring keeps it (intake's Methodology as a dict with the proto's
    field names, defaults left out) read as `ScoringRules`, with issue 8's defaults for the
    terms an older call does not state."""
    criteria = tuple(
        CriterionRule(
            id=c["id"],
            kind=CriterionKind(str(c.get("kind", "")).removeprefix(_KIND_PREFIX).lower()),
            weight_percent=int(c.get("weight_percent", 0)),
            scale_min=int(c.get("scale_min", 0)),
            scale_max=int(c.get("scale_max", 0)),
            threshold=int(c.get("threshold", 0)),
            measure=str(c.get("automatic", {}).get("measure", ""))
            .removeprefix(_MEASURE_PREFIX)
            .lower(),
            bands=tuple(
                Band(int(b.get("at_least", 0)), int(b.get("score", 0)))
                for b in c.get("automatic", {}).get("bands", ())
            ),
        )
        for c in methodology.get("criteria", ())
    )
    aggregation = str(methodology.get("aggregation", "mean")).lower()
    # Intake's ScaleStep by name: whole points, or half points (also when unset).
    whole = methodology.get("scale_step") == "SCALE_STEP_WHOLE_POINT"
    return ScoringRules(
        criteria=criteria,
        overall_threshold_percent=int(methodology.get("overall_threshold_percent", 0)),
        # Written by intake's API with a default of 2; absent here only when set to 0.
        divergence_threshold=int(methodology.get("divergence_threshold", 0)),
        aggregation=Aggregation.MEDIAN if "median" in aggregation else Aggregation.MEAN,
        min_comment_chars=int(methodology.get("min_comment_chars", 0)) or 30,
        step_half_points=2 if whole else 1,
        tie_break=tuple(methodology.get("tie_break", ())) or (REGISTRATION,),
        experts_per_application=int(methodology.get("experts_per_application", 0)) or 3,
        call_version=call_version,
    )


def measures_of(content: bytes) -> dict[str, int]:
    """Every quantity an automatic criterion may measure on an application's content
    (intake's ApplicationContent bytes), by measure name."""
    c = application_pb2.ApplicationContent.FromString(content)
    participants = list(c.participants)
    count = len(participants)
    sme = sum(p.kind == application_pb2.PARTICIPANT_KIND_SME for p in participants)
    research = sum(
        p.kind
        in (
            application_pb2.PARTICIPANT_KIND_UNIVERSITY,
            application_pb2.PARTICIPANT_KIND_RESEARCH_ORGANISATION,
        )
        for p in participants
    )
    revenue = sum(p.annual_revenue.minor_units for p in participants)
    exported = sum(p.annual_revenue.minor_units * p.export_share_percent for p in participants)
    return {
        "participant_count": count,
        # Whole percent rounded down, as intake's AutomaticMeasure says.
        "sme_share_percent": 100 * sme // count if count else 0,
        "research_partner_count": research,
        "co_financing_share_percent": c.co_financing.share_percent,
        "export_share_percent": exported // revenue if revenue else 0,
        "employee_count": sum(p.employees for p in participants),
    }
