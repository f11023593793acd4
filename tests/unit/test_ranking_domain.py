"""The ranking: order, tie-break chain, canonical bytes and versions."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from konkurs_platform.domain import DomainError
from konkurs_scoring.domain.aggregation import (
    OVERALL,
    CriterionKind,
    CriterionRule,
    ScoringRules,
)
from konkurs_scoring.domain.ranking import (
    PublishRanking,
    RankingInput,
    RankingPublished,
    canonical_bytes,
    content_hash,
    rank,
    ranking_decider,
)

CALL = "clusters-2017"
T0 = datetime(2017, 5, 1, 9, tzinfo=UTC)

RULES = ScoringRules(
    criteria=(
        CriterionRule("strategy", CriterionKind.EXPERT, 50, 0, 5, threshold=0),
        CriterionRule("cooperation", CriterionKind.EXPERT, 50, 0, 5, threshold=0),
    ),
    overall_threshold_percent=40,
    tie_break=("criterion:cooperation", "criterion:strategy", "registration"),
    call_version=2,
)


def entry(
    app: str,
    strategy: Fraction,
    cooperation: Fraction,
    *,
    minutes: int = 0,
    failed: tuple[str, ...] = (),
) -> RankingInput:
    overall = 10 * strategy + 10 * cooperation
    return RankingInput(
        application_id=app,
        registration_number=f"KZ-75-2017-{minutes:04d}",
        registered_at=T0 + timedelta(minutes=minutes),
        round=1,
        scores={"strategy": strategy, "cooperation": cooperation},
        overall=overall,
        failed_thresholds=failed,
        event_ids=(f"{app}-e2", f"{app}-e1"),
    )


def order(inputs: list[RankingInput], rules: ScoringRules = RULES) -> list[str]:
    return [e.application_id for e in rank(CALL, rules, inputs).entries]


def test_higher_overall_ranks_first() -> None:
    inputs = [entry("low", Fraction(2), Fraction(2)), entry("high", Fraction(4), Fraction(4))]
    assert order(inputs) == ["high", "low"]


def test_a_tie_on_overall_is_broken_by_the_first_named_criterion() -> None:
    inputs = [
        entry("strong-strategy", Fraction(4), Fraction(2), minutes=1),
        entry("strong-cooperation", Fraction(2), Fraction(4), minutes=2),
    ]
    ranking = rank(CALL, RULES, inputs)
    assert [e.application_id for e in ranking.entries] == ["strong-cooperation", "strong-strategy"]
    assert ranking.entries[1].decided_by == "criterion:cooperation"


def test_a_tie_on_every_criterion_goes_to_the_earlier_registration() -> None:
    inputs = [
        entry("later", Fraction(3), Fraction(3), minutes=5),
        entry("earlier", Fraction(3), Fraction(3), minutes=1),
    ]
    ranking = rank(CALL, RULES, inputs)
    assert [e.application_id for e in ranking.entries] == ["earlier", "later"]
    assert ranking.entries[1].decided_by == "registration"


def test_registration_ends_the_chain_even_when_the_methodology_leaves_it_out() -> None:
    rules = replace(RULES, tie_break=("criterion:strategy",))
    assert rank(CALL, rules, []).tie_break == ("criterion:strategy", "registration")


def test_a_fraction_of_a_point_is_not_a_tie() -> None:
    inputs = [
        entry("a", Fraction(10, 3), Fraction(3), minutes=1),
        entry("b", Fraction(3), Fraction(10, 3), minutes=2),
        entry("c", Fraction(3), Fraction(3), minutes=0),
    ]
    # a and b tie overall (exactly: no float rounding), b wins on cooperation; c is lower.
    assert order(inputs) == ["b", "a", "c"]


def test_failing_applications_are_listed_after_the_fundable_whatever_their_score() -> None:
    inputs = [
        entry("failing", Fraction(5), Fraction(5), failed=("strategy",)),
        entry("fundable", Fraction(2), Fraction(2)),
        entry("below-overall", Fraction(1), Fraction(1), failed=(OVERALL,)),
    ]
    ranking = rank(CALL, RULES, inputs)
    assert [e.application_id for e in ranking.entries] == ["fundable", "failing", "below-overall"]
    assert [e.fundable for e in ranking.entries] == [True, False, False]
    assert ranking.entries[1].decided_by == "fundable"
    assert ranking.entries[1].failed_thresholds == ("strategy",)


def test_a_tie_break_naming_no_criterion_is_refused() -> None:
    with pytest.raises(DomainError):
        rank(CALL, replace(RULES, tie_break=("criterion:nothing",)), [])


def test_the_same_evaluations_in_any_order_give_the_same_bytes() -> None:
    inputs = [
        entry(f"app-{i:02d}", Fraction(i % 5), Fraction(i % 3, 2), minutes=i) for i in range(21)
    ]
    expected = canonical_bytes(rank(CALL, RULES, inputs))
    for seed in range(20):
        shuffled = inputs[:]
        random.Random(seed).shuffle(shuffled)
        assert canonical_bytes(rank(CALL, RULES, shuffled)) == expected
    document = json.loads(expected)
    assert document["entries"][0]["event_ids"] == sorted(document["entries"][0]["event_ids"])
    assert document["entries"][0]["overall"].count("/") == 1


def test_the_hash_changes_with_any_score() -> None:
    inputs = [entry("a", Fraction(3), Fraction(3)), entry("b", Fraction(2), Fraction(2))]
    changed = [inputs[0], replace(inputs[1], overall=Fraction(41, 2))]
    assert content_hash(rank(CALL, RULES, inputs)) != content_hash(rank(CALL, RULES, changed))


def test_publishing_the_same_content_again_publishes_nothing_a_change_a_new_version() -> None:
    first = rank(CALL, RULES, [entry("a", Fraction(3), Fraction(3))])
    (published,) = ranking_decider.decide(PublishRanking(CALL, first, T0), ranking_decider.initial)
    assert isinstance(published, RankingPublished)
    assert published.ranking_version == 1
    assert published.content_hash == content_hash(first)
    state = ranking_decider.fold([published])
    assert ranking_decider.decide(PublishRanking(CALL, first, T0), state) == []
    second = rank(CALL, RULES, [replace(entry("a", Fraction(3), Fraction(3)), round=2)])
    (republished,) = ranking_decider.decide(PublishRanking(CALL, second, T0), state)
    assert republished.ranking_version == 2
