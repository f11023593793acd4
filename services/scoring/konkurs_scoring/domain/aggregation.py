"""The arithmetic of a call's methodology: scales, automatic bands, aggregation, thresholds.

Pure and exact. An expert's score is a whole number of *half points* (the default scale step
is half a point), and every derived score is a `Fraction`: the mean of three experts is a
third of something, and a ranking decided by a rounding error could not be recomputed by
anyone with a different float library.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from konkurs_platform.domain import DomainError, FieldIssue


class CriterionKind(StrEnum):
    """Who scores a criterion."""

    EXPERT = "expert"
    AUTOMATIC = "automatic"


class Aggregation(StrEnum):
    """How the experts' scores on one criterion become the criterion's score."""

    MEAN = "mean"
    MEDIAN = "median"


@dataclass(frozen=True)
class Band:
    """A measured value of at least `at_least` earns `score` points."""

    at_least: int
    score: int


@dataclass(frozen=True)
class CriterionRule:
    """One criterion of the methodology, as scoring applies it."""

    id: str
    kind: CriterionKind
    weight_percent: int
    scale_min: int
    scale_max: int
    # Least score (points) to pass this criterion; scale_min means no threshold.
    threshold: int
    # Automatic criteria only: what is measured (intake's AutomaticMeasure name, e.g.
    # "participant_count") and the bands that map it to the scale.
    measure: str = ""
    bands: tuple[Band, ...] = ()


# Tie-break keys besides `criterion:<id>`: the earlier registration wins.
REGISTRATION = "registration"
CRITERION_PREFIX = "criterion:"


@dataclass(frozen=True)
class ScoringRules:
    """What a call's methodology says about scoring, with issue 8's defaults filled in."""

    criteria: tuple[CriterionRule, ...]
    overall_threshold_percent: int
    # Largest accepted spread between experts on one criterion, in points.
    divergence_threshold: int = 2
    aggregation: Aggregation = Aggregation.MEAN
    min_comment_chars: int = 30
    # Scores are multiples of this many half points (1: half points, 2: whole points).
    step_half_points: int = 1
    # Ordered `criterion:<id>` keys, then `registration`; applied after the overall score.
    tie_break: tuple[str, ...] = (REGISTRATION,)
    experts_per_application: int = 3
    # The version of the call (intake's stream) these rules were read from.
    call_version: int = 0

    @property
    def expert_criteria(self) -> tuple[CriterionRule, ...]:
        return tuple(c for c in self.criteria if c.kind is CriterionKind.EXPERT)

    @property
    def automatic_criteria(self) -> tuple[CriterionRule, ...]:
        return tuple(c for c in self.criteria if c.kind is CriterionKind.AUTOMATIC)

    def criterion(self, criterion_id: str) -> CriterionRule | None:
        return next((c for c in self.criteria if c.id == criterion_id), None)

    def tie_break_chain(self) -> tuple[str, ...]:
        """The chain as applied: the methodology's keys, ending with `registration` whether
        or not it names it, so that two applications are never left tied."""
        chain = tuple(k for k in self.tie_break if k != REGISTRATION)
        return (*chain, REGISTRATION)


@dataclass(frozen=True)
class CriterionScore:
    """One expert's score on one criterion, in half points, with the comment it stands on."""

    criterion_id: str
    half_points: int
    comment: str


def check_scores(
    rules: ScoringRules, scores: Sequence[CriterionScore], *, complete: bool, pointer: str
) -> list[FieldIssue]:
    """Every way `scores` break the methodology's expert criteria.

    A draft (`complete=False`) may leave criteria out and comments short; a submission or a
    consensus report must score every expert criterion with a comment of the least length.
    """
    issues: list[FieldIssue] = []
    expert = {c.id: c for c in rules.expert_criteria}
    seen: set[str] = set()
    for i, score in enumerate(scores):
        at = f"{pointer}/{i}"
        rule = expert.get(score.criterion_id)
        if rule is None:
            issues.append(
                FieldIssue(f"{at}/criterion_id", f"{score.criterion_id!r} is no expert criterion")
            )
            continue
        if score.criterion_id in seen:
            issues.append(FieldIssue(f"{at}/criterion_id", "scored twice"))
        seen.add(score.criterion_id)
        low, high = rule.scale_min * 2, rule.scale_max * 2
        if not low <= score.half_points <= high:
            issues.append(
                FieldIssue(f"{at}/score", f"outside the scale {rule.scale_min} to {rule.scale_max}")
            )
        elif (score.half_points - low) % rules.step_half_points:
            step = Fraction(rules.step_half_points, 2)
            issues.append(FieldIssue(f"{at}/score", f"not a multiple of the step {float(step)}"))
        if complete and len(score.comment.strip()) < rules.min_comment_chars:
            issues.append(
                FieldIssue(
                    f"{at}/comment", f"a comment of at least {rules.min_comment_chars} characters"
                )
            )
    if complete:
        for c in rules.expert_criteria:
            if c.id not in seen:
                issues.append(FieldIssue(pointer, f"criterion {c.id!r} is not scored"))
    return issues


def band_score(rule: CriterionRule, measured: int) -> int:
    """The score of the band with the greatest `at_least` not above `measured`; the scale's
    minimum when no band applies."""
    reached = [b for b in rule.bands if b.at_least <= measured]
    if not reached:
        return rule.scale_min
    return max(reached, key=lambda b: b.at_least).score


def aggregate(half_points: Sequence[int], how: Aggregation) -> Fraction:
    """The criterion's score in points from the experts' scores in half points."""
    if not half_points:
        raise ValueError("no scores to aggregate")
    if how is Aggregation.MEAN:
        return Fraction(sum(half_points), 2 * len(half_points))
    ordered = sorted(half_points)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return Fraction(ordered[middle], 2)
    # An even count: the mean of the two middle scores.
    return Fraction(ordered[middle - 1] + ordered[middle], 4)


def diverges(half_points: Sequence[int], threshold_points: int) -> bool:
    """Whether the spread (highest minus lowest) exceeds the threshold; equal to it is
    accepted."""
    return max(half_points) - min(half_points) > 2 * threshold_points


@dataclass(frozen=True)
class Verdict:
    """The weighted overall score (0 to 100) and the thresholds an application fails."""

    overall: Fraction
    failed_thresholds: tuple[str, ...]

    @property
    def fundable(self) -> bool:
        return not self.failed_thresholds


# The name of the overall threshold among the failed ones (criterion ids are slugs, so it
# cannot collide with one).
OVERALL = "overall"


def verdict(rules: ScoringRules, scores: Mapping[str, Fraction]) -> Verdict:
    """Overall = sum of weight * (score - min) / (max - min); an application fails each
    criterion scored below its threshold and the overall threshold if below it. A failing
    application is still scored and ranked, marked with what it failed."""
    overall = Fraction(0)
    failed: list[str] = []
    for c in rules.criteria:
        score = scores[c.id]
        span = c.scale_max - c.scale_min
        overall += c.weight_percent * (score - c.scale_min) / span if span else Fraction(0)
        if score < c.threshold:
            failed.append(c.id)
    if overall < rules.overall_threshold_percent:
        failed.append(OVERALL)
    return Verdict(overall, tuple(failed))


def require_known_criteria(rules: ScoringRules) -> None:
    """Refuse a methodology scoring cannot apply (a tie-break naming no criterion)."""
    for key in rules.tie_break:
        if key == REGISTRATION:
            continue
        if (
            not key.startswith(CRITERION_PREFIX)
            or rules.criterion(key.removeprefix(CRITERION_PREFIX)) is None
        ):
            raise DomainError("unknown_tie_break", f"The tie-break {key!r} names no criterion.")


@dataclass(frozen=True)
class ExpertLeniency:
    """How an expert scores beside their panels: an analysis, never an input to a decision.

    Scores are normalised to 0..1 on each criterion's scale; `deviation` is the mean of the
    expert's score minus the mean of the panel (the expert included) on the same criterion
    of the same application: above 0 lenient, below 0 strict.
    """

    expert_id: str
    scores: int
    mean: Fraction
    deviation: Fraction


def leniency(
    rules: ScoringRules, panels: Sequence[Mapping[str, Sequence[CriterionScore]]]
) -> list[ExpertLeniency]:
    """Each expert's leniency over `panels` (per application, each expert's submitted
    scores), by expert id."""
    scales = {c.id: c for c in rules.expert_criteria}
    normalised: dict[str, list[Fraction]] = {}
    deviations: dict[str, list[Fraction]] = {}
    for panel in panels:
        for criterion_id, rule in scales.items():
            span = rule.scale_max - rule.scale_min
            given = {
                expert: Fraction(s.half_points - 2 * rule.scale_min, 2 * span)
                for expert, scores in panel.items()
                for s in scores
                if s.criterion_id == criterion_id and span
            }
            if not given:
                continue
            mean = sum(given.values(), Fraction(0)) / len(given)
            for expert, value in given.items():
                normalised.setdefault(expert, []).append(value)
                deviations.setdefault(expert, []).append(value - mean)
    return [
        ExpertLeniency(
            expert,
            len(values),
            sum(values, Fraction(0)) / len(values),
            sum(deviations[expert], Fraction(0)) / len(values),
        )
        for expert, values in sorted(normalised.items())
    ]
