"""The evaluation decider: given events, when a command, then events or a refusal.

Covers blind review, drafts and the locked submission, automatic criteria with their inputs,
aggregation (mean and median), divergence and consensus, thresholds and re-evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import TypeVar

import pytest

from konkurs_platform.domain import Conflict, DomainError, Forbidden
from konkurs_scoring.domain.aggregation import (
    OVERALL,
    Aggregation,
    Band,
    CriterionKind,
    CriterionRule,
    CriterionScore,
    ScoringRules,
    aggregate,
    band_score,
    diverges,
    leniency,
)
from konkurs_scoring.domain.evaluation import (
    AutomaticScore,
    AutomaticScoresComputed,
    Basis,
    ConsensusRecorded,
    ConsensusRequired,
    Divergence,
    Evaluation,
    EvaluationDraftSaved,
    EvaluationEvent,
    EvaluationFinalised,
    EvaluationReopened,
    EvaluationSubmitted,
    NameRapporteur,
    PanelMember,
    RapporteurNamed,
    RecordConsensus,
    ReopenEvaluation,
    SaveDraft,
    SubmitEvaluation,
    evaluation_decider,
    expert_view,
)

E = TypeVar("E")

APP = "app-1"
CALL = "clusters-2017"
T0 = datetime(2017, 6, 1, 9, tzinfo=UTC)
COMMENT = "The strategy names its markets and the steps to reach them."

RULES = ScoringRules(
    criteria=(
        CriterionRule("strategy", CriterionKind.EXPERT, 40, 0, 5, threshold=2),
        CriterionRule("cooperation", CriterionKind.EXPERT, 40, 0, 5, threshold=0),
        CriterionRule(
            "size",
            CriterionKind.AUTOMATIC,
            20,
            0,
            5,
            threshold=0,
            measure="participant_count",
            bands=(Band(5, 2), Band(10, 4), Band(20, 5)),
        ),
    ),
    overall_threshold_percent=50,
    call_version=3,
)
PANEL = (
    PanelMember("e-b", T0, "no_conflict"),
    PanelMember("e-a", T0 + timedelta(minutes=1), "no_conflict"),
    PanelMember("e-c", T0 + timedelta(minutes=2), "no_conflict"),
)
MEASURES = {"participant_count": 12}


def scores(
    strategy: float, cooperation: float, comment: str = COMMENT
) -> tuple[CriterionScore, ...]:
    return (
        CriterionScore("strategy", int(strategy * 2), comment),
        CriterionScore("cooperation", int(cooperation * 2), comment),
    )


def submit(expert: str, s: tuple[CriterionScore, ...], **kw: object) -> SubmitEvaluation:
    cmd = SubmitEvaluation(APP, CALL, expert, s, RULES, PANEL, MEASURES, T0 + timedelta(days=1))
    return replace(cmd, **kw)  # type: ignore[arg-type]


def given(*commands: object) -> tuple[Evaluation, list[EvaluationEvent]]:
    """The state after deciding `commands` one after another, and every event decided."""
    state = evaluation_decider.initial
    history: list[EvaluationEvent] = []
    for cmd in commands:
        new = evaluation_decider.decide(cmd, state)  # type: ignore[arg-type]
        history.extend(new)
        state = evaluation_decider.fold(new, state)
    return state, history


def of_type(events: Sequence[EvaluationEvent], kind: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


# Drafts, submission, locking ---------------------------------------------------------------


def test_a_draft_may_be_partial_and_is_replaced_by_the_next() -> None:
    state, events = given(
        SaveDraft(APP, CALL, "e-a", (CriterionScore("strategy", 7, "short"),), RULES, PANEL, T0),
        SaveDraft(APP, CALL, "e-a", scores(4, 3), RULES, PANEL, T0),
    )
    assert [type(e) for e in events] == [EvaluationDraftSaved, EvaluationDraftSaved]
    assert state.drafts["e-a"] == scores(4, 3)


def test_a_submission_is_locked_no_second_submission_or_draft() -> None:
    state, _ = given(submit("e-a", scores(4, 3)))
    with pytest.raises(Conflict) as refused:
        evaluation_decider.decide(submit("e-a", scores(5, 5)), state)
    assert refused.value.code == "already_submitted"
    with pytest.raises(Conflict):
        evaluation_decider.decide(
            SaveDraft(APP, CALL, "e-a", scores(1, 1), RULES, PANEL, T0), state
        )


def test_a_submission_must_score_every_expert_criterion_with_a_long_enough_comment() -> None:
    with pytest.raises(DomainError) as refused:
        given(submit("e-a", (CriterionScore("strategy", 8, "too short"),)))
    pointers = {i.pointer for i in refused.value.errors}
    assert pointers == {"/scores/0/comment", "/scores"}


@pytest.mark.parametrize(
    ("half_points", "reason"),
    [(11, "outside the scale"), (-1, "outside the scale"), (7, None)],
)
def test_scores_are_half_points_within_the_scale(half_points: int, reason: str | None) -> None:
    s = (
        CriterionScore("strategy", half_points, COMMENT),
        CriterionScore("cooperation", 6, COMMENT),
    )
    if reason is None:
        given(submit("e-a", s))
        return
    with pytest.raises(DomainError) as refused:
        given(submit("e-a", s))
    assert reason in refused.value.errors[0].reason


def test_whole_point_steps_refuse_a_half_point() -> None:
    rules = replace(RULES, step_half_points=2)
    with pytest.raises(DomainError) as refused:
        given(submit("e-a", scores(3.5, 3), rules=rules))
    assert "multiple of the step 1.0" in refused.value.errors[0].reason


def test_an_automatic_criterion_cannot_be_scored_by_an_expert() -> None:
    with pytest.raises(DomainError):
        given(submit("e-a", (*scores(3, 3), CriterionScore("size", 10, COMMENT))))


def test_an_expert_not_on_the_panel_or_without_a_declaration_is_forbidden() -> None:
    with pytest.raises(Forbidden) as stranger:
        given(submit("e-z", scores(3, 3)))
    assert stranger.value.code == "not_assigned"
    undeclared = (PanelMember("e-a", T0, "none"),)
    with pytest.raises(Forbidden) as early:
        given(SaveDraft(APP, CALL, "e-a", scores(3, 3), RULES, undeclared, T0))
    assert early.value.code == "no_declaration"


# Blind review -------------------------------------------------------------------------------


def test_blind_review_no_expert_sees_another_before_their_own_submission() -> None:
    state, _ = given(
        submit("e-a", scores(4, 3)),
        SaveDraft(APP, CALL, "e-b", scores(1, 1, "draft of b " * 5), RULES, PANEL, T0),
    )
    for expert in ("e-b", "e-c"):
        view = expert_view(state, expert)
        assert view.others == {}
        assert view.submitted is None
    # The draft of b is b's alone; a's view after submitting shows submissions only.
    assert expert_view(state, "e-b").draft == scores(1, 1, "draft of b " * 5)
    seen_by_a = expert_view(state, "e-a")
    assert seen_by_a.submitted == scores(4, 3)
    assert seen_by_a.others == {}


def test_after_submitting_an_expert_sees_the_others_submissions_but_never_drafts() -> None:
    state, _ = given(
        submit("e-a", scores(4, 3)),
        submit("e-b", scores(4, 4)),
        SaveDraft(APP, CALL, "e-c", scores(0, 0), RULES, PANEL, T0),
    )
    assert expert_view(state, "e-a").others == {"e-b": scores(4, 4)}
    assert expert_view(state, "e-c").others == {}


# Completion: automatic scores, aggregation, thresholds ---------------------------------------


def test_the_last_submission_computes_automatic_scores_with_inputs_and_finalises() -> None:
    state, events = given(
        submit("e-a", scores(4, 3)), submit("e-b", scores(4, 4)), submit("e-c", scores(3, 3.5))
    )
    assert [type(e) for e in events[2:]] == [
        EvaluationSubmitted,
        AutomaticScoresComputed,
        EvaluationFinalised,
    ]
    (automatic,) = of_type(events, AutomaticScoresComputed)
    assert automatic.scores == (AutomaticScore("size", "participant_count", 12, 4),)
    final = state.final
    assert final is not None
    by_id = {s.criterion_id: s for s in final.scores}
    assert by_id["strategy"].score == Fraction(11, 3)
    assert by_id["strategy"].basis is Basis.EXPERTS
    assert by_id["cooperation"].score == Fraction(21, 6)
    assert by_id["size"].score == 4
    assert by_id["size"].basis is Basis.AUTOMATIC
    # 40 * 11/15 + 40 * 21/30 + 20 * 4/5
    assert final.overall == Fraction(40 * 11, 15) + Fraction(40 * 21, 30) + 16
    assert final.fundable and final.failed_thresholds == ()
    assert final.experts == ("e-a", "e-b", "e-c")
    assert final.call_version == 3


def test_nothing_is_final_while_a_panel_member_has_not_submitted() -> None:
    state, events = given(submit("e-a", scores(4, 3)), submit("e-b", scores(4, 4)))
    assert [type(e) for e in events] == [EvaluationSubmitted, EvaluationSubmitted]
    assert state.status == "open"


def test_an_expert_removed_from_the_panel_neither_blocks_nor_counts() -> None:
    smaller = PANEL[:2]
    state, _ = given(
        submit("e-c", scores(0, 0)),
        submit("e-a", scores(4, 3), panel=smaller),
        submit("e-b", scores(4, 4), panel=smaller),
    )
    assert state.final is not None
    assert state.final.experts == ("e-a", "e-b")
    assert dict((s.criterion_id, s.score) for s in state.final.scores)["strategy"] == 4


def test_median_aggregation_takes_the_middle_score() -> None:
    rules = replace(RULES, aggregation=Aggregation.MEDIAN)
    state, _ = given(
        submit("e-a", scores(1, 3), rules=rules),
        submit("e-b", scores(3, 4), rules=rules),
        submit("e-c", scores(2.5, 3.5), rules=rules),
    )
    assert state.final is not None
    by_id = {s.criterion_id: s.score for s in state.final.scores}
    assert by_id == {"strategy": Fraction(5, 2), "cooperation": Fraction(7, 2), "size": 4}


def test_aggregation_edges() -> None:
    assert aggregate([7], Aggregation.MEAN) == Fraction(7, 2)
    assert aggregate([2, 9], Aggregation.MEDIAN) == Fraction(11, 4)
    assert aggregate([2, 3, 4], Aggregation.MEAN) == Fraction(3, 2)
    with pytest.raises(ValueError):
        aggregate([], Aggregation.MEAN)


def test_a_spread_equal_to_the_limit_needs_no_consensus_one_half_point_more_does() -> None:
    assert not diverges([2, 6], 2)
    assert diverges([2, 7], 2)
    assert diverges([0, 1], 0)


def test_bands_take_the_greatest_reached_and_the_minimum_when_none_is() -> None:
    rule = RULES.criteria[2]
    assert [band_score(rule, n) for n in (0, 4, 5, 9, 10, 19, 20, 500)] == [0, 0, 2, 2, 4, 4, 5, 5]


def test_a_criterion_below_its_threshold_is_scored_listed_and_marked_failing() -> None:
    state, _ = given(
        submit("e-a", scores(1.5, 5)), submit("e-b", scores(1.5, 5)), submit("e-c", scores(1.5, 5))
    )
    assert state.final is not None
    assert state.final.failed_thresholds == ("strategy",)
    assert not state.final.fundable
    assert state.final.overall == 12 + 40 + 16


def test_a_score_exactly_at_the_thresholds_passes_them() -> None:
    rules = replace(RULES, overall_threshold_percent=52)
    state, _ = given(*(submit(e, scores(2, 3.5), rules=rules) for e in ("e-a", "e-b", "e-c")))
    assert state.final is not None
    # 40 * 2/5 + 40 * 3.5/5 + 20 * 4/5 = 16 + 28 + 16 = 60; at the strategy threshold 2.
    assert state.final.overall == 60 and state.final.fundable
    stricter = replace(RULES, overall_threshold_percent=61)
    state, _ = given(*(submit(e, scores(2, 3.5), rules=stricter) for e in ("e-a", "e-b", "e-c")))
    assert state.final is not None and state.final.failed_thresholds == (OVERALL,)


def test_a_missing_measure_is_refused_not_scored_zero() -> None:
    with pytest.raises(DomainError) as refused:
        given(
            submit("e-a", scores(3, 3), measures={}),
            submit("e-b", scores(3, 3), measures={}),
            submit("e-c", scores(3, 3), measures={}),
        )
    assert refused.value.code == "unmeasured"


# Consensus ----------------------------------------------------------------------------------


def diverging() -> tuple[Evaluation, list[EvaluationEvent]]:
    return given(
        submit("e-a", scores(1, 3)), submit("e-b", scores(4, 3)), submit("e-c", scores(3, 3))
    )


def test_a_spread_above_the_limit_requires_consensus_and_the_first_assigned_is_rapporteur() -> None:
    state, events = diverging()
    (required,) = of_type(events, ConsensusRequired)
    assert required.divergences == (Divergence("strategy", 2, 8),)
    (named,) = of_type(events, RapporteurNamed)
    # e-b was assigned first.
    assert named.expert_id == "e-b" and named.by_rule
    assert state.status == "consensus" and state.final is None


def test_no_submission_is_taken_while_consensus_is_pending() -> None:
    state, _ = diverging()
    late = (*PANEL, PanelMember("e-d", T0, "no_conflict"))
    with pytest.raises(Conflict) as refused:
        evaluation_decider.decide(submit("e-d", scores(3, 3), panel=late), state)
    assert refused.value.code == "consensus_pending"


def test_the_operator_may_name_another_submitting_expert_as_rapporteur() -> None:
    state, _ = diverging()
    (named,) = evaluation_decider.decide(NameRapporteur(APP, "e-c", PANEL, T0), state)
    assert isinstance(named, RapporteurNamed) and not named.by_rule
    with pytest.raises(DomainError):
        evaluation_decider.decide(NameRapporteur(APP, "e-z", PANEL, T0), state)


def test_only_the_rapporteur_records_consensus_and_it_counts_instead_of_the_mean() -> None:
    state, _ = diverging()
    justification = "We agreed the strategy is credible but lacks a budget per step."
    with pytest.raises(Forbidden):
        evaluation_decider.decide(
            RecordConsensus(APP, "e-a", scores(3, 3), justification, RULES, T0), state
        )
    events = evaluation_decider.decide(
        RecordConsensus(APP, "e-b", scores(3, 3), justification, RULES, T0), state
    )
    assert [type(e) for e in events] == [ConsensusRecorded, EvaluationFinalised]
    final = events[1]
    assert isinstance(final, EvaluationFinalised)
    by_id = {s.criterion_id: s for s in final.scores}
    assert by_id["strategy"].score == 3 and by_id["strategy"].basis is Basis.CONSENSUS
    after = evaluation_decider.fold(events, state)
    # The individual reports stay.
    assert after.submitted["e-a"] == scores(1, 3)


def test_a_consensus_report_needs_a_justification() -> None:
    state, _ = diverging()
    with pytest.raises(DomainError) as refused:
        evaluation_decider.decide(RecordConsensus(APP, "e-b", scores(3, 3), "ok", RULES, T0), state)
    assert [i.pointer for i in refused.value.errors] == ["/justification"]


# Re-evaluation ------------------------------------------------------------------------------


def finalised() -> Evaluation:
    state, _ = given(*(submit(e, scores(3, 3)) for e in ("e-a", "e-b", "e-c")))
    return state


def test_reopening_starts_a_new_round_where_the_same_experts_may_submit_again() -> None:
    state = finalised()
    (reopened,) = evaluation_decider.decide(
        ReopenEvaluation(APP, "appeal upheld", "ap-1", T0), state
    )
    assert isinstance(reopened, EvaluationReopened) and reopened.round == 2
    state = evaluation_decider.fold([reopened], state)
    assert state.status == "open" and state.submitted == {}
    events = evaluation_decider.decide(submit("e-a", scores(5, 5)), state)
    assert isinstance(events[0], EvaluationSubmitted) and events[0].round == 2


def test_the_same_appeal_reopens_once() -> None:
    state = finalised()
    cmd = ReopenEvaluation(APP, "appeal upheld", "ap-1", T0)
    state = evaluation_decider.fold(evaluation_decider.decide(cmd, state), state)
    assert evaluation_decider.decide(cmd, state) == []


def test_an_evaluation_not_final_cannot_be_reopened() -> None:
    with pytest.raises(Conflict):
        evaluation_decider.decide(ReopenEvaluation(APP, "why", "", T0), Evaluation())
    state = finalised()
    with pytest.raises(DomainError):
        evaluation_decider.decide(ReopenEvaluation(APP, "  ", "", T0), state)


# Normalisation (an analysis view) -------------------------------------------------------------


def test_leniency_shows_a_lenient_and_a_strict_expert_beside_their_panels() -> None:
    panels = [
        {"e-a": scores(5, 5), "e-b": scores(3, 3), "e-c": scores(1, 1)},
        {"e-a": scores(4, 4), "e-b": scores(3, 3)},
    ]
    by_expert = {x.expert_id: x for x in leniency(RULES, panels)}
    assert by_expert["e-a"].deviation > 0 > by_expert["e-c"].deviation
    assert by_expert["e-b"].deviation == Fraction(-1, 20)
    assert by_expert["e-a"].scores == 4 and by_expert["e-c"].scores == 2
    assert by_expert["e-c"].mean == Fraction(1, 5)
