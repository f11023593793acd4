"""HTTP: what scoring knows of a call."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from konkurs_platform.auth import Principal, Role, require
from konkurs_platform.problems import NOT_FOUND, Problem, problem_responses
from konkurs_platform.web import Identifier
from konkurs_scoring.api.deps import Scoring, scoring

router = APIRouter(prefix="/v1/calls", tags=["calls"])

READERS = (Role.OPERATOR, Role.EXPERT, Role.AUDITOR, Role.ADMIN, Role.ANALYST)


@router.get(
    "/{call_id}/methodology",
    responses=problem_responses(401, 403, 404, 422),
    summary="The methodology scoring applies to a call, as learned from intake's events",
)
async def get_methodology(
    call_id: Identifier,
    service: Annotated[Scoring, Depends(scoring)],
    _: Annotated[Principal, Depends(require(*READERS))],
) -> dict[str, Any]:
    """The call's methodology and window as scoring last learned them."""
    async with service.pool.acquire() as conn:
        known = await service.calls.find(conn, call_id)
    if known is None:
        raise Problem(NOT_FOUND, f"Scoring knows no call {call_id}.")
    return {
        "call_id": known.terms.call_id,
        "call_version": known.terms.version,
        "closes_at": known.terms.closes_at.isoformat(),
        "closed_at": known.closed_at.isoformat() if known.closed_at else None,
        "quota": known.terms.quota,
        "methodology": known.terms.methodology,
    }
