"""Wires the intake service: its pool, event store, handlers and HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from konkurs_platform.db import create_pool
from konkurs_platform.eventstore import EventStore, utcnow
from konkurs_platform.idempotency import IdempotencyStore
from konkurs_platform.service import kafka_check, postgres_check
from konkurs_platform.settings import Settings
from konkurs_platform.web import create_app as create_web_app

from konkurs_intake.api import calls
from konkurs_intake.api.deps import Intake
from konkurs_intake.app.calls import Calls

SERVICE = "intake"
SCHEMA = "intake"


def create_app(settings: Settings) -> FastAPI:
    """The intake HTTP API; the pool opens with the app and closes with it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings)
        store = EventStore(pool, SCHEMA, settings.events_topic(SERVICE))
        app.state.intake = Intake(
            pool=pool,
            store=store,
            calls=Calls(store),
            idempotency=IdempotencyStore(SCHEMA),
            clock=utcnow,
        )
        try:
            yield
        finally:
            await pool.close()

    app = create_web_app(
        settings,
        service=SERVICE,
        title="konkurs intake",
        version="1",
        description="Calls for applications and the applications of the regions.",
        ready_checks={
            "postgres": postgres_check(lambda: app.state.intake.pool),
            "kafka": kafka_check(settings),
        },
        lifespan=lifespan,
    )
    app.include_router(calls.router)
    return app
