"""HTTP: appeals. An applicant appeals the published decision on its own application (its
token's `org` claim is the application's coordinator BIN), within the appeal window; the
chair of the meeting appealed, or the panel the secretary of the call's commission names,
decides."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from konkurs_commission.api.deps import caller, commission, refusals
from konkurs_commission.app.minutes import CommissionState
from konkurs_commission.domain.appeal import Appeal, LodgeAppeal
from konkurs_commission.domain.events import AppealGround
from konkurs_platform.auth import Principal, Role, forbidden, require
from konkurs_platform.db import Connection
from konkurs_platform.handler import Outcome
from konkurs_platform.problems import problem_responses
from konkurs_platform.ratelimit import limit_writes
from konkurs_platform.service import command_metadata, idempotent, refusals_as_problems
from konkurs_platform.web import Identifier, etag_for

router = APIRouter(prefix="/v1/appeals", tags=["appeals"], dependencies=[Depends(limit_writes)])

_Strict = ConfigDict(extra="forbid", str_strip_whitespace=True)
_WRITE = problem_responses(401, 403, 404, 409, 422)
_READERS = (
    Role.APPLICANT,
    Role.COMMISSION_SECRETARY,
    Role.COMMISSION_MEMBER,
    Role.AUDITOR,
    Role.ADMIN,
)


class LodgeBody(BaseModel):
    model_config = _Strict
    meeting_id: Identifier
    application_id: Identifier
    ground: Literal[
        "conflict_of_interest",
        "quorum_or_count",
        "methodology_not_followed",
        "documents_ignored",
        "deadline_or_notice",
        "other_procedure",
    ] = Field(description="Appeals are on procedure only: the ground is one of these.")
    explanation: str = Field(min_length=1, max_length=20000)


class PanelBody(BaseModel):
    model_config = _Strict
    member_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=30
    )


class AppealDecisionBody(BaseModel):
    model_config = _Strict
    upheld: bool
    reasons: str = Field(min_length=1, max_length=20000)


def _view(state: Appeal, version: int) -> dict[str, Any]:
    lodged = state.lodged
    assert lodged is not None
    return {
        "appeal_id": lodged.appeal_id,
        "version": version,
        "call_id": lodged.call_id,
        "meeting_id": lodged.meeting_id,
        "application_id": lodged.application_id,
        "applicant_bin": lodged.applicant_bin,
        "ground": lodged.ground.value,
        "explanation": lodged.explanation,
        "lodged_at": lodged.lodged_at.isoformat(),
        "panel_member_ids": list(state.panel),
        "decided": state.decided,
    }


def _answer(outcome: Outcome[Appeal], status: int = 200) -> JSONResponse:
    view = _view(outcome.state, outcome.version)
    return JSONResponse(
        view,
        status_code=status,
        headers={
            "ETag": etag_for(outcome.version),
            "Location": f"/v1/appeals/{view['appeal_id']}",
        },
    )


@router.post("", status_code=201, responses=_WRITE, summary="Lodge an appeal")
async def lodge_appeal(
    body: LodgeBody,
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.APPLICANT))],
    service: Annotated[CommissionState, Depends(commission)],
) -> Response:
    """Appeal the published decision on one's own application, on a procedural ground,
    before the window closes (a late appeal is refused with the deadline). Send
    `Idempotency-Key` to make a retry safe."""
    appeal_id = str(uuid.uuid4())

    async def run(conn: Connection) -> Response:
        with refusals_as_problems():
            decision = await service.commission.published_decision(conn, body.meeting_id)
            command = LodgeAppeal(
                appeal_id=appeal_id,
                application_id=body.application_id,
                applicant_bin=principal.organisation or "",
                ground=AppealGround(body.ground),
                explanation=body.explanation,
                decision=decision,
                now=service.clock(),
            )
            outcome = await service.commission.lodge(conn, command, command_metadata(principal))
        return _answer(outcome, 201)

    return await idempotent(request, principal, service.pool, service.idempotency, run)


@router.get("/{appeal_id}", responses=problem_responses(401, 403, 404), summary="One appeal")
async def get_appeal(
    appeal_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(require(*_READERS))],
    service: Annotated[CommissionState, Depends(commission)],
) -> JSONResponse:
    """The appeal; an applicant reads only its own."""
    async with service.pool.acquire() as conn:
        with refusals_as_problems():
            state, version = await service.commission.appeal(conn, appeal_id)
    assert state.lodged is not None
    if principal.role is Role.APPLICANT and principal.organisation != state.lodged.applicant_bin:
        raise forbidden(request, principal, "an applicant reads only its own appeals")
    return JSONResponse(_view(state, version), headers={"ETag": etag_for(version)})


@router.post("/{appeal_id}/panel", responses=_WRITE, summary="Name the panel that decides")
async def name_panel(
    appeal_id: Identifier,
    body: PanelBody,
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.COMMISSION_SECRETARY))],
    service: Annotated[CommissionState, Depends(commission)],
) -> JSONResponse:
    """The members of the meeting who decide the appeal instead of the chair, named by the
    secretary of the call's commission as it stands (the token's subject)."""
    async with service.pool.acquire() as conn, conn.transaction():
        with refusals(request, principal):
            outcome = await service.commission.name_panel(
                conn,
                appeal_id,
                tuple(body.member_ids),
                caller(principal),
                command_metadata(principal),
            )
    return _answer(outcome)


@router.post("/{appeal_id}/decision", responses=_WRITE, summary="Decide an appeal")
async def decide_appeal(
    appeal_id: Identifier,
    body: AppealDecisionBody,
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.COMMISSION_MEMBER))],
    service: Annotated[CommissionState, Depends(commission)],
) -> JSONResponse:
    """Reject with reasons, or uphold: scoring is asked to evaluate the application again,
    and a new ranking puts it on the agenda of a new meeting."""
    async with service.pool.acquire() as conn, conn.transaction():
        with refusals(request, principal):
            outcome = await service.commission.decide_appeal(
                conn,
                appeal_id,
                upheld=body.upheld,
                reasons=body.reasons,
                decided_by=principal.subject,
                now=service.clock(),
                meta=command_metadata(principal),
            )
    return _answer(outcome)
