"""HTTP: a call's ranking, its evaluations awaiting consensus, and the experts' leniency."""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from konkurs_platform.auth import Principal, Role, require
from konkurs_platform.db import Connection
from konkurs_platform.domain import DomainError
from konkurs_platform.idempotency import IdempotencyStore
from konkurs_platform.problems import NOT_FOUND, Problem, problem_responses
from konkurs_platform.ratelimit import TOO_MANY_REQUESTS, limit_writes
from konkurs_platform.service import (
    command_metadata,
    command_problem,
    idempotent,
    refusals_as_problems,
)
from konkurs_platform.web import Identifier, etag_for
from konkurs_scoring.api.evaluations import evaluations
from konkurs_scoring.app.evaluation import Evaluations
from konkurs_scoring.domain.ranking import RankingPublished

router = APIRouter(prefix="/v1/calls", tags=["ranking"], dependencies=[Depends(limit_writes)])

# The ranking holds no personal data: analysts and the commission read it too.
RANKING_READERS = (
    Role.OPERATOR,
    Role.ADMIN,
    Role.AUDITOR,
    Role.ANALYST,
    Role.COMMISSION_SECRETARY,
    Role.COMMISSION_MEMBER,
)


def _number(value: Fraction) -> dict[str, Any]:
    return {"value": round(float(value), 4), "exact": f"{value.numerator}/{value.denominator}"}


def ranking_json(published: RankingPublished) -> dict[str, Any]:
    """A published ranking version; `content_hash` is over the canonical bytes, which the
    exact fractions here let anyone rebuild."""
    content = published.content
    return {
        "call_id": published.call_id,
        "ranking_version": published.ranking_version,
        "call_version": content.call_version,
        "published_at": published.published_at.isoformat(),
        "content_hash": published.content_hash,
        "tie_break": list(content.tie_break),
        "entries": [
            {
                "rank": e.rank,
                "application_id": e.application_id,
                "registration_number": e.registration_number,
                "round": e.round,
                "scores": [{"criterion_id": c, **_number(s)} for c, s in e.scores],
                "overall": _number(e.overall),
                "fundable": e.fundable,
                "failed_thresholds": list(e.failed_thresholds),
                "decided_by": e.decided_by,
                "event_ids": list(e.event_ids),
            }
            for e in content.entries
        ],
    }


@router.get(
    "/{call_id}/ranking",
    responses=problem_responses(401, 403, 404, 422),
    summary="The call's published ranking: the latest version, or the one asked for",
)
async def get_ranking(
    call_id: Identifier,
    _: Annotated[Principal, Depends(require(*RANKING_READERS))],
    svc: Annotated[Evaluations, Depends(evaluations)],
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> Response:
    """Every version stays in the history; `?version=n` reads an earlier one."""
    async with svc.pool.acquire() as conn:
        versions = await svc.rankings.published(call_id, conn)
    if not versions:
        raise Problem(NOT_FOUND, f"No ranking of call {call_id} is published yet.")
    if version is not None and version > len(versions):
        raise Problem(NOT_FOUND, f"Call {call_id} has no ranking version {version}.")
    chosen = versions[(version or len(versions)) - 1]
    return JSONResponse(ranking_json(chosen), headers={"ETag": etag_for(len(versions))})


@router.post(
    "/{call_id}/ranking:publish",
    responses=problem_responses(400, 401, 403, 404, 409, 422, TOO_MANY_REQUESTS),
    summary="Publish the call's ranking now, if complete",
)
async def publish_ranking(
    call_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.OPERATOR, Role.ADMIN))],
    svc: Annotated[Evaluations, Depends(evaluations)],
) -> Response:
    """The ranking is published by itself when the last eligible evaluation becomes final;
    after an eligibility override changed the set, this publishes it. Unchanged content
    publishes no new version; an incomplete call is 409."""

    async def run(conn: Connection) -> Response:
        with refusals_as_problems():
            outcome = await svc.rankings.handle_publish_ranking(
                conn, call_id, command_metadata(principal), svc.clock()
            )
        published = outcome.state.published
        assert published is not None
        return JSONResponse(ranking_json(published), headers={"ETag": etag_for(outcome.version)})

    return await idempotent(request, principal, svc.pool, IdempotencyStore(svc.store.schema), run)


@router.get(
    "/{call_id}/consensus",
    responses=problem_responses(401, 403, 404, 422),
    summary="Where the call's evaluations stand, and which await consensus",
)
async def consensus_status(
    call_id: Identifier,
    _: Annotated[Principal, Depends(require(Role.OPERATOR, Role.ADMIN, Role.AUDITOR))],
    svc: Annotated[Evaluations, Depends(evaluations)],
) -> dict[str, Any]:
    """Each eligible application's evaluation status, with the diverging criteria and the
    rapporteur of those awaiting consensus."""
    async with svc.pool.acquire() as conn:
        try:
            await svc.rankings.rules(conn, call_id)
        except DomainError as exc:
            raise command_problem(exc) from exc
        states = await svc.of_call(conn, call_id)
    return {
        "call_id": call_id,
        "applications": [
            {
                "application_id": application_id,
                "round": state.round,
                "status": state.status,
                "submitted": len(state.submitted),
                "divergences": [
                    {
                        "criterion_id": d.criterion_id,
                        "lowest": d.lowest / 2,
                        "highest": d.highest / 2,
                    }
                    for d in state.divergences
                ],
                "rapporteur": state.rapporteur,
            }
            for application_id, state in states
        ],
    }


@router.get(
    "/{call_id}/normalisation",
    responses=problem_responses(401, 403, 404, 422),
    summary="Each expert's leniency beside their panels (analysis only)",
)
async def normalisation(
    call_id: Identifier,
    _: Annotated[Principal, Depends(require(Role.OPERATOR, Role.ADMIN, Role.ANALYST))],
    svc: Annotated[Evaluations, Depends(evaluations)],
) -> dict[str, Any]:
    """Scores normalised to 0..1 per criterion; `deviation` above 0 is a lenient expert,
    below 0 a strict one. An analysis of the submissions: never an input to a score or the
    ranking."""
    async with svc.pool.acquire() as conn:
        try:
            experts = await svc.leniency(conn, call_id)
        except DomainError as exc:
            raise command_problem(exc) from exc
    return {
        "call_id": call_id,
        "experts": [
            {
                "expert_id": x.expert_id,
                "scores": x.scores,
                "mean": round(float(x.mean), 4),
                "deviation": round(float(x.deviation), 4),
            }
            for x in experts
        ],
    }
