"""The 2017 demo's illustrative evaluations: valid, the same on every load, some diverging."""

from __future__ import annotations

import uuid

from konkurs_scoring.demo_evaluations import scores_of
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


def test_some_demo_panels_diverge_and_most_do_not() -> None:
    diverging = 0
    for application_id in APPLICATIONS:
        panel = [scores_of(RULES, application_id, e) for e in EXPERTS]
        diverging += any(
            diverges([p[n].half_points for p in panel], RULES.divergence_threshold)
            for n in range(len(RULES.criteria))
        )
    assert 0 < diverging < len(APPLICATIONS) // 2
