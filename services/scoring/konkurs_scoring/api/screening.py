"""HTTP: the screening of a call's applications, and an operator's override."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from konkurs_platform.auth import Principal, Role, require
from konkurs_platform.problems import NOT_FOUND, Problem, problem_responses
from konkurs_platform.ratelimit import limit_writes
from konkurs_platform.service import command_metadata, refusals_as_problems
from konkurs_platform.web import Identifier, etag_for, parse_if_match
from konkurs_scoring.api.deps import Scoring, scoring
from konkurs_scoring.domain.screening import Screening

router = APIRouter(prefix="/v1", tags=["screening"], dependencies=[Depends(limit_writes)])

READERS = (Role.OPERATOR, Role.ADMIN, Role.AUDITOR)
_Strict = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OverrideBody(BaseModel):
    model_config = _Strict
    eligible: bool = Field(description="The result that holds from now on.")
    justification: str = Field(
        min_length=1, max_length=5000, description="Why, in at least a sentence."
    )


def _view(state: Screening, version: int) -> dict[str, Any]:
    return {
        "application_id": state.application_id,
        "call_id": state.call_id,
        "version": version,
        "eligible": state.eligible,
        "overridden": state.overridden,
        "application_version": state.application_version,
        "call_version": state.call_version,
        "results": [
            {"rule": r.rule, "passed": r.passed, "required": r.required, "found": r.found}
            for r in state.results
        ],
    }


@router.get(
    "/calls/{call_id}/screening",
    responses=problem_responses(401, 403),
    summary="The screening of a call's applications",
)
async def call_screening(
    call_id: Identifier,
    service: Annotated[Scoring, Depends(scoring)],
    _: Annotated[Principal, Depends(require(*READERS))],
) -> dict[str, Any]:
    """Each application with its result (null: not screened yet) and whether the set of
    eligible applications is final."""
    async with service.pool.acquire() as conn:
        rows = await service.screening_book.of_call(conn, call_id)
        settled = await service.screening_book.is_settled(conn, call_id)
    return {"call_id": call_id, "settled": settled, "applications": [dict(r) for r in rows]}


@router.get(
    "/applications/{application_id}/screening",
    responses=problem_responses(401, 403, 404),
    summary="An application's screening, rule by rule",
)
async def application_screening(
    application_id: Identifier,
    service: Annotated[Scoring, Depends(scoring)],
    _: Annotated[Principal, Depends(require(*READERS))],
) -> JSONResponse:
    """The result that holds, the rules as last assessed, and whether it was overridden."""
    loaded = await service.screenings.load(application_id)
    if loaded.version == 0:
        raise Problem(NOT_FOUND, f"Application {application_id} has not been screened.")
    return JSONResponse(
        _view(loaded.state, loaded.version), headers={"ETag": etag_for(loaded.version)}
    )


@router.post(
    "/applications/{application_id}/screening:override",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
    summary="Override an application's screening result",
)
async def override_screening(
    application_id: Identifier,
    body: OverrideBody,
    principal: Annotated[Principal, Depends(require(Role.OPERATOR, Role.ADMIN))],
    service: Annotated[Scoring, Depends(scoring)],
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Replace the result with a written justification; the assessment stays in the
    history. An application made ineligible loses its experts."""
    expected = parse_if_match(if_match)
    async with service.pool.acquire() as conn, conn.transaction():
        with refusals_as_problems(expected):
            outcome = await service.screenings.override(
                conn,
                application_id,
                body.eligible,
                body.justification,
                command_metadata(principal),
                service.clock(),
                expected,
            )
    return JSONResponse(
        _view(outcome.state, outcome.version), headers={"ETag": etag_for(outcome.version)}
    )
