"""Wires the privacy service: its faust worker (learning intake's subjects and calls), and
its HTTP API with the retention clock.

A worker process imports this module too, and must not load FastAPI: the HTTP side is
imported inside `create_app`, only by the process that serves it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING

import faust

from konkurs_platform.db import create_pool
from konkurs_platform.eventstore import EventStore, utcnow
from konkurs_platform.personal.keystore import KeyStore
from konkurs_platform.settings import Settings
from konkurs_platform.worker import create_faust_app
from konkurs_privacy.adapters.postgres import PrivacyBook
from konkurs_privacy.app.erasure import Erasures
from konkurs_privacy.app.retention import RetentionClock
from konkurs_privacy.consumers import intake_events

if TYPE_CHECKING:
    from fastapi import FastAPI

SERVICE = "privacy"
SCHEMA = "privacy"


def create_worker(settings: Settings) -> faust.App:
    """The faust app whose agent keeps privacy's calls, subjects and retention timers."""
    app = create_faust_app(settings, SERVICE)
    intake_events.add_agent(app, settings, PrivacyBook(SCHEMA))
    return app


def create_app(settings: Settings, clock: Callable[[], datetime] = utcnow) -> FastAPI:
    """The privacy HTTP API; the retention clock runs with it. `clock` is the time of every
    erasure and of the retention clock; tests move it."""
    from konkurs_platform.service import kafka_check, postgres_check
    from konkurs_platform.web import create_app as create_web_app
    from konkurs_privacy.api import subjects
    from konkurs_privacy.api.deps import Privacy

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings, max_size=4)
        store = EventStore(pool, SCHEMA, settings.events_topic(SERVICE), clock)
        erasures = Erasures(store, KeyStore(), PrivacyBook(SCHEMA))
        retention = RetentionClock(settings.dsn, pool, erasures, clock)
        app.state.privacy = Privacy(pool=pool, erasures=erasures, clock=clock)
        app.state.retention = retention
        try:
            async with retention.running("privacy-retention"):
                yield
        finally:
            await pool.close()

    app = create_web_app(
        settings,
        service=SERVICE,
        title="konkurs privacy",
        version="1",
        description="Erasure and retention of personal data, and access requests.",
        ready_checks={
            "postgres": postgres_check(lambda: app.state.privacy.pool),
            "kafka": kafka_check(settings),
        },
        lifespan=lifespan,
    )
    app.include_router(subjects.router)
    return app
