"""A call's ranking (stream `ranking-<call_id>`): computed from the final evaluations, published
in versions.

The ranking's content has one canonical serialisation (`canonical_bytes`: JSON with sorted
keys, no spaces, scores as exact fractions) and its SHA-256 travels in the event, so anyone
holding the events can recompute the ranking and compare the bytes. Publishing content equal
to the last version's publishes nothing: a repeated trigger is harmless, and a new version
follows only from a change (a re-evaluation, a new eligible application).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

from konkurs_platform.domain import Decider
from konkurs_scoring.domain.aggregation import (
    CRITERION_PREFIX,
    REGISTRATION,
    ScoringRules,
    require_known_criteria,
)


@dataclass(frozen=True)
class RankingInput:
    """One eligible application's final evaluation, with the ids of the events it stands on
    (submissions, automatic scores, consensus, finalisation of its current round)."""

    application_id: str
    registration_number: str
    registered_at: datetime
    round: int
    scores: Mapping[str, Fraction]
    overall: Fraction
    failed_thresholds: tuple[str, ...]
    event_ids: tuple[str, ...]

    @property
    def fundable(self) -> bool:
        return not self.failed_thresholds


@dataclass(frozen=True)
class RankingEntry:
    rank: int
    application_id: str
    registration_number: str
    round: int
    # Every criterion of the methodology, in its order.
    scores: tuple[tuple[str, Fraction], ...]
    overall: Fraction
    fundable: bool
    failed_thresholds: tuple[str, ...]
    # Sorted, so the same events give the same bytes whatever order they were read in.
    event_ids: tuple[str, ...]
    # What placed it below the entry above: "fundable", "overall", a tie-break key, or ""
    # for the first entry.
    decided_by: str


@dataclass(frozen=True)
class RankingContent:
    call_id: str
    call_version: int
    tie_break: tuple[str, ...]
    entries: tuple[RankingEntry, ...]


def _keys(rules: ScoringRules, item: RankingInput) -> list[tuple[str, Any]]:
    """The comparison keys of an application, best first when each is sorted ascending."""
    # Fundable applications come first: the commission selects from the top within its
    # quota, and an application below a threshold cannot be funded however high its score.
    keys: list[tuple[str, Any]] = [("fundable", not item.fundable), ("overall", -item.overall)]
    for key in rules.tie_break_chain():
        if key == REGISTRATION:
            keys.append((key, (item.registered_at, item.registration_number, item.application_id)))
        else:
            keys.append((key, -item.scores[key.removeprefix(CRITERION_PREFIX)]))
    return keys


def rank(call_id: str, rules: ScoringRules, inputs: Sequence[RankingInput]) -> RankingContent:
    """The ordered ranking of `inputs` by the methodology: fundable first, then the overall
    score, then the tie-break chain (which always ends with the earlier registration)."""
    require_known_criteria(rules)
    keyed = sorted(((_keys(rules, i), i) for i in inputs), key=lambda p: [v for _, v in p[0]])
    entries: list[RankingEntry] = []
    previous: list[tuple[str, Any]] | None = None
    for position, (keys, item) in enumerate(keyed, start=1):
        decided_by = ""
        if previous is not None:
            decided_by = next(
                name for (name, a), (_, b) in zip(keys, previous, strict=True) if a != b
            )
        entries.append(
            RankingEntry(
                rank=position,
                application_id=item.application_id,
                registration_number=item.registration_number,
                round=item.round,
                scores=tuple((c.id, item.scores[c.id]) for c in rules.criteria),
                overall=item.overall,
                fundable=item.fundable,
                failed_thresholds=item.failed_thresholds,
                event_ids=tuple(sorted(item.event_ids)),
                decided_by=decided_by,
            )
        )
        previous = keys
    return RankingContent(call_id, rules.call_version, rules.tie_break_chain(), tuple(entries))


def _fraction(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def canonical_bytes(content: RankingContent) -> bytes:
    """The one serialisation of a ranking's content that its hash is taken over."""
    document = {
        "call_id": content.call_id,
        "call_version": content.call_version,
        "tie_break": list(content.tie_break),
        "entries": [
            {
                "rank": e.rank,
                "application_id": e.application_id,
                "registration_number": e.registration_number,
                "round": e.round,
                "scores": [[c, _fraction(s)] for c, s in e.scores],
                "overall": _fraction(e.overall),
                "fundable": e.fundable,
                "failed_thresholds": list(e.failed_thresholds),
                "event_ids": list(e.event_ids),
                "decided_by": e.decided_by,
            }
            for e in content.entries
        ],
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_hash(content: RankingContent) -> str:
    """SHA-256 of `canonical_bytes`, in lowercase hexadecimal."""
    return hashlib.sha256(canonical_bytes(content)).hexdigest()


# The ranking aggregate ----------------------------------------------------------------------


@dataclass(frozen=True)
class PublishRanking:
    call_id: str
    content: RankingContent
    now: datetime


@dataclass(frozen=True)
class RankingPublished:
    call_id: str
    # 1 for the first ranking of the call, n+1 after a change.
    ranking_version: int
    content: RankingContent
    content_hash: str
    published_at: datetime


@dataclass(frozen=True)
class Ranking:
    """The call's ranking as last published (None before the first)."""

    published: RankingPublished | None = None


def _decide(command: PublishRanking, state: Ranking) -> Sequence[RankingPublished]:
    digest = content_hash(command.content)
    if state.published is not None and state.published.content_hash == digest:
        return []
    version = 1 if state.published is None else state.published.ranking_version + 1
    return [RankingPublished(command.call_id, version, command.content, digest, command.now)]


def _evolve(state: Ranking, event: RankingPublished) -> Ranking:
    return Ranking(event)


ranking_decider: Decider[PublishRanking, Ranking, RankingPublished] = Decider(
    Ranking(), _decide, _evolve
)
