"""The evaluation and ranking events survive their protobuf mapping exactly: every event type
decodes to what was encoded, fractions stay exact, and a ranking read back from its event
still hashes to the content hash the event carries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from fractions import Fraction

import pytest

from konkurs.intake.v1 import application_pb2
from konkurs_platform.envelope import Actor, Envelope
from konkurs_platform.eventstore import NewEvent
from konkurs_scoring.adapters.codec_s2 import (
    EvaluationCodec,
    RankingCodec,
    measures_of,
    rules_of,
)
from konkurs_scoring.domain.aggregation import (
    Aggregation,
    Band,
    CriterionKind,
    CriterionScore,
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
from konkurs_scoring.domain.ranking import (
    RankingContent,
    RankingEntry,
    RankingPublished,
    content_hash,
)

AT = datetime(2017, 7, 3, 4, 5, 6, tzinfo=UTC)
S = (CriterionScore("strategy", 7, "Названы рынки и шаги."), CriterionScore("services", 0, ""))


def envelope(new: NewEvent) -> Envelope:
    return Envelope(uuid.uuid4(), new.event_type, "evaluation-a", 1, AT, AT,
                    Actor("exp-1", "expert"), "c", None, 1, new.payload)  # fmt: skip


EVENTS: list[EvaluationEvent] = [
    EvaluationDraftSaved("a", "call", 1, "exp-1", S, AT),
    EvaluationSubmitted("a", "call", 2, "exp-1", S, AT),
    AutomaticScoresComputed(
        "a", "call", 1, (AutomaticScore("size", "participant_count", 12, 4),), AT
    ),
    ConsensusRequired("a", "call", 1, (Divergence("strategy", 2, 8),), AT),
    RapporteurNamed("a", "call", 1, "exp-2", True, AT),
    ConsensusRecorded("a", "call", 1, "exp-2", S, "Agreed after a call.", AT),
    EvaluationFinalised(
        "a", "call", 1,
        (FinalScore("strategy", Fraction(11, 3), Basis.EXPERTS),
         FinalScore("size", Fraction(4), Basis.AUTOMATIC),
         FinalScore("services", Fraction(5, 2), Basis.CONSENSUS)),
        Fraction(1547, 15), ("strategy", "overall"), False, ("exp-1", "exp-2"), 7, AT,
    ),
    EvaluationReopened("a", "call", 2, "Appeal upheld.", "ap-1", AT),
]  # fmt: skip


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_evaluation_event_decodes_to_what_was_encoded(event: EvaluationEvent) -> None:
    codec = EvaluationCodec()
    assert codec.decode(envelope(codec.encode(event))) == event


def test_a_ranking_read_back_from_its_event_hashes_to_the_hash_it_carries() -> None:
    content = RankingContent(
        "call", 7, ("criterion:strategy", "registration"),
        (RankingEntry(1, "a", "KZ-75-2017-0001", 2, (("strategy", Fraction(11, 3)),),
                      Fraction(1547, 15), True, (), ("e2", "e1"), ""),
         RankingEntry(2, "b", "KZ-63-2017-0001", 1, (("strategy", Fraction(1, 2)),),
                      Fraction(10), False, ("overall",), ("e3",), "fundable")),
    )  # fmt: skip
    event = RankingPublished("call", 3, content, content_hash(content), AT)
    codec = RankingCodec()
    decoded = codec.decode(envelope(codec.encode(event)))
    assert decoded == event
    assert content_hash(decoded.content) == event.content_hash


def test_the_methodology_is_read_with_issue_8_defaults() -> None:
    rules = rules_of(
        {
            "criteria": [
                {"id": "strategy", "kind": "CRITERION_KIND_EXPERT", "weight_percent": 60,
                 "scale_max": 5, "threshold": 3},
                {"id": "size", "kind": "CRITERION_KIND_AUTOMATIC", "weight_percent": 40,
                 "scale_min": 1, "scale_max": 5,
                 "automatic": {"measure": "AUTOMATIC_MEASURE_EMPLOYEE_COUNT",
                               "bands": [{"at_least": "100", "score": 3}, {"score": 1}]}},
            ],
            "overall_threshold_percent": 66,
            "divergence_threshold": 2,
        },
        4,
    )  # fmt: skip
    assert [c.kind for c in rules.criteria] == [CriterionKind.EXPERT, CriterionKind.AUTOMATIC]
    assert rules.criteria[1].measure == "employee_count"
    assert rules.criteria[1].bands == (Band(100, 3), Band(0, 1))
    assert rules.criteria[1].scale_min == 1
    assert (rules.aggregation, rules.min_comment_chars, rules.step_half_points) == (
        Aggregation.MEAN, 30, 1,
    )  # fmt: skip
    assert rules.tie_break == ("registration",)
    assert rules.call_version == 4
    stated = rules_of({"aggregation": "AGGREGATION_MEDIAN", "min_comment_chars": 80,
                       "scale_step": "SCALE_STEP_WHOLE_POINT",
                       "tie_break": ["criterion:strategy"]}, 1)  # fmt: skip
    assert (stated.aggregation, stated.min_comment_chars, stated.step_half_points) == (
        Aggregation.MEDIAN, 80, 2,
    )  # fmt: skip


def test_measures_count_the_participants_by_kind_and_weight_exports_by_revenue() -> None:
    p = application_pb2
    content = p.ApplicationContent(
        participants=[
            p.Participant(kind=p.PARTICIPANT_KIND_SME, employees=10, export_share_percent=50,
                          annual_revenue={"currency": "KZT", "minor_units": 300}),
            p.Participant(kind=p.PARTICIPANT_KIND_SME, employees=5, export_share_percent=0,
                          annual_revenue={"currency": "KZT", "minor_units": 100}),
            p.Participant(kind=p.PARTICIPANT_KIND_UNIVERSITY, employees=200),
        ],
        co_financing=p.CoFinancing(share_percent=25),
    ).SerializeToString()  # fmt: skip
    assert measures_of(content) == {
        "participant_count": 3,
        "sme_share_percent": 66,
        "research_partner_count": 1,
        "co_financing_share_percent": 25,
        "export_share_percent": 37,
        "employee_count": 215,
    }
    assert measures_of(b"")["sme_share_percent"] == 0
