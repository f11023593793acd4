"""HTTP: plans, their versions and events, the drafting and approval workflow, and the
derived figures. A coordinator (an applicant token whose organisation is the plan's
coordinator BIN) reads and edits its own plan only; the decider refuses any other."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from konkurs_plans.api.bodies import CommentsBody, DraftBody
from konkurs_plans.api.deps import (
    EVENT_READERS,
    OPERATORS,
    READERS,
    PlanService,
    plan_service,
    readable,
)
from konkurs_plans.api.views import plan_view, progress_view, version_view
from konkurs_plans.domain.plans import (
    ApprovePlan,
    DraftPlan,
    PlanCommand,
    ReturnPlan,
    SubmitPlan,
)
from konkurs_plans.domain.progress import progress
from konkurs_platform.auth import Principal, Role, require
from konkurs_platform.problems import NOT_FOUND, Problem, problem_responses
from konkurs_platform.ratelimit import limit_writes
from konkurs_platform.service import command_metadata, refusals_as_problems
from konkurs_platform.web import Identifier, etag_for, parse_if_match

router = APIRouter(prefix="/v1", tags=["plans"], dependencies=[Depends(limit_writes)])

Service = Annotated[PlanService, Depends(plan_service)]


async def run(
    service: PlanService,
    request: Request,
    principal: Principal,
    plan_id: str,
    command: PlanCommand,
    if_match: str | None,
) -> JSONResponse:
    """Decide `command` on its plan and answer with the plan after it (and its ETag)."""
    expected = parse_if_match(if_match)
    async with service.plans.pool.acquire() as conn, conn.transaction():
        with refusals_as_problems(expected):
            outcome = await service.plans.execute(
                conn, command, command_metadata(principal), expected
            )
    plan = readable(request, outcome.state, plan_id, principal)
    return JSONResponse(
        plan_view(plan, outcome.version), headers={"ETag": etag_for(outcome.version)}
    )


@router.get("/plans", responses=problem_responses(401, 403), summary="The plans")
async def list_plans(
    service: Service,
    principal: Annotated[Principal, Depends(require(*READERS))],
    call_id: Annotated[Identifier | None, Query()] = None,
) -> dict[str, Any]:
    """Every plan opened (a coordinator: its own), by call and registration number."""
    own = principal.organisation if principal.role is Role.APPLICANT else None
    rows = await service.plans.listed(coordinator_bin=own, call_id=call_id)
    return {"plans": [{**r, "opened_at": r["opened_at"].isoformat()} for r in rows]}


@router.get(
    "/plans/{plan_id}",
    responses=problem_responses(401, 403, 404, 422),
    summary="A plan, now or as it stood at a time",
)
async def get_plan(
    plan_id: Identifier,
    request: Request,
    service: Service,
    principal: Annotated[Principal, Depends(require(*READERS))],
    as_of: Annotated[AwareDatetime | None, Query(description="ISO 8601 with offset")] = None,
) -> JSONResponse:
    """The plan's frame, the approved version in effect and the one pending, milestones,
    reports and overdue items; with `as_of`, all of it as it stood then."""
    if as_of is None:
        loaded = await service.plans.load(plan_id)
        state, version = loaded.state, loaded.version
    else:
        at = await service.plans.as_of(plan_id, as_of)
        state, version = at.state, at.version
    plan = readable(request, state, plan_id, principal)
    return JSONResponse(plan_view(plan, version), headers={"ETag": etag_for(version)})


@router.get(
    "/plans/{plan_id}/versions",
    responses=problem_responses(401, 403, 404, 422),
    summary="Every version of a plan",
)
async def list_versions(
    plan_id: Identifier,
    request: Request,
    service: Service,
    principal: Annotated[Principal, Depends(require(*READERS))],
) -> dict[str, Any]:
    """Every version drafted, as it stands now (approved, submitted or draft), oldest first."""
    plan = readable(request, (await service.plans.load(plan_id)).state, plan_id, principal)
    return {"plan_id": plan_id, "versions": [version_view(v) for v in plan.versions]}


@router.get(
    "/plans/{plan_id}/versions/{version}",
    responses=problem_responses(401, 403, 404, 422),
    summary="A version of a plan",
)
async def get_version(
    plan_id: Identifier,
    version: int,
    request: Request,
    service: Service,
    principal: Annotated[Principal, Depends(require(*READERS))],
) -> dict[str, Any]:
    """One version of the plan with its content, reason and comments."""
    plan = readable(request, (await service.plans.load(plan_id)).state, plan_id, principal)
    found = next((v for v in plan.versions if v.number == version), None)
    if found is None:
        raise Problem(NOT_FOUND, f"Plan {plan_id} has no version {version}.")
    return version_view(found)


@router.get(
    "/plans/{plan_id}/events",
    responses=problem_responses(401, 403, 404, 422),
    summary="Every event of a plan, with who acted",
)
async def list_events(
    plan_id: Identifier,
    service: Service,
    _: Annotated[Principal, Depends(require(*EVENT_READERS))],
) -> dict[str, Any]:
    """The plan's stream: each event's type, version, times, actor, cause and id."""
    history = await service.plans.history(plan_id)
    if not history:
        raise Problem(NOT_FOUND, f"There is no plan {plan_id}.")
    return {
        "plan_id": plan_id,
        "events": [
            {
                "event_id": str(e.event_id),
                "event_type": e.event_type,
                "stream_version": e.stream_version,
                "occurred_at": e.occurred_at.isoformat(),
                "recorded_at": e.recorded_at.isoformat(),
                "actor": {
                    "subject": e.actor.subject,
                    "role": e.actor.role,
                    "organisation": e.actor.organisation,
                },
                "correlation_id": e.correlation_id,
                "causation_id": e.causation_id,
                "imported": e.imported,
            }
            for e in history
        ],
    }


@router.get(
    "/plans/{plan_id}/progress",
    responses=problem_responses(401, 403, 404, 422),
    summary="A plan's derived figures",
)
async def get_progress(
    plan_id: Identifier,
    request: Request,
    service: Service,
    principal: Annotated[Principal, Depends(require(*READERS))],
    on: Annotated[date | None, Query(description="A date in the call's time zone; today")] = None,
) -> dict[str, Any]:
    """Attainment per indicator and accepted period, budget execution overall and to date,
    overdue items and the status (on_track, at_risk, late), by the approved version."""
    plan = readable(request, (await service.plans.load(plan_id)).state, plan_id, principal)
    day = on or plan.local_date(service.clock())
    return progress_view(plan_id, progress(plan, day))


@router.put(
    "/plans/{plan_id}/draft",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
    summary="Draft the plan, or an amendment of it",
)
async def draft_plan(
    plan_id: Identifier,
    body: DraftBody,
    request: Request,
    service: Service,
    principal: Annotated[Principal, Depends(require(Role.APPLICANT))],
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """The coordinator writes the whole content of the version being drafted: version 1, or
    after an approval the next version, with the reason for the amendment."""
    command = DraftPlan(plan_id, principal.organisation, body.content.parsed(), body.reason)
    return await run(service, request, principal, plan_id, command, if_match)


@router.post(
    "/plans/{plan_id}/draft:submit",
    responses=problem_responses(401, 403, 404, 409, 412),
    summary="Submit the drafted version for approval",
)
async def submit_plan(
    plan_id: Identifier,
    request: Request,
    service: Service,
    principal: Annotated[Principal, Depends(require(Role.APPLICANT))],
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """The coordinator submits the draft; the operator approves or returns it."""
    return await run(
        service, request, principal, plan_id, SubmitPlan(plan_id, principal.organisation), if_match
    )


@router.post(
    "/plans/{plan_id}/draft:return",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
    summary="Return the submitted version with comments",
)
async def return_plan(
    plan_id: Identifier,
    body: CommentsBody,
    request: Request,
    service: Service,
    principal: Annotated[Principal, Depends(require(*OPERATORS))],
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """The operator returns the version: it is a draft again, with the comments."""
    return await run(
        service, request, principal, plan_id, ReturnPlan(plan_id, body.comments), if_match
    )


@router.post(
    "/plans/{plan_id}/draft:approve",
    responses=problem_responses(401, 403, 404, 409, 412),
    summary="Approve the submitted version",
)
async def approve_plan(
    plan_id: Identifier,
    request: Request,
    service: Service,
    principal: Annotated[Principal, Depends(require(*OPERATORS))],
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """The operator approves: the version is what the plan says from now on."""
    command = ApprovePlan(plan_id, service.clock())
    return await run(service, request, principal, plan_id, command, if_match)
