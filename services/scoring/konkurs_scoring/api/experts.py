"""HTTP: the expert registry (operators) and an expert's worklist."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from konkurs_platform.auth import Principal, Role, forbidden, require
from konkurs_platform.db import Connection
from konkurs_platform.handler import Outcome
from konkurs_platform.problems import NOT_FOUND, Problem, problem_responses
from konkurs_platform.ratelimit import limit_writes
from konkurs_platform.service import (
    command_metadata,
    idempotent,
    refusals_as_problems,
)
from konkurs_platform.web import ID_PATTERN, Identifier, etag_for, parse_if_match
from konkurs_scoring.api.deps import Scoring, scoring
from konkurs_scoring.domain.experts import (
    DeactivateExpert,
    Expert,
    ExpertProfile,
    ExpertState,
    RegisterExpert,
    UpdateExpert,
)

router = APIRouter(prefix="/v1/experts", tags=["experts"], dependencies=[Depends(limit_writes)])

REGISTRARS = (Role.OPERATOR, Role.ADMIN)
READERS = (Role.OPERATOR, Role.ADMIN, Role.AUDITOR)
_Strict = ConfigDict(extra="forbid", str_strip_whitespace=True)
_WRITE_PROBLEMS = problem_responses(401, 403, 404, 409, 412, 422)


class ProfileBody(BaseModel):
    model_config = _Strict
    name: str = Field(min_length=1, max_length=200, description="Full name (personal data).")
    affiliation_bins: list[str] = Field(
        default_factory=list, max_length=100, description="BINs the expert works for or owns."
    )
    region_codes: list[str] = Field(default_factory=list, max_length=30, examples=[["KZ-75"]])
    oked_sections: list[str] = Field(default_factory=list, max_length=21, examples=[["C"]])
    languages: list[str] = Field(default_factory=list, max_length=10, examples=[["kk", "ru"]])

    def domain(self) -> ExpertProfile:
        return ExpertProfile(
            self.name,
            tuple(self.affiliation_bins),
            tuple(self.region_codes),
            tuple(self.oked_sections),
            tuple(self.languages),
        )


class RegisterBody(ProfileBody):
    expert_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="The subject of the expert's tokens (no control characters).",
    )


class ReasonBody(BaseModel):
    model_config = _Strict
    reason: str = Field(min_length=1, max_length=2000)


def _view(state: ExpertState, version: int) -> dict[str, Any]:
    assert isinstance(state, Expert)
    p = state.profile
    return {
        "expert_id": state.expert_id,
        "version": version,
        "active": state.active,
        "name": p.name,
        "affiliation_bins": list(p.affiliation_bins),
        "region_codes": list(p.region_codes),
        "oked_sections": list(p.oked_sections),
        "languages": list(p.languages),
    }


def _answer(outcome: Outcome[ExpertState], status: int = 200) -> JSONResponse:
    view = _view(outcome.state, outcome.version)
    return JSONResponse(
        view,
        status_code=status,
        headers={"ETag": etag_for(outcome.version), "Location": f"/v1/experts/{view['expert_id']}"},
    )


@router.post("", status_code=201, responses=_WRITE_PROBLEMS, summary="Register an expert")
async def register_expert(
    body: RegisterBody,
    request: Request,
    principal: Annotated[Principal, Depends(require(*REGISTRARS))],
    service: Annotated[Scoring, Depends(scoring)],
) -> Response:
    """Register an expert; they sign in with the role `expert` and `expert_id` as subject.
    Send `Idempotency-Key` to make a retry safe."""
    command = RegisterExpert(body.expert_id, body.domain(), service.clock())

    async def run(conn: Connection) -> Response:
        with refusals_as_problems():
            outcome = await service.experts.handle(conn, command, command_metadata(principal))
        return _answer(outcome, 201)

    return await idempotent(request, principal, service.pool, service.idempotency, run)


@router.get("", responses=problem_responses(401, 403), summary="The expert registry")
async def list_experts(
    service: Annotated[Scoring, Depends(scoring)],
    _: Annotated[Principal, Depends(require(*READERS))],
) -> list[dict[str, Any]]:
    """Every registered expert, by id, without names (open one expert for the name)."""
    async with service.pool.acquire() as conn:
        return await service.expert_book.listing(conn)


@router.get("/{expert_id}", responses=problem_responses(401, 403, 404), summary="One expert")
async def get_expert(
    expert_id: Identifier,
    request: Request,
    service: Annotated[Scoring, Depends(scoring)],
    principal: Annotated[Principal, Depends(require(*READERS, Role.EXPERT))],
) -> JSONResponse:
    """The expert's profile with their name; an expert may read their own."""
    if principal.role is Role.EXPERT and principal.subject != expert_id:
        raise forbidden(request, principal, "an expert reads only their own profile")
    loaded = await service.experts.load(expert_id)
    if not isinstance(loaded.state, Expert):
        raise Problem(NOT_FOUND, f"No expert {expert_id} is registered.")
    return JSONResponse(
        _view(loaded.state, loaded.version), headers={"ETag": etag_for(loaded.version)}
    )


@router.put("/{expert_id}", responses=_WRITE_PROBLEMS, summary="Change an expert's profile")
async def update_expert(
    expert_id: Identifier,
    body: ProfileBody,
    principal: Annotated[Principal, Depends(require(*REGISTRARS))],
    service: Annotated[Scoring, Depends(scoring)],
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Replace the expert's profile whole. Current assignments stay as they are."""
    expected = parse_if_match(if_match)
    command = UpdateExpert(expert_id, body.domain(), service.clock())
    async with service.pool.acquire() as conn, conn.transaction():
        with refusals_as_problems(expected):
            outcome = await service.experts.handle(
                conn, command, command_metadata(principal), expected
            )
    return _answer(outcome)


@router.post("/{expert_id}:deactivate", responses=_WRITE_PROBLEMS, summary="Deactivate an expert")
async def deactivate_expert(
    expert_id: Identifier,
    body: ReasonBody,
    principal: Annotated[Principal, Depends(require(*REGISTRARS))],
    service: Annotated[Scoring, Depends(scoring)],
) -> Response:
    """No new assignment goes to the expert; current ones stay until changed by hand."""
    command = DeactivateExpert(expert_id, body.reason, service.clock())
    async with service.pool.acquire() as conn, conn.transaction():
        with refusals_as_problems():
            outcome = await service.experts.handle(conn, command, command_metadata(principal))
    return _answer(outcome)


@router.get(
    "/{expert_id}/worklist",
    responses=problem_responses(401, 403),
    summary="The applications assigned to an expert",
)
async def worklist(
    expert_id: Identifier,
    request: Request,
    service: Annotated[Scoring, Depends(scoring)],
    principal: Annotated[Principal, Depends(require(*READERS, Role.EXPERT))],
) -> list[dict[str, Any]]:
    """The expert's active assignments, the earliest due first, with what they declared."""
    if principal.role is Role.EXPERT and principal.subject != expert_id:
        raise forbidden(request, principal, "an expert reads only their own worklist")
    async with service.pool.acquire() as conn:
        rows = await service.assignment_book.worklist(conn, expert_id)
    return [
        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
        for row in rows
    ]
