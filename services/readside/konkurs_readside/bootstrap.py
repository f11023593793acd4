"""Wires the readside: its HTTP query API and its projector."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from konkurs_platform.auth import Principal, authenticated
from konkurs_platform.db import create_pool
from konkurs_platform.problems import NOT_FOUND, Problem, problem_responses
from konkurs_platform.service import kafka_check, postgres_check
from konkurs_platform.settings import Settings
from konkurs_platform.web import create_app as create_web_app

from konkurs_readside.projector import SCHEMA, run_projector

SERVICE = "readside"

__all__ = ["create_app", "run_projector"]

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


def create_app(settings: Settings) -> FastAPI:
    """The readside query API."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await create_pool(settings, max_size=8)
        try:
            yield
        finally:
            await app.state.pool.close()

    app = create_web_app(
        settings,
        service=SERVICE,
        title="konkurs readside",
        version="1",
        description="Read models of every service's events.",
        ready_checks={
            "postgres": postgres_check(lambda: app.state.pool),
            "kafka": kafka_check(settings),
        },
        lifespan=lifespan,
    )

    @app.get("/v1/calls", tags=["calls"], responses=problem_responses(401), summary="Calls")
    async def list_calls(
        request: Request, _: Annotated[Principal, Depends(authenticated)]
    ) -> list[dict[str, Any]]:
        async with request.app.state.pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT {_CALL_COLUMNS} FROM {SCHEMA}.calls ORDER BY opens_at DESC, call_id"
            )
        return [_call(r) for r in rows]

    @app.get(
        "/v1/calls/{call_id}",
        tags=["calls"],
        responses=problem_responses(401, 404),
        summary="A call",
    )
    async def get_call(
        call_id: str, request: Request, _: Annotated[Principal, Depends(authenticated)]
    ) -> dict[str, Any]:
        async with request.app.state.pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT {_CALL_COLUMNS} FROM {SCHEMA}.calls WHERE call_id = $1", call_id
            )
        if row is None:
            raise Problem(NOT_FOUND, f"No call {call_id} in the read model (yet).")
        return _call(row)

    return app
