"""`GET /v1/calls`, a call, its summary (applications by region and status) and its
registration journal."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from konkurs_platform.auth import Principal, authenticated
from konkurs_platform.problems import NOT_FOUND, Problem, problem_responses
from konkurs_readside.api.applications import actor
from konkurs_readside.api.parameters import Identifier
from konkurs_readside.api.scope import Where, scope_of

router = APIRouter(tags=["calls"])

_CALL_COLUMNS = (
    "call_id, stream_version, title_ru, title_kk, title_en, programme, opens_at, closes_at, "
    "time_zone, quota, region_set, regions, status, announced_at, closed_at"
)


def _call(row: Any) -> dict[str, Any]:
    out = dict(row)
    for key in ("opens_at", "closes_at", "announced_at", "closed_at"):
        out[key] = out[key].isoformat() if out[key] is not None else None
    out["version"] = out.pop("stream_version")
    return out


def _schema(request: Request) -> str:
    schema: str = request.app.state.schema
    return schema


async def require_call(conn: Any, schema: str, call_id: str) -> None:
    """A 404 problem unless the call is in the read model."""
    if not await conn.fetchval(f"SELECT true FROM {schema}.calls WHERE call_id = $1", call_id):
        raise Problem(NOT_FOUND, f"No call {call_id} in the read model (yet).")


@router.get("/v1/calls", responses=problem_responses(401), summary="Calls")
async def list_calls(
    request: Request, _: Annotated[Principal, Depends(authenticated)]
) -> list[dict[str, Any]]:
    async with request.app.state.pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT {_CALL_COLUMNS} FROM {_schema(request)}.calls ORDER BY opens_at DESC, call_id"
        )
    return [_call(r) for r in rows]


@router.get("/v1/calls/{call_id}", responses=problem_responses(401, 404), summary="A call")
async def get_call(
    call_id: Identifier, request: Request, _: Annotated[Principal, Depends(authenticated)]
) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        row = await conn.fetchrow(
            f"SELECT {_CALL_COLUMNS} FROM {_schema(request)}.calls WHERE call_id = $1", call_id
        )
    if row is None:
        raise Problem(NOT_FOUND, f"No call {call_id} in the read model (yet).")
    return _call(row)


@router.get(
    "/v1/calls/{call_id}/summary",
    responses=problem_responses(401, 404),
    summary="Applications received, by region and status",
)
async def call_summary(
    call_id: Identifier, request: Request, _: Annotated[Principal, Depends(authenticated)]
) -> dict[str, Any]:
    """How many applications the call received, per region and status.

    Counts only, no application's content: what a press release publishes, so every
    authenticated role may read it. Withdrawn applications were received too and count in
    `applications`; `by_status` tells them apart.
    """
    s = _schema(request)
    async with request.app.state.pool.acquire() as conn:
        await require_call(conn, s, call_id)
        rows = await conn.fetch(
            f"SELECT region_code, status, count(*) AS n FROM {s}.applications "
            "WHERE call_id = $1 GROUP BY region_code, status ORDER BY region_code, status",
            call_id,
        )
    regions: dict[str, dict[str, Any]] = {}
    by_status: dict[str, int] = {}
    for r in rows:
        region = regions.setdefault(
            r["region_code"], {"region_code": r["region_code"], "applications": 0, "by_status": {}}
        )
        region["applications"] += r["n"]
        region["by_status"][r["status"]] = r["n"]
        by_status[r["status"]] = by_status.get(r["status"], 0) + r["n"]
    return {
        "call_id": call_id,
        "applications": sum(by_status.values()),
        "regions": len(regions),
        "by_status": by_status,
        "by_region": list(regions.values()),
    }


@router.get(
    "/v1/calls/{call_id}/journal",
    responses=problem_responses(401, 403, 404),
    summary="The call's registration journal",
)
async def registration_journal(
    call_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(authenticated)],
) -> dict[str, Any]:
    """Every registration act on the call's applications (submitted, amended, document
    attached, withdrawn) in the order they happened, limited to what the caller may see."""
    scope = scope_of(request, principal)
    s = _schema(request)
    w = Where()
    w.add("call_id = {0}", call_id)
    scope.restrict(w)
    async with request.app.state.pool.acquire() as conn:
        await require_call(conn, s, call_id)
        rows = await conn.fetch(
            f"SELECT * FROM {s}.registration_journal WHERE {w.sql()} "
            "ORDER BY occurred_at, registration_number, stream_version",
            *w.params,
        )
    entries = [
        {
            "registration_number": r["registration_number"],
            "application_id": r["application_id"],
            "version": r["stream_version"],
            "entry": r["entry"],
            "detail": r["detail"],
            "cluster_name": r["cluster_name"],
            "region_code": r["region_code"],
            "coordinator_bin": r["coordinator_bin"],
            "occurred_at": r["occurred_at"].isoformat(),
            "recorded_at": r["recorded_at"].isoformat(),
            "actor": actor(r, scope),
        }
        for r in rows
    ]
    return {"call_id": call_id, "entries": entries}
