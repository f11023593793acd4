"""HTTP: an applicant's own result, once a ranking that lists it is published."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from konkurs_platform.auth import Principal, Role, require
from konkurs_platform.domain import DomainError
from konkurs_platform.problems import FORBIDDEN, NOT_FOUND, Problem, problem_responses
from konkurs_platform.service import command_problem
from konkurs_platform.web import Identifier
from konkurs_scoring.api.evaluations import evaluations
from konkurs_scoring.app.evaluation import Evaluations

router = APIRouter(prefix="/v1/applications", tags=["results"])


@router.get(
    "/{application_id}/results",
    responses=problem_responses(401, 403, 404, 422),
    summary="An application's final scores and the experts' comments, once ranked",
)
async def get_results(
    application_id: Identifier,
    principal: Annotated[Principal, Depends(require(Role.APPLICANT, Role.OPERATOR, Role.ADMIN))],
    svc: Annotated[Evaluations, Depends(evaluations)],
) -> dict[str, Any]:
    """The place, the score per criterion and overall, the thresholds failed, and the
    comments per criterion without the experts' names or ids, in no expert's order. An
    applicant reads only an application its organisation coordinates; 404 until a ranking
    listing the application is published."""
    async with svc.pool.acquire() as conn:
        try:
            application = await svc.application(conn, application_id)
        except DomainError as exc:
            raise command_problem(exc) from exc
        if (
            principal.role is Role.APPLICANT
            and principal.organisation != application.coordinator_bin
        ):
            raise Problem(FORBIDDEN, "Only the applicant that coordinates it reads its result.")
        results = await svc.rankings.results(conn, application)
    if results is None:
        raise Problem(NOT_FOUND, "No ranking listing this application is published yet.")
    e = results.entry
    return {
        "application_id": application_id,
        "ranking_version": results.ranking.ranking_version,
        "published_at": results.ranking.published_at.isoformat(),
        "rank": e.rank,
        "of": len(results.ranking.content.entries),
        "scores": [{"criterion_id": c, "score": round(float(s), 4)} for c, s in e.scores],
        "overall": round(float(e.overall), 4),
        "fundable": e.fundable,
        "failed_thresholds": list(e.failed_thresholds),
        "comments": {k: list(v) for k, v in results.comments.items()},
    }
