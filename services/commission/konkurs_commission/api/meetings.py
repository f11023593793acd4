"""HTTP: a call's commission, and its meetings from scheduling to the published decision.

Members sign in with the role `commission_member` (the chair too) and the secretary with
`commission_secretary`, their member id as the token's subject: a member acts only for
themselves (votes, recusals, opinions, approvals), whatever the body says. The role lets a
caller reach a route; the office is checked against the composition the act belongs to
(`domain/acting.py`: by the deciders, and for scheduling by the handler that makes the
command), so another call's secretary, or a member who is not the chair, is refused with a
403 that says so.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from konkurs_commission.api.deps import caller, commission, refusals
from konkurs_commission.app.minutes import CommissionState
from konkurs_commission.domain.composition import ComposeCommission
from konkurs_commission.domain.events import (
    DecidedCandidate,
    DecisionRule,
    Member,
    MemberRole,
    Rules,
    Tally,
    VoteChoice,
)
from konkurs_commission.domain.meeting import (
    ApproveMinutes,
    AttachDissentingOpinion,
    CastVote,
    ChangeAttendance,
    CloseVote,
    DeclareRecusal,
    Meeting,
    MeetingCommand,
    OpenMeeting,
    OpenVote,
    PublishDecision,
    ReplaceWinner,
    TakeDecision,
)
from konkurs_platform.auth import Principal, Role, require
from konkurs_platform.db import Connection
from konkurs_platform.handler import Outcome
from konkurs_platform.problems import NOT_FOUND, Problem, problem_responses
from konkurs_platform.ratelimit import limit_writes
from konkurs_platform.service import command_metadata, idempotent, refusals_as_problems
from konkurs_platform.web import Identifier, etag_for, parse_if_match

router = APIRouter(tags=["commission"], dependencies=[Depends(limit_writes)])

SECRETARY = Role.COMMISSION_SECRETARY
MEMBER = Role.COMMISSION_MEMBER
# Who follows the commission's work before it is public.
INSIDERS = (SECRETARY, MEMBER, Role.AUDITOR, Role.ADMIN)
_Strict = ConfigDict(extra="forbid", str_strip_whitespace=True)
_WRITE = problem_responses(401, 403, 404, 409, 412, 422)
_Bin = Annotated[str, Field(pattern=r"^\d{12}$")]
_Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]


class MemberBody(BaseModel):
    model_config = _Strict
    member_id: _Id = Field(description="The subject of the member's tokens.")
    name: str = Field(min_length=1, max_length=200, description="Full name (personal data).")
    role: Literal["chair", "secretary", "member"]
    position: str = Field(min_length=1, max_length=300, examples=["Vice Minister"])
    affiliation_bins: list[_Bin] = Field(default_factory=list, max_length=50)


class RulesBody(BaseModel):
    model_config = _Strict
    quorum_numerator: int = Field(default=2, ge=1, le=100)
    quorum_denominator: int = Field(default=3, ge=1, le=100)
    decision_rule: Literal["simple_majority", "majority_of_present"] = "simple_majority"
    casting_vote: bool = True
    appeal_window_days: int = Field(default=30, ge=1, le=365)

    def domain(self) -> Rules:
        return Rules(
            self.quorum_numerator,
            self.quorum_denominator,
            DecisionRule(self.decision_rule),
            self.casting_vote,
            self.appeal_window_days,
        )


class CompositionBody(BaseModel):
    model_config = _Strict
    members: list[MemberBody] = Field(min_length=1, max_length=60)
    rules: RulesBody = Field(default_factory=RulesBody)
    reason: str = Field("", max_length=2000, description="Why it changed (not for the first).")


class ScheduleBody(BaseModel):
    model_config = _Strict
    meeting_id: _Id | None = Field(None, description="Chosen by the server when absent.")
    call_id: Identifier
    scheduled_for: AwareDatetime
    venue: str = Field(min_length=1, max_length=300)
    ranking_version: int | None = Field(None, ge=1, description="The latest when absent.")


class OpeningBody(BaseModel):
    model_config = _Strict
    present_member_ids: list[_Id] = Field(max_length=60)


class AttendanceBody(BaseModel):
    model_config = _Strict
    member_id: _Id
    present: bool


class RecusalBody(BaseModel):
    model_config = _Strict
    application_id: Identifier
    reason: str = Field(min_length=1, max_length=2000)


class VoteBody(BaseModel):
    model_config = _Strict
    choice: Literal["for", "against", "abstain"]


class OpinionBody(BaseModel):
    model_config = _Strict
    application_id: str = Field("", max_length=200, description="Empty: the whole decision.")
    text: str = Field(min_length=1, max_length=20000)


class DecisionBody(BaseModel):
    model_config = _Strict
    rationales: dict[str, Annotated[str, Field(min_length=1, max_length=5000)]] = Field(
        default_factory=dict, max_length=200
    )
    reserve_application_ids: list[Identifier] = Field(default_factory=list, max_length=200)


class ReplacementBody(BaseModel):
    model_config = _Strict
    application_id: Identifier
    cause: Literal["withdrawn", "disqualified"]
    reason: str = Field(min_length=1, max_length=5000)


class ApprovalBody(BaseModel):
    model_config = _Strict
    minutes_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


# Views ---------------------------------------------------------------------------------------


def _tally(t: Tally | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "for": t.votes_for,
        "against": t.votes_against,
        "abstentions": t.abstentions,
        "recused": t.recused,
        "not_voted": t.not_voted,
        "casting_vote_used": t.casting_vote_used,
    }


def _decided(d: DecidedCandidate) -> dict[str, Any]:
    return {
        "application_id": d.application_id,
        "registration_number": d.registration_number,
        "rank": d.rank,
        "tally": _tally(d.tally),
        "rationale": d.rationale,
        "reason": d.reason,
    }


def decision_view(meeting: Meeting) -> dict[str, Any] | None:
    """The decision as taken (and published, with the appeal window, once it is)."""
    d = meeting.decision
    if d is None:
        return None
    p = meeting.published
    return {
        "selected": [_decided(x) for x in d.selected],
        "declined": [_decided(x) for x in d.declined],
        "reserve_application_ids": list(d.reserve_application_ids),
        "decided_at": d.decided_at.isoformat(),
        "published_at": None if p is None else p.published_at.isoformat(),
        "appeals_close_at": None if p is None else p.appeals_close_at.isoformat(),
        "appeal_window_closed": meeting.window_closed,
        "minutes_sha256": None if p is None else p.minutes_sha256,
        "replaced_application_ids": list(meeting.replaced),
        "from_reserve_application_ids": list(meeting.from_reserve),
    }


def meeting_view(meeting: Meeting, meeting_id: str, version: int) -> dict[str, Any]:
    """A meeting as the commission follows it."""
    s = meeting.scheduled
    assert s is not None
    return {
        "meeting_id": meeting_id,
        "version": version,
        "call_id": s.call_id,
        "scheduled_for": s.scheduled_for.isoformat(),
        "venue": s.venue,
        "time_zone": s.time_zone,
        "ranking": {
            "version": s.ranking_version,
            "event_id": s.ranking_event_id,
            "content_hash": s.ranking_content_hash,
        },
        "quota": s.quota,
        "composition_version": s.composition_version,
        "members": [
            {"member_id": m.member_id, "role": m.role.value, "position": m.position}
            for m in s.members
        ],
        "candidates": [
            {
                "application_id": c.application_id,
                "registration_number": c.registration_number,
                "rank": c.rank,
                "fundable": c.fundable,
                "failed_thresholds": list(c.failed_thresholds),
                "overall": c.overall,
                "cluster_name": c.cluster_name,
                "region_code": c.region_code,
                "reconsidered": c.application_id in s.reconsidered,
                "recused_member_ids": sorted(
                    m for m, a in meeting.recusals if a == c.application_id
                ),
                "vote": (
                    "open"
                    if meeting.open_vote == c.application_id
                    else "closed"
                    if c.application_id in meeting.closed
                    else "not held"
                ),
                "tally": _tally(
                    None
                    if c.application_id not in meeting.closed
                    else meeting.closed[c.application_id].tally
                ),
                "carried": (
                    meeting.closed[c.application_id].carried
                    if c.application_id in meeting.closed
                    else None
                ),
            }
            for c in s.candidates
        ],
        "opened": meeting.opened is not None,
        "present_member_ids": sorted(meeting.present),
        "quorum_required": None if meeting.opened is None else meeting.opened.quorum_required,
        "quorum_met": meeting.quorum_met,
        "open_vote": meeting.open_vote,
        "decision": decision_view(meeting),
        "minutes_sha256": meeting.minutes_sha256() if meeting.decision is not None else None,
        "approved_by": sorted(meeting.approvals),
        "published": meeting.published is not None,
    }


def _answer(outcome: Outcome[Meeting], meeting_id: str, status: int = 200) -> JSONResponse:
    return JSONResponse(
        meeting_view(outcome.state, meeting_id, outcome.version),
        status_code=status,
        headers={"ETag": etag_for(outcome.version), "Location": f"/v1/meetings/{meeting_id}"},
    )


# Composition ---------------------------------------------------------------------------------


@router.put(
    "/v1/calls/{call_id}/commission", responses=_WRITE, summary="Compose a call's commission"
)
async def compose_commission(
    call_id: Identifier,
    body: CompositionBody,
    request: Request,
    principal: Annotated[Principal, Depends(require(SECRETARY, Role.OPERATOR, Role.ADMIN))],
    service: Annotated[CommissionState, Depends(commission)],
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """The commission of the call from now on, whole: its members (one chair, one
    secretary), their affiliations and the call's rules. The programme's operator records
    the first composition; later ones are its secretary's (the token's subject). Meetings
    already scheduled keep the composition they were scheduled with."""
    expected = parse_if_match(if_match)
    command = ComposeCommission(
        call_id=call_id,
        members=tuple(
            Member(m.member_id, MemberRole(m.role), m.position, tuple(m.affiliation_bins))
            for m in body.members
        ),
        names={m.member_id: m.name for m in body.members},
        reason=body.reason,
        rules=body.rules.domain(),
        by=caller(principal),
    )
    async with service.pool.acquire() as conn, conn.transaction():
        with refusals(request, principal, expected):
            await service.commission.compose(conn, command, command_metadata(principal), expected)
    # Answered as read back after the commit, with the names opened.
    return await _composition(service, call_id)


async def _composition(service: CommissionState, call_id: str) -> JSONResponse:
    async with service.pool.acquire() as conn:
        state, version = await service.commission.composition(conn, call_id)
        if version == 0:
            raise Problem(NOT_FOUND, f"No commission is composed for {call_id}.")
        names = await service.commission.member_names(
            conn, call_id, [m.member_id for m in state.members]
        )
    r = state.rules
    body = {
        "call_id": call_id,
        "composition_version": state.version,
        "members": [
            {
                "member_id": m.member_id,
                "name": names.get(m.member_id, ""),
                "role": m.role.value,
                "position": m.position,
                "affiliation_bins": list(m.affiliation_bins),
            }
            for m in state.members
        ],
        "rules": {
            "quorum_numerator": r.quorum_numerator,
            "quorum_denominator": r.quorum_denominator,
            "decision_rule": r.decision_rule.value,
            "casting_vote": r.casting_vote,
            "appeal_window_days": r.appeal_window_days,
        },
    }
    return JSONResponse(body, headers={"ETag": etag_for(version)})


@router.get(
    "/v1/calls/{call_id}/commission",
    responses=problem_responses(401, 403, 404),
    summary="A call's commission",
)
async def get_commission(
    call_id: Identifier,
    _: Annotated[Principal, Depends(require(*INSIDERS, Role.OPERATOR))],
    service: Annotated[CommissionState, Depends(commission)],
) -> JSONResponse:
    """The members with their names, positions, roles and affiliations, and the rules."""
    return await _composition(service, call_id)


# Meetings ------------------------------------------------------------------------------------


@router.post("/v1/meetings", status_code=201, responses=_WRITE, summary="Schedule a meeting")
async def schedule_meeting(
    body: ScheduleBody,
    request: Request,
    principal: Annotated[Principal, Depends(require(SECRETARY))],
    service: Annotated[CommissionState, Depends(commission)],
) -> Response:
    """Schedule a meeting to decide on a ranking of the call (its latest unless named): the
    agenda is the ranking's entries, referenced by its event id and content hash, with the
    call's quota and the commission as it stands, whose secretary alone schedules. Send
    `Idempotency-Key` for a safe retry."""
    meeting_id = body.meeting_id or str(uuid.uuid4())

    async def run(conn: Connection) -> Response:
        with refusals(request, principal):
            command = await service.commission.schedule_command(
                conn,
                meeting_id=meeting_id,
                call_id=body.call_id,
                scheduled_for=body.scheduled_for,
                venue=body.venue,
                ranking_version=body.ranking_version,
                by=caller(principal),
            )
            outcome = await service.commission.schedule(conn, command, command_metadata(principal))
        return _answer(outcome, meeting_id, 201)

    return await idempotent(request, principal, service.pool, service.idempotency, run)


@router.get(
    "/v1/meetings/{meeting_id}",
    responses=problem_responses(401, 403, 404),
    summary="A meeting as it stands",
)
async def get_meeting(
    meeting_id: Identifier,
    _: Annotated[Principal, Depends(require(*INSIDERS))],
    service: Annotated[CommissionState, Depends(commission)],
) -> JSONResponse:
    """The agenda, attendance and quorum, recusals, votes' state and tallies, the decision,
    the hash of the minutes to approve, and the approvals."""
    async with service.pool.acquire() as conn:
        with refusals_as_problems():
            meeting, version = await service.commission.meeting(conn, meeting_id)
    return JSONResponse(
        meeting_view(meeting, meeting_id, version), headers={"ETag": etag_for(version)}
    )


@router.get(
    "/v1/meetings/{meeting_id}/decision",
    responses=problem_responses(401, 403, 404),
    summary="A meeting's decision",
)
async def get_decision(
    meeting_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(require(*Role))],
    service: Annotated[CommissionState, Depends(commission)],
) -> JSONResponse:
    """The decision with its tallies, rationales, reasons and reserve list: public once
    published; before that, to the commission and its auditors only."""
    async with service.pool.acquire() as conn:
        with refusals_as_problems():
            meeting, version = await service.commission.meeting(conn, meeting_id)
    if meeting.published is None and principal.role not in INSIDERS:
        raise Problem(NOT_FOUND, f"Meeting {meeting_id} has published no decision.")
    view = decision_view(meeting)
    if view is None:
        raise Problem(NOT_FOUND, f"Meeting {meeting_id} has taken no decision yet.")
    return JSONResponse({"meeting_id": meeting_id, **view}, headers={"ETag": etag_for(version)})


async def _act(
    request: Request,
    service: CommissionState,
    meeting_id: str,
    command: MeetingCommand,
    principal: Principal,
    if_match: str | None,
) -> JSONResponse:
    expected = parse_if_match(if_match)
    with refusals(request, principal, expected):
        outcome = await service.commission.act(
            meeting_id, command, command_metadata(principal), expected
        )
    return _answer(outcome, meeting_id)


@router.post("/v1/meetings/{meeting_id}/opening", responses=_WRITE, summary="Open a meeting")
async def open_meeting(
    meeting_id: Identifier,
    body: OpeningBody,
    request: Request,
    principal: Annotated[Principal, Depends(require(SECRETARY))],
    service: Annotated[CommissionState, Depends(commission)],
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Record attendance and the quorum; members affiliated with a candidate's participants
    are recused for it automatically."""
    command = OpenMeeting(tuple(body.present_member_ids), service.clock(), caller(principal))
    return await _act(request, service, meeting_id, command, principal, if_match)


@router.post(
    "/v1/meetings/{meeting_id}/attendance", responses=_WRITE, summary="A member arrives or leaves"
)
async def change_attendance(
    meeting_id: Identifier,
    body: AttendanceBody,
    request: Request,
    principal: Annotated[Principal, Depends(require(SECRETARY))],
    service: Annotated[CommissionState, Depends(commission)],
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """A member arrived after the opening or left; the quorum is recounted."""
    command = ChangeAttendance(body.member_id, body.present, caller(principal))
    return await _act(request, service, meeting_id, command, principal, if_match)


@router.post(
    "/v1/meetings/{meeting_id}/recusals", responses=_WRITE, summary="Recuse oneself for a candidate"
)
async def declare_recusal(
    meeting_id: Identifier,
    body: RecusalBody,
    request: Request,
    principal: Annotated[Principal, Depends(require(MEMBER))],
    service: Annotated[CommissionState, Depends(commission)],
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """The member (the token's subject) takes no part in deciding on the candidate."""
    command = DeclareRecusal(principal.subject, body.application_id, body.reason)
    return await _act(request, service, meeting_id, command, principal, if_match)


@router.post(
    "/v1/meetings/{meeting_id}/votes/{application_id}/opening",
    responses=_WRITE,
    summary="Open the vote on a candidate",
)
async def open_vote(
    meeting_id: Identifier,
    application_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(require(SECRETARY, MEMBER))],
    service: Annotated[CommissionState, Depends(commission)],
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """The chair or the secretary opens the vote; one vote is open at a time, and none once
    as many candidates carried as the quota allows."""
    command = OpenVote(application_id, caller(principal))
    return await _act(request, service, meeting_id, command, principal, if_match)


@router.put(
    "/v1/meetings/{meeting_id}/votes/{application_id}",
    responses=_WRITE,
    summary="Vote on a candidate",
)
async def cast_vote(
    meeting_id: Identifier,
    application_id: Identifier,
    body: VoteBody,
    request: Request,
    principal: Annotated[Principal, Depends(require(MEMBER))],
    service: Annotated[CommissionState, Depends(commission)],
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """The member's vote (the token's subject); a second vote before the close replaces the
    first, and both are recorded."""
    command = CastVote(principal.subject, application_id, VoteChoice(body.choice))
    return await _act(request, service, meeting_id, command, principal, if_match)


@router.post(
    "/v1/meetings/{meeting_id}/votes/{application_id}/closing",
    responses=_WRITE,
    summary="Close the vote on a candidate",
)
async def close_vote(
    meeting_id: Identifier,
    application_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(require(SECRETARY, MEMBER))],
    service: Annotated[CommissionState, Depends(commission)],
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Count the votes under the call's decision rule (the chair's casting vote on a tie)."""
    command = CloseVote(application_id, caller(principal))
    return await _act(request, service, meeting_id, command, principal, if_match)


@router.post(
    "/v1/meetings/{meeting_id}/dissenting-opinions",
    responses=_WRITE,
    summary="Attach a dissenting opinion",
)
async def attach_dissenting_opinion(
    meeting_id: Identifier,
    body: OpinionBody,
    request: Request,
    principal: Annotated[Principal, Depends(require(MEMBER))],
    service: Annotated[CommissionState, Depends(commission)],
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """The member's opinion, printed in the minutes; until the minutes are approved."""
    command = AttachDissentingOpinion(principal.subject, body.application_id, body.text)
    return await _act(request, service, meeting_id, command, principal, if_match)


@router.post("/v1/meetings/{meeting_id}/decision", responses=_WRITE, summary="Take the decision")
async def take_decision(
    meeting_id: Identifier,
    body: DecisionBody,
    request: Request,
    principal: Annotated[Principal, Depends(require(SECRETARY))],
    service: Annotated[CommissionState, Depends(commission)],
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Record the decision from the votes: the carried candidates are selected (never more
    than the quota); a selection that departs from the ranking needs its rationale."""
    command = TakeDecision(
        body.rationales, tuple(body.reserve_application_ids), service.clock(), caller(principal)
    )
    return await _act(request, service, meeting_id, command, principal, if_match)


@router.post("/v1/meetings/{meeting_id}/approvals", responses=_WRITE, summary="Approve the minutes")
async def approve_minutes(
    meeting_id: Identifier,
    body: ApprovalBody,
    request: Request,
    principal: Annotated[Principal, Depends(require(SECRETARY, MEMBER))],
    service: Annotated[CommissionState, Depends(commission)],
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """The chair or the secretary (the token's subject) approves the minutes whose hash they
    read (`minutes_sha256` of the meeting); other minutes are refused."""
    command = ApproveMinutes(caller(principal), body.minutes_sha256)
    return await _act(request, service, meeting_id, command, principal, if_match)


@router.post(
    "/v1/meetings/{meeting_id}/publication", responses=_WRITE, summary="Publish the decision"
)
async def publish_decision(
    meeting_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(require(SECRETARY))],
    service: Annotated[CommissionState, Depends(commission)],
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Publish the decision (approved minutes only): the winners are selected, the others
    declined with their reasons, and the appeal window opens."""
    command = PublishDecision(service.clock(), caller(principal))
    return await _act(request, service, meeting_id, command, principal, if_match)


@router.post(
    "/v1/meetings/{meeting_id}/replacements",
    responses=_WRITE,
    summary="Replace a winner from the reserve list",
)
async def replace_winner(
    meeting_id: Identifier,
    body: ReplacementBody,
    request: Request,
    principal: Annotated[Principal, Depends(require(SECRETARY))],
    service: Annotated[CommissionState, Depends(commission)],
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """A published winner withdrew or was disqualified: the next on the reserve list takes
    the place (ClusterSelected, from the reserve)."""
    command = ReplaceWinner(
        body.application_id, body.cause, body.reason, service.clock(), caller(principal)
    )
    return await _act(request, service, meeting_id, command, principal, if_match)
