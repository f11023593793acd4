"""Wires the scoring service: its faust worker (reacting to intake) and its HTTP API.

A worker process imports this module too, and must not load FastAPI: the HTTP side is
imported inside `create_app`, only by the process that serves it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import faust

from konkurs_platform.db import create_pool
from konkurs_platform.settings import Settings
from konkurs_platform.worker import create_faust_app
from konkurs_scoring.adapters.calls import PostgresCallBook
from konkurs_scoring.consumers import intake_events

if TYPE_CHECKING:
    from fastapi import FastAPI

SERVICE = "scoring"
SCHEMA = "scoring"


def create_worker(settings: Settings) -> faust.App:
    """The faust app whose agent keeps scoring's copy of each call's terms."""
    app = create_faust_app(settings, SERVICE)
    intake_events.add_agent(app, settings, SCHEMA, PostgresCallBook(SCHEMA))
    return app


def create_app(settings: Settings) -> FastAPI:
    """The scoring HTTP API."""
    from konkurs_platform.service import kafka_check, postgres_check
    from konkurs_platform.web import create_app as create_web_app
    from konkurs_scoring.api import calls
    from konkurs_scoring.api.deps import Scoring

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings, max_size=4)
        app.state.scoring = Scoring(pool=pool, calls=PostgresCallBook(SCHEMA))
        try:
            yield
        finally:
            await pool.close()

    app = create_web_app(
        settings,
        service=SERVICE,
        title="konkurs scoring",
        version="1",
        description="Evaluation of applications by the call's methodology.",
        ready_checks={
            "postgres": postgres_check(lambda: app.state.scoring.pool),
            "kafka": kafka_check(settings),
        },
        lifespan=lifespan,
    )
    app.include_router(calls.router)
    return app
