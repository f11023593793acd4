"""The 2017 demo's evaluations: each declared expert of each eligible application submits
illustrative scores (the 2017 scores are not public), a few panels diverge and their
rapporteur records a consensus report, and the last final evaluation publishes the ranking.

Called by scoring's demo loader once the applications are screened, the panels assigned and
the declarations recorded. Everything goes through the evaluation handlers, at 2017 times,
and once: an expert who submitted is skipped, a recorded consensus is not recorded again.
The scores are drawn from a hash of the application and the expert, so every load of the
demo gives the same ranking.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from konkurs_platform.db import create_pool
from konkurs_platform.envelope import Actor
from konkurs_platform.eventstore import EventStore, Metadata
from konkurs_platform.settings import Settings
from konkurs_scoring.app.evaluation import Evaluations, build
from konkurs_scoring.app.ports_s2 import AssignmentFacts
from konkurs_scoring.domain.aggregation import (
    Aggregation,
    CriterionRule,
    CriterionScore,
    ScoringRules,
    aggregate,
)
from konkurs_scoring.domain.evaluation import Evaluation

CALL_ID = "kz-clusters-2017"
SCHEMA = "scoring"
# The experts evaluate in July 2017, after screening in June.
STARTS_AT = datetime(2017, 7, 3, 4, tzinfo=UTC)

_COMMENTS = (
    "The application supports this score with figures from the participants' own reports.",
    "Partly convincing: the plan names the steps but not who pays for each of them.",
    "Weak on this point: the evidence is general and could describe any cluster.",
)


class DemoClock:
    """2017 time that moves a minute per command, so the history reads in order."""

    def __init__(self, starts_at: datetime) -> None:
        self.now = starts_at

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def _draw(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("/".join(parts).encode()).digest()[:4], "big")


# How an expert's score on the first criterion relates to the panel's: their own reading,
# the application's quality exactly (the others of a diverging panel), or the far end of the
# scale from it (the one expert of a diverging panel who reads the application otherwise).
Stance = Literal["own", "agreeing", "far_off"]


def diverging(n: int) -> bool:
    """Whether the `n`-th eligible application's panel diverges: every sixth, from the
    third (three of the 2017 demo's nineteen)."""
    return n % 6 == 2


def scores_of(
    rules: ScoringRules, application_id: str, expert_id: str, stance: Stance = "own"
) -> tuple[CriterionScore, ...]:
    """An expert's illustrative scores: the application's quality plus a little of the
    expert's own judgement. On a 0-5 scale with a 2-point limit, a far-off score is more
    than 2 points from the agreeing ones, so the panel needs a consensus."""
    quality = 4 + _draw(application_id) % 6  # 2 to 4.5 points, in half points
    result: list[CriterionScore] = []
    for n, criterion in enumerate(rules.expert_criteria):
        half_points = quality + _draw(application_id, expert_id, criterion.id) % 3 - 1
        if n == 0 and stance == "agreeing":
            half_points = quality
        elif n == 0 and stance == "far_off":
            half_points = 2 * criterion.scale_min if quality >= 5 else 2 * criterion.scale_max
        half_points = _clamp(criterion, half_points)
        comment = _COMMENTS[0 if half_points >= 7 else 1 if half_points >= 5 else 2]
        result.append(CriterionScore(criterion.id, half_points, comment))
    return tuple(result)


def _clamp(criterion: CriterionRule, half_points: int) -> int:
    return max(2 * criterion.scale_min, min(2 * criterion.scale_max, half_points))


def consensus_of(rules: ScoringRules, state: Evaluation) -> tuple[CriterionScore, ...]:
    """The panel's agreed scores: the median, rounded down to the scale's step."""
    agreed: list[CriterionScore] = []
    for criterion in rules.expert_criteria:
        given = [
            s.half_points
            for scores in state.submitted.values()
            for s in scores
            if s.criterion_id == criterion.id
        ]
        median = aggregate(given, Aggregation.MEDIAN)
        half_points = int(median * 2) // rules.step_half_points * rules.step_half_points
        agreed.append(
            CriterionScore(criterion.id, half_points, "Agreed by the panel at the median score.")
        )
    return tuple(agreed)


def _stance(n: int, panel: Sequence[AssignmentFacts], expert_id: str) -> Stance:
    """The last assigned expert of a diverging panel is the one far off."""
    if not diverging(n):
        return "own"
    return "far_off" if expert_id == panel[-1].expert_id else "agreeing"


async def _evaluate(svc: Evaluations, n: int, application_id: str) -> None:
    async with svc.pool.acquire() as conn:
        application = await svc.application(conn, application_id)
        rules = await svc.rankings.rules(conn, application.call_id)
        panel = sorted(
            (a for a in await svc.assignments.of_application(conn, application_id) if a.active),
            key=lambda a: (a.assigned_at, a.expert_id),
        )
        state = (await svc.load(application_id, conn)).state
    for member in panel:
        if member.declared != "no_conflict" or member.expert_id in state.submitted:
            continue
        meta = Metadata(Actor(member.expert_id, "expert"), f"demo-load:{CALL_ID}", imported=True)
        async with svc.pool.acquire() as conn, conn.transaction():
            outcome = await svc.handle_submit_evaluation(
                conn,
                application_id,
                member.expert_id,
                scores_of(
                    rules, application_id, member.expert_id, _stance(n, panel, member.expert_id)
                ),
                meta,
            )
        state = outcome.state
    if state.status == "consensus" and state.consensus is None and state.rapporteur:
        meta = Metadata(Actor(state.rapporteur, "expert"), f"demo-load:{CALL_ID}", imported=True)
        async with svc.pool.acquire() as conn, conn.transaction():
            await svc.handle_record_consensus(
                conn,
                application_id,
                state.rapporteur,
                consensus_of(rules, state),
                "The panel met, compared its readings of the application and agreed "
                "on the median score of each criterion.",
                meta,
            )


async def load(settings: Settings) -> None:
    """Evaluate the 2017 call's eligible applications; the ranking follows by itself."""
    pool = await create_pool(settings, max_size=2)
    try:
        clock = DemoClock(STARTS_AT)
        store = EventStore(pool, SCHEMA, settings.events_topic("scoring"), clock)
        svc = build(store, pool, clock)
        async with pool.acquire() as conn:
            eligible = await svc.screening.eligible(conn, CALL_ID)
        for n, application_id in enumerate(eligible):
            await _evaluate(svc, n, application_id)
    finally:
        await pool.close()
