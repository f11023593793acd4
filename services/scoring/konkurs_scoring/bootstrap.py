"""Wires the scoring service: its faust worker (reacting to intake) and its HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Annotated, Any

import asyncpg
import faust
from fastapi import Depends, FastAPI, Request

from konkurs_platform.auth import Principal, Role, require
from konkurs_platform.db import create_pool
from konkurs_platform.problems import NOT_FOUND, Problem, problem_responses
from konkurs_platform.service import kafka_check, postgres_check
from konkurs_platform.settings import Settings
from konkurs_platform.web import create_app as create_web_app
from konkurs_platform.worker import create_faust_app, events_topic, react_with_inbox
from konkurs_scoring.consumers import intake_events

SERVICE = "scoring"
SCHEMA = "scoring"
INTAKE_CONSUMER = "scoring.intake-events"


def create_worker(settings: Settings) -> faust.App:
    """The faust app whose agent keeps scoring's copy of each call's methodology."""
    app = create_faust_app(settings, SERVICE)
    pools: list[asyncpg.Pool] = []

    async def pool() -> asyncpg.Pool:
        # Created lazily, inside the event loop faust runs the agent in.
        if not pools:
            pools.append(await create_pool(settings, max_size=4))
        return pools[0]

    reactions = {
        intake_events.CALL_ANNOUNCED: partial(intake_events.on_call_defined, schema=SCHEMA),
        intake_events.CALL_AMENDED: partial(intake_events.on_call_defined, schema=SCHEMA),
        intake_events.CALL_CLOSED: partial(intake_events.on_call_closed, schema=SCHEMA),
    }

    @app.agent(events_topic(app, settings, "intake"), name="intake-events")
    async def intake_events_agent(stream: Any) -> None:
        await react_with_inbox(
            stream.events(),
            settings=settings,
            pool=pool,
            schema=SCHEMA,
            consumer=INTAKE_CONSUMER,
            reactions=reactions,
        )

    return app


def create_app(settings: Settings) -> FastAPI:
    """The scoring HTTP API."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await create_pool(settings, max_size=4)
        try:
            yield
        finally:
            await app.state.pool.close()

    app = create_web_app(
        settings,
        service=SERVICE,
        title="konkurs scoring",
        version="1",
        description="Evaluation of applications by the call's methodology.",
        ready_checks={
            "postgres": postgres_check(lambda: app.state.pool),
            "kafka": kafka_check(settings),
        },
        lifespan=lifespan,
    )

    @app.get(
        "/v1/calls/{call_id}/methodology",
        tags=["calls"],
        responses=problem_responses(401, 403, 404),
        summary="The methodology scoring applies to a call, as learned from intake's events",
    )
    async def get_methodology(
        call_id: str,
        request: Request,
        _: Annotated[
            Principal,
            Depends(require(Role.OPERATOR, Role.EXPERT, Role.AUDITOR, Role.ADMIN, Role.ANALYST)),
        ],
    ) -> dict[str, Any]:
        async with request.app.state.pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT call_id, stream_version, closes_at, quota, methodology, closed_at "
                f"FROM {SCHEMA}.calls WHERE call_id = $1",
                call_id,
            )
        if row is None:
            raise Problem(NOT_FOUND, f"Scoring knows no call {call_id}.")
        import json

        return {
            "call_id": row["call_id"],
            "call_version": row["stream_version"],
            "closes_at": row["closes_at"].isoformat(),
            "closed_at": row["closed_at"].isoformat() if row["closed_at"] else None,
            "quota": row["quota"],
            "methodology": json.loads(row["methodology"]),
        }

    return app
