"""Wires the intake service: its pool, event store, handlers, the call clock and the HTTP API;
and loads the 2017 programme as demo data."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI

from konkurs_intake import demo
from konkurs_intake.api import applications, calls
from konkurs_intake.api.bodies import ApplicationBody
from konkurs_intake.api.deps import Intake
from konkurs_intake.app.applications import Applications
from konkurs_intake.app.calls import Calls
from konkurs_intake.app.scheduler import CallCloser
from konkurs_platform.db import create_pool
from konkurs_platform.eventstore import utcnow
from konkurs_platform.idempotency import IdempotencyStore
from konkurs_platform.personal.store import SealingEventStore
from konkurs_platform.service import kafka_check, postgres_check
from konkurs_platform.settings import Settings
from konkurs_platform.web import create_app as create_web_app

SERVICE = "intake"
SCHEMA = "intake"


def create_app(settings: Settings, clock: Callable[[], datetime] = utcnow) -> FastAPI:
    """The intake HTTP API; the pool and the call clock start with the app and stop with it.

    `clock` is the time of every command and of the call clock; tests move it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings)
        # The contact person's fields are sealed per person in the events (issue 14).
        store = SealingEventStore(pool, SCHEMA, settings.events_topic(SERVICE), clock)
        call_handlers = Calls(store)
        closer = CallCloser(settings.dsn, pool, call_handlers, clock)
        app.state.intake = Intake(
            pool=pool,
            store=store,
            calls=call_handlers,
            applications=Applications(store, call_handlers),
            closer=closer,
            idempotency=IdempotencyStore(SCHEMA),
            clock=clock,
        )
        try:
            async with closer.running("intake-call-closer"):
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
    app.include_router(applications.create_router(settings))
    _document_bodies(app)
    return app


def _document_bodies(app: FastAPI) -> None:
    """Routes that read JSON or protobuf themselves reference `ApplicationBody` by name;
    put its schema into the OpenAPI components."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            schema = ApplicationBody.model_json_schema(ref_template="#/components/schemas/{model}")
            components = document.setdefault("components", {}).setdefault("schemas", {})
            components.update(schema.pop("$defs", {}))
            components["ApplicationBody"] = schema
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


async def load_demo(settings: Settings) -> None:
    """Load the 2017 competition (call kz-clusters-2017 and 21 illustrative applications)
    through the historical-import path. Loading again changes nothing."""
    pool = await create_pool(settings, max_size=2)
    try:
        store = SealingEventStore(pool, SCHEMA, settings.events_topic(SERVICE))
        call_handlers = Calls(store)
        await demo.load(pool, call_handlers, Applications(store, call_handlers))
    finally:
        await pool.close()
