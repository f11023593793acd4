"""The commission's read models per call and meeting: meetings (agenda, attendance, quorum,
candidates with their tallies and the decision), each member's votes, the decisions and the
appeals.

Who sees what:
- the commission (secretary, members and the chair, who signs in as a member) and the staff
  (operators, auditors, admins): everything, the members named;
- analysts: the meetings and decisions without people (no member's id or name, no free text a
  member wrote); not the votes member by member, not the appeals (an applicant's own words);
- applicants: the published decisions (public once published: what was selected, declined and
  why, with the tallies) and their own appeals (lodged by their organisation's BIN);
- any other role: the published decisions only.
A decision taken but not yet published is the commission's and the staff's alone: to anyone
else it does not exist yet (404), as an appeal of another organisation does to an applicant.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from konkurs_platform.auth import Principal, Role, authenticated, require
from konkurs_platform.problems import NOT_FOUND, Problem, problem_responses
from konkurs_readside.api.parameters import Identifier
from konkurs_readside.api.scope import STAFF

router = APIRouter(tags=["commission"])

COMMISSION = (Role.COMMISSION_SECRETARY, Role.COMMISSION_MEMBER)
# Those who see the commission's work with the people in it.
INSIDERS = (*COMMISSION, *STAFF)
MEETING_READERS = (*INSIDERS, Role.ANALYST)
VOTE_READERS = INSIDERS
APPEAL_READERS = (*INSIDERS, Role.APPLICANT)


async def _require_call(conn: Any, schema: str, call_id: str) -> None:
    """`calls.require_call`, imported when called: the exports import this module's roles,
    and `calls` imports `applications`, which imports the exports, so an import at the top
    would close that circle."""
    from konkurs_readside.api.calls import require_call

    await require_call(conn, schema, call_id)


def _schema(request: Request) -> str:
    schema: str = request.app.state.schema
    return schema


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _insider(principal: Principal) -> bool:
    return principal.role in INSIDERS


def _tally(raw: str | None) -> dict[str, Any] | None:
    return json.loads(raw) if raw is not None else None


async def _meeting(conn: Any, schema: str, meeting_id: str) -> Any:
    row = await conn.fetchrow(
        f"SELECT * FROM {schema}.commission_meetings WHERE meeting_id = $1", meeting_id
    )
    if row is None:
        raise Problem(NOT_FOUND, f"No meeting {meeting_id} in the read model (yet).")
    return row


def _meeting_head(row: Any) -> dict[str, Any]:
    """What a meeting is about: when, where, on which ranking, and where it stands."""
    return {
        "meeting_id": row["meeting_id"],
        "call_id": row["call_id"],
        "status": row["status"],
        "scheduled_for": _iso(row["scheduled_for"]),
        "venue": row["venue"],
        "time_zone": row["time_zone"],
        "agenda": {
            "ranking_event_id": row["ranking_event_id"],
            "ranking_version": row["ranking_version"],
            "ranking_content_hash": row["ranking_content_hash"],
            "quota": row["quota"],
            "reconsidered": list(row["reconsidered"]),
        },
        "composition_version": row["composition_version"],
        "quorum": {
            "required": row["quorum_required"],
            "present": len(row["present_member_ids"]),
            "met": row["quorum_met"],
        },
        "opened_at": _iso(row["opened_at"]),
        "decided_at": _iso(row["decided_at"]),
        "published_at": _iso(row["published_at"]),
        "appeals_close_at": _iso(row["appeals_close_at"]),
        "appeal_window_closed_at": _iso(row["appeal_window_closed_at"]),
        "version": row["stream_version"],
    }


def _candidate(row: Any, *, insider: bool) -> dict[str, Any]:
    out = {
        "application_id": row["application_id"],
        "registration_number": row["registration_number"],
        "rank": row["rank"],
        "cluster_name": row["cluster_name"],
        "region_code": row["region_code"],
        "overall": row["overall"],
        "fundable": row["fundable"],
        "failed_thresholds": list(row["failed_thresholds"]),
        "reconsidered": row["reconsidered"],
        "vote": row["vote"],
        "tally": _tally(row["tally"]),
        "carried": row["carried"],
        "outcome": row["outcome"],
        "rationale": row["rationale"],
        "reason": row["reason"],
        "reserve_position": row["reserve_position"],
        "from_reserve": row["from_reserve"],
        "replaced": (
            {"cause": row["replaced_cause"], "reason": row["replaced_reason"]}
            if row["replaced_cause"]
            else None
        ),
    }
    if insider:
        # What recusals are checked against: the applicants' business, not the public's.
        out["participant_bins"] = list(row["participant_bins"])
    return out


# --- meetings -----------------------------------------------------------------------------


@router.get(
    "/v1/calls/{call_id}/meetings",
    responses=problem_responses(401, 403, 404, 422),
    summary="A call's commission meetings, in the order scheduled",
)
async def call_meetings(
    call_id: Identifier,
    request: Request,
    _: Annotated[Principal, Depends(require(*MEETING_READERS))],
) -> dict[str, Any]:
    """Each meeting with its agenda (the ranking version decided on, by event id and content
    hash), its quorum and where it stands."""
    s = _schema(request)
    async with request.app.state.pool.acquire() as conn:
        await _require_call(conn, s, call_id)
        rows = await conn.fetch(
            f"""SELECT * FROM {s}.commission_meetings WHERE call_id = $1
                ORDER BY scheduled_for, meeting_id""",
            call_id,
        )
    return {"call_id": call_id, "meetings": [_meeting_head(r) for r in rows]}


@router.get(
    "/v1/meetings/{meeting_id}",
    responses=problem_responses(401, 403, 404, 422),
    summary="A meeting: agenda, members and attendance, quorum, recusals, tallies, decision",
)
async def get_meeting(
    meeting_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(require(*MEETING_READERS))],
) -> dict[str, Any]:
    """The meeting with the members as they sat (present or not), every recusal, each
    candidate as ranked with its vote's tally and the decision on it, the reserve list and
    the minutes' approvals. Analysts get no member's id or name and no recusal's reason."""
    insider = _insider(principal)
    s = _schema(request)
    async with request.app.state.pool.acquire() as conn:
        meeting = await _meeting(conn, s, meeting_id)
        members = await conn.fetch(
            f"""SELECT m.*, n.name FROM {s}.commission_meeting_members m
                LEFT JOIN {s}.commission_member_names n
                    ON n.call_id = $2 AND n.member_id = m.member_id
                WHERE m.meeting_id = $1 ORDER BY m.ordinal""",
            meeting_id,
            meeting["call_id"],
        )
        candidates = await conn.fetch(
            f"SELECT * FROM {s}.commission_candidates WHERE meeting_id = $1 ORDER BY rank",
            meeting_id,
        )
        recusals = await conn.fetch(
            f"""SELECT * FROM {s}.commission_recusals WHERE meeting_id = $1
                ORDER BY stream_version""",
            meeting_id,
        )
    out = _meeting_head(meeting)
    out["members"] = [
        {
            **({"member_id": m["member_id"], "name": m["name"]} if insider else {}),
            "role": m["role"],
            "position": m["position"],
            "present": m["present"],
        }
        for m in members
    ]
    out["recusals"] = [
        {
            **(
                {
                    "member_id": r["member_id"],
                    "matching_bins": list(r["matching_bins"]),
                    "reason": r["reason"],
                }
                if insider
                else {}
            ),
            "application_id": r["application_id"],
            "automatic": r["automatic"],
        }
        for r in recusals
    ]
    out["candidates"] = [_candidate(c, insider=insider) for c in candidates]
    out["reserve"] = list(meeting["reserve"])
    out["minutes"] = {
        "sha256": meeting["minutes_sha256"],
        "approvals": [
            {k: v for k, v in a.items() if insider or k != "member_id"}
            for a in json.loads(meeting["approvals"])
        ],
    }
    return out


@router.get(
    "/v1/meetings/{meeting_id}/votes",
    responses=problem_responses(401, 403, 404, 422),
    summary="Each member's vote on each candidate, the recusals and the dissenting opinions",
)
async def meeting_votes(
    meeting_id: Identifier,
    request: Request,
    _: Annotated[Principal, Depends(require(*VOTE_READERS))],
) -> dict[str, Any]:
    """Per candidate in ranking order: its tally and every member's vote that counted, with
    the votes it replaced (first first) and who recused; then the dissenting opinions in
    the order attached."""
    s = _schema(request)
    async with request.app.state.pool.acquire() as conn:
        meeting = await _meeting(conn, s, meeting_id)
        names = {
            r["member_id"]: r["name"]
            for r in await conn.fetch(
                f"SELECT member_id, name FROM {s}.commission_member_names WHERE call_id = $1",
                meeting["call_id"],
            )
        }
        order = {
            r["member_id"]: r["ordinal"]
            for r in await conn.fetch(
                f"""SELECT member_id, ordinal FROM {s}.commission_meeting_members
                    WHERE meeting_id = $1""",
                meeting_id,
            )
        }
        candidates = await conn.fetch(
            f"""SELECT application_id, registration_number, rank, vote, tally, carried
                FROM {s}.commission_candidates WHERE meeting_id = $1 ORDER BY rank""",
            meeting_id,
        )
        votes = await conn.fetch(
            f"SELECT * FROM {s}.commission_votes WHERE meeting_id = $1", meeting_id
        )
        recusals = await conn.fetch(
            f"""SELECT * FROM {s}.commission_recusals WHERE meeting_id = $1
                ORDER BY stream_version""",
            meeting_id,
        )
        dissents = await conn.fetch(
            f"""SELECT * FROM {s}.commission_dissents WHERE meeting_id = $1
                ORDER BY stream_version""",
            meeting_id,
        )

    def member(member_id: str) -> dict[str, Any]:
        return {"member_id": member_id, "name": names.get(member_id)}

    by_candidate: dict[str, list[Any]] = {}
    # In the composition's order, whatever order the votes came in (as the minutes list them).
    for v in sorted(votes, key=lambda v: (order.get(v["member_id"], 0), v["member_id"])):
        by_candidate.setdefault(v["application_id"], []).append(v)
    return {
        "meeting_id": meeting_id,
        "call_id": meeting["call_id"],
        "candidates": [
            {
                "application_id": c["application_id"],
                "registration_number": c["registration_number"],
                "rank": c["rank"],
                "vote": c["vote"],
                "tally": _tally(c["tally"]),
                "carried": c["carried"],
                "votes": [
                    {
                        **member(v["member_id"]),
                        "choice": v["choice"],
                        "replaced": list(v["replaced"]),
                    }
                    for v in by_candidate.get(c["application_id"], [])
                ],
                "recused": [
                    member(r["member_id"])
                    for r in recusals
                    if r["application_id"] == c["application_id"]
                ],
            }
            for c in candidates
        ],
        "recusals": [
            {
                **member(r["member_id"]),
                "application_id": r["application_id"],
                "automatic": r["automatic"],
                "matching_bins": list(r["matching_bins"]),
                "reason": r["reason"],
                "recorded_at": _iso(r["recorded_at"]),
            }
            for r in recusals
        ],
        "dissenting_opinions": [
            {
                **member(d["member_id"]),
                "application_id": d["application_id"] or None,
                "text": d["text"],
                "attached_at": _iso(d["attached_at"]),
            }
            for d in dissents
        ],
    }


# --- decisions ----------------------------------------------------------------------------


@router.get(
    "/v1/calls/{call_id}/decisions",
    responses=problem_responses(401, 404, 422),
    summary="A call's commission decisions: selected, declined, the reserve list",
)
async def call_decisions(
    call_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(authenticated)],
) -> dict[str, Any]:
    """Every meeting's decision in the order taken: the selected candidates with their
    tallies and rationales (why the commission departed from the ranking, where it did),
    the declined ones with their reasons and places on the reserve list, and the reserve
    list itself. The published decisions are public; one not yet published only the
    commission and the staff see (`published` says which)."""
    s = _schema(request)
    published_only = not _insider(principal)
    async with request.app.state.pool.acquire() as conn:
        await _require_call(conn, s, call_id)
        meetings = await conn.fetch(
            f"""SELECT * FROM {s}.commission_meetings
                WHERE call_id = $1 AND status = ANY($2)
                ORDER BY coalesce(decided_at, published_at), meeting_id""",
            call_id,
            ["published"] if published_only else ["decided", "published"],
        )
        candidates = await conn.fetch(
            f"""SELECT * FROM {s}.commission_candidates
                WHERE meeting_id = ANY($1) AND outcome IS NOT NULL ORDER BY rank""",
            [m["meeting_id"] for m in meetings],
        )
    decisions = []
    for m in meetings:
        mine = [c for c in candidates if c["meeting_id"] == m["meeting_id"]]
        decisions.append(
            {
                "meeting_id": m["meeting_id"],
                "published": m["status"] == "published",
                "decided_at": _iso(m["decided_at"]),
                "published_at": _iso(m["published_at"]),
                "appeals_close_at": _iso(m["appeals_close_at"]),
                "appeal_window_closed": m["appeal_window_closed_at"] is not None,
                "minutes_sha256": m["minutes_sha256"],
                "ranking_version": m["ranking_version"],
                "ranking_content_hash": m["ranking_content_hash"],
                "quota": m["quota"],
                "selected": [
                    _candidate(c, insider=False) for c in mine if c["outcome"] == "selected"
                ],
                "declined": [
                    _candidate(c, insider=False) for c in mine if c["outcome"] == "declined"
                ],
                "reserve": list(m["reserve"]),
            }
        )
    return {"call_id": call_id, "decisions": decisions}


# --- appeals ------------------------------------------------------------------------------


def _appeal(row: Any) -> dict[str, Any]:
    return {
        "appeal_id": row["appeal_id"],
        "call_id": row["call_id"],
        "application_id": row["application_id"],
        "meeting_id": row["meeting_id"],
        "applicant_bin": row["applicant_bin"],
        "ground": row["ground"],
        "explanation": row["explanation"],
        "lodged_at": _iso(row["lodged_at"]),
        "panel": list(row["panel"]),
        "status": row["status"],
        "reasons": row["reasons"],
        "decided_by": row["decided_by"],
        "decided_at": _iso(row["decided_at"]),
        "reevaluation_requested": row["reevaluation_requested"],
        "version": row["stream_version"],
    }


def _own(principal: Principal) -> str | None:
    """The BIN an applicant's appeals are lodged by; None for a reader of every appeal."""
    return principal.organisation if principal.role is Role.APPLICANT else None


@router.get(
    "/v1/calls/{call_id}/appeals",
    responses=problem_responses(401, 403, 404, 422),
    summary="A call's appeals and their outcomes (an applicant's own only)",
)
async def call_appeals(
    call_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(require(*APPEAL_READERS))],
) -> dict[str, Any]:
    """Every appeal of the call in the order lodged: ground, explanation, panel, outcome with
    its reasons, and whether a re-evaluation was requested."""
    s = _schema(request)
    own = _own(principal)
    async with request.app.state.pool.acquire() as conn:
        await _require_call(conn, s, call_id)
        rows = await conn.fetch(
            f"""SELECT * FROM {s}.commission_appeals
                WHERE call_id = $1 AND ($2::text IS NULL OR applicant_bin = $2)
                ORDER BY lodged_at, appeal_id""",
            call_id,
            own,
        )
    return {"call_id": call_id, "appeals": [_appeal(r) for r in rows]}


@router.get(
    "/v1/appeals/{appeal_id}",
    responses=problem_responses(401, 403, 404, 422),
    summary="An appeal and its outcome",
)
async def get_appeal(
    appeal_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(require(*APPEAL_READERS))],
) -> dict[str, Any]:
    """The appeal; another organisation's is a 404 to an applicant, as if it did not exist."""
    own = _own(principal)
    async with request.app.state.pool.acquire() as conn:
        row = await conn.fetchrow(
            f"""SELECT * FROM {_schema(request)}.commission_appeals
                WHERE appeal_id = $1 AND ($2::text IS NULL OR applicant_bin = $2)""",
            appeal_id,
            own,
        )
    if row is None:
        raise Problem(NOT_FOUND, f"No appeal {appeal_id} in the read model (yet).")
    return _appeal(row)
