"""HTTP: the reports on a plan's periods, submitted by the coordinator and accepted or
returned by the operator."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from konkurs_plans.api.bodies import CommentsBody, ReportBody
from konkurs_plans.api.deps import OPERATORS, READERS, PlanService, plan_service, readable
from konkurs_plans.api.plans import run
from konkurs_plans.api.views import report_view
from konkurs_plans.domain.plans import AcceptReport, ReturnReport, SubmitReport
from konkurs_platform.auth import Principal, Role, require
from konkurs_platform.problems import NOT_FOUND, Problem, problem_responses
from konkurs_platform.ratelimit import limit_writes
from konkurs_platform.web import Identifier

router = APIRouter(prefix="/v1", tags=["reports"], dependencies=[Depends(limit_writes)])

Service = Annotated[PlanService, Depends(plan_service)]


@router.get(
    "/plans/{plan_id}/reports/{period_id}",
    responses=problem_responses(401, 403, 404, 422),
    summary="The report on a period",
)
async def get_report(
    plan_id: Identifier,
    period_id: Identifier,
    request: Request,
    service: Service,
    principal: Annotated[Principal, Depends(require(*READERS))],
) -> dict[str, Any]:
    """The report as last submitted, its state and the operator's comments."""
    plan = readable(request, (await service.plans.load(plan_id)).state, plan_id, principal)
    report = plan.reports.get(period_id)
    if report is None:
        raise Problem(NOT_FOUND, f"Plan {plan_id} has no report on {period_id}.")
    return report_view(report)


@router.put(
    "/plans/{plan_id}/reports/{period_id}",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
    summary="Submit the report on a period",
)
async def submit_report(
    plan_id: Identifier,
    period_id: Identifier,
    body: ReportBody,
    request: Request,
    service: Service,
    principal: Annotated[Principal, Depends(require(Role.APPLICANT))],
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """The coordinator reports on an ended period (again after a return): actual values with
    their evidence's SHA-256, milestone transitions, disbursements made, a narrative."""
    command = SubmitReport(
        plan_id,
        principal.organisation,
        period_id,
        body.actuals_parsed(),
        body.milestones_parsed(),
        body.disbursements_parsed(),
        body.narrative,
        service.clock(),
    )
    return await run(service, request, principal, plan_id, command, if_match)


@router.post(
    "/plans/{plan_id}/reports/{period_id}:accept",
    responses=problem_responses(401, 403, 404, 409, 412),
    summary="Accept a report",
)
async def accept_report(
    plan_id: Identifier,
    period_id: Identifier,
    request: Request,
    service: Service,
    principal: Annotated[Principal, Depends(require(*OPERATORS))],
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """The operator accepts the report: its figures count, its milestone moves hold."""
    return await run(
        service, request, principal, plan_id, AcceptReport(plan_id, period_id), if_match
    )


@router.post(
    "/plans/{plan_id}/reports/{period_id}:return",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
    summary="Return a report with comments",
)
async def return_report(
    plan_id: Identifier,
    period_id: Identifier,
    body: CommentsBody,
    request: Request,
    service: Service,
    principal: Annotated[Principal, Depends(require(*OPERATORS))],
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """The operator returns the report; the coordinator submits it again."""
    command = ReturnReport(plan_id, period_id, body.comments)
    return await run(service, request, principal, plan_id, command, if_match)
