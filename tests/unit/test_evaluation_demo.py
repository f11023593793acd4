"""The 2017 demo's illustrative evaluations: valid, the same on every load, some diverging."""

from __future__ import annotations

import uuid

from konkurs_scoring.demo_evaluations import diverging, scores_of
from konkurs_scoring.domain.aggregation import (
    CriterionKind,
    CriterionRule,
    ScoringRules,
    check_scores,
    diverges,
)

RULES = ScoringRules(
    criteria=tuple(
        CriterionRule(c, CriterionKind.EXPERT, w, 0, 5, threshold=3)
        for c, w in (("strategy", 30), ("critical-mass", 20), ("cooperation", 20),
                     ("governance", 15), ("services", 15))
    ),
    overall_threshold_percent=66,
)  # fmt: skip
APPLICATIONS = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"demo/{n}")) for n in range(21)]
EXPERTS = ("expert-01", "expert-02", "expert-03")


def test_demo_scores_are_valid_submissions_and_the_same_on_every_load() -> None:
    for application_id in APPLICATIONS:
        for expert_id in EXPERTS:
            given = scores_of(RULES, application_id, expert_id)
            assert check_scores(RULES, given, complete=True, pointer="/scores") == []
            assert given == scores_of(RULES, application_id, expert_id)


def test_the_diverging_panels_diverge_and_the_others_do_not() -> None:
    diverged = []
    for n, application_id in enumerate(APPLICATIONS[:19]):
        stances = ("agreeing", "agreeing", "far_off") if diverging(n) else ("own",) * 3
        panel = [
            scores_of(RULES, application_id, e, s) for e, s in zip(EXPERTS, stances, strict=True)
        ]
        for scores in panel:
            assert check_scores(RULES, scores, complete=True, pointer="/scores") == []
        if any(
            diverges([p[c].half_points for p in panel], RULES.divergence_threshold)
            for c in range(len(RULES.criteria))
        ):
            diverged.append(n)
    assert diverged == [2, 8, 14]
