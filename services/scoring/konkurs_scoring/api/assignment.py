"""HTTP: assigning experts (automatic and by hand), an expert's declaration of interest,
and the application's content as the declared expert reads it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from konkurs_platform.auth import Principal, Role, forbidden, require
from konkurs_platform.db import Connection
from konkurs_platform.domain import DomainError
from konkurs_platform.handler import Outcome
from konkurs_platform.problems import NOT_FOUND, Problem, problem_responses
from konkurs_platform.ratelimit import limit_writes
from konkurs_platform.service import (
    command_metadata,
    domain_problem,
    idempotent,
    refusals_as_problems,
)
from konkurs_platform.web import ID_PATTERN, Identifier, etag_for
from konkurs_scoring.adapters.applications import content_view
from konkurs_scoring.api.deps import Scoring, scoring
from konkurs_scoring.domain.assignment import Panel, Plan, check_may_read_content

router = APIRouter(prefix="/v1", tags=["assignment"], dependencies=[Depends(limit_writes)])

OPERATORS = (Role.OPERATOR, Role.ADMIN)
READERS = (Role.OPERATOR, Role.ADMIN, Role.AUDITOR)
_Strict = ConfigDict(extra="forbid", str_strip_whitespace=True)
_WRITE_PROBLEMS = problem_responses(401, 403, 404, 409, 422)


class AssignBody(BaseModel):
    model_config = _Strict
    expert_id: str = Field(min_length=1, max_length=64, pattern=ID_PATTERN)
    reason: str = Field(min_length=1, max_length=2000)


class ReasonBody(BaseModel):
    model_config = _Strict
    reason: str = Field(min_length=1, max_length=2000)


class DeclarationBody(BaseModel):
    model_config = _Strict
    conflict: bool = Field(description="Whether you have a conflict of interest.")
    nature: str = Field("", max_length=2000, description="The conflict's nature, if any.")


def _panel(state: Panel, version: int) -> dict[str, Any]:
    return {
        "application_id": state.application_id,
        "version": version,
        "assignments": [
            {
                "expert_id": a.expert_id,
                "assigned_at": a.assigned_at.isoformat(),
                "due_at": a.due_at.isoformat(),
                "declared": a.declared,
                "active": a.active,
                "overdue": a.overdue,
                "completed": a.completed,
            }
            for a in sorted(state.members.values(), key=lambda a: a.expert_id)
        ],
    }


def _plan(plan: Plan) -> dict[str, Any]:
    return {
        "assigned": [
            {"application_id": p.application_id, "expert_id": p.expert_id, "reason": p.reason}
            for p in plan.picks
        ],
        "shortfalls": [
            {"application_id": s.application_id, "missing": s.missing} for s in plan.shortfalls
        ],
    }


def _answer(outcome: Outcome[Panel], plan: Plan | None = None) -> JSONResponse:
    body = _panel(outcome.state, outcome.version)
    if plan is not None:
        body["replacement"] = _plan(plan)
    return JSONResponse(body, headers={"ETag": etag_for(outcome.version)})


@router.post(
    "/calls/{call_id}/assignments:auto",
    responses=_WRITE_PROBLEMS,
    summary="Assign experts to every open seat of a call's eligible applications",
)
async def assign_call(
    call_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(require(*OPERATORS))],
    service: Annotated[Scoring, Depends(scoring)],
) -> Response:
    """Deterministic for the same registry and applications: never against a hard rule,
    sector match and balanced load first. Running it again fills only seats still open.
    Lists what it assigned and any application no permitted expert is left for."""

    async def run(conn: Connection) -> Response:
        try:
            plan = await service.assignments.assign_call(
                conn, call_id, command_metadata(principal), service.clock()
            )
        except DomainError as exc:
            raise domain_problem(exc) from exc
        return JSONResponse(_plan(plan))

    return await idempotent(request, principal, service.pool, service.idempotency, run)


@router.get(
    "/applications/{application_id}/assignments",
    responses=problem_responses(401, 403),
    summary="The experts of an application, now and before",
)
async def application_assignments(
    application_id: Identifier,
    service: Annotated[Scoring, Depends(scoring)],
    _: Annotated[Principal, Depends(require(*READERS))],
) -> JSONResponse:
    """Every assignment of the application with its declaration and due time."""
    loaded = await service.assignments.load(application_id)
    return JSONResponse(
        _panel(loaded.state, loaded.version), headers={"ETag": etag_for(loaded.version)}
    )


@router.post(
    "/applications/{application_id}/assignments",
    responses=_WRITE_PROBLEMS,
    summary="Assign an expert by hand",
)
async def assign_expert(
    application_id: Identifier,
    body: AssignBody,
    principal: Annotated[Principal, Depends(require(*OPERATORS))],
    service: Annotated[Scoring, Depends(scoring)],
) -> Response:
    """Assign with a reason; the hard rules (affiliation, region, active, declared
    conflicts) hold as for the automatic assignment."""
    async with service.pool.acquire() as conn, conn.transaction():
        with refusals_as_problems():
            outcome = await service.assignments.assign(
                conn,
                application_id,
                body.expert_id,
                body.reason,
                command_metadata(principal),
                service.clock(),
            )
    return _answer(outcome)


@router.post(
    "/applications/{application_id}/assignments/{expert_id}:unassign",
    responses=_WRITE_PROBLEMS,
    summary="Unassign an expert by hand",
)
async def unassign_expert(
    application_id: Identifier,
    expert_id: Identifier,
    body: ReasonBody,
    principal: Annotated[Principal, Depends(require(*OPERATORS))],
    service: Annotated[Scoring, Depends(scoring)],
) -> Response:
    """Unassign with a reason; the seat stays open until assigned again."""
    async with service.pool.acquire() as conn, conn.transaction():
        with refusals_as_problems():
            outcome = await service.assignments.unassign(
                conn,
                application_id,
                expert_id,
                body.reason,
                command_metadata(principal),
                service.clock(),
            )
    return _answer(outcome)


@router.post(
    "/applications/{application_id}/assignments/{expert_id}:reassign",
    responses=_WRITE_PROBLEMS,
    summary="Give an overdue evaluation to another expert",
)
async def reassign_expert(
    application_id: Identifier,
    expert_id: Identifier,
    body: ReasonBody,
    principal: Annotated[Principal, Depends(require(*OPERATORS))],
    service: Annotated[Scoring, Depends(scoring)],
) -> Response:
    """Only an overdue assignment; the replacement is chosen by the automatic rules."""
    async with service.pool.acquire() as conn, conn.transaction():
        with refusals_as_problems():
            outcome, plan = await service.assignments.reassign(
                conn,
                application_id,
                expert_id,
                body.reason,
                command_metadata(principal),
                service.clock(),
            )
    return _answer(outcome, plan)


@router.post(
    "/applications/{application_id}/declaration",
    responses=_WRITE_PROBLEMS,
    summary="Declare whether you have a conflict of interest",
)
async def declare(
    application_id: Identifier,
    body: DeclarationBody,
    principal: Annotated[Principal, Depends(require(Role.EXPERT))],
    service: Annotated[Scoring, Depends(scoring)],
) -> Response:
    """Before you see an application you are assigned, declare: no conflict opens its
    content to you; a conflict (say its nature) unassigns you and another expert is
    assigned by the same rules."""
    async with service.pool.acquire() as conn, conn.transaction():
        with refusals_as_problems():
            outcome, plan = await service.assignments.declare(
                conn,
                application_id,
                principal.subject,
                body.conflict,
                body.nature,
                command_metadata(principal),
                service.clock(),
            )
    return _answer(outcome, plan if body.conflict else None)


@router.get(
    "/applications/{application_id}/content",
    responses=problem_responses(401, 403, 404),
    summary="An application's content, as an assigned expert reads it",
)
async def application_content(
    application_id: Identifier,
    request: Request,
    service: Annotated[Scoring, Depends(scoring)],
    principal: Annotated[Principal, Depends(require(Role.EXPERT, *READERS))],
) -> dict[str, Any]:
    """An expert reads it once they declared no conflict, without the applicant's names and
    BINs when the call's methodology says so (blind). Operators read it whole."""
    async with service.pool.acquire() as conn:
        app = await service.applications.get(conn, application_id)
        # An unknown application is 404 to every reader, as its evaluation is.
        if app is None:
            raise Problem(NOT_FOUND, f"Scoring knows no application {application_id}.")
        call = await service.calls.find(conn, app.call_id)
        if principal.role is Role.EXPERT:
            panel = (await service.assignments.load(application_id, conn)).state
            try:
                check_may_read_content(panel, principal.subject)
            except DomainError as exc:
                raise forbidden(request, principal, exc.detail) from exc
    blind = (
        principal.role is Role.EXPERT
        and call is not None
        and call.terms.assignment.blind_applicants
    )
    return content_view(app, blind=blind)
