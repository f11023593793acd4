"""Wires the commission service: its faust worker (reacting to intake and scoring), its HTTP
API with the appeal-window clock, and the stores both use.

A worker process imports this module too, and must not load FastAPI: the HTTP side is
imported inside `create_app`, only by the process that serves it.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING

import asyncpg
import faust

from konkurs_commission.adapters.known import Book
from konkurs_commission.app.commission import CLOSE_APPEAL_WINDOW, Commission
from konkurs_commission.consumers.reactions import INTAKE_CONSUMER, SCORING_CONSUMER, Reactions
from konkurs_commission.domain.meeting import CloseAppealWindow
from konkurs_platform.db import Connection, create_pool
from konkurs_platform.envelope import Actor
from konkurs_platform.eventstore import EventStore, Metadata, utcnow
from konkurs_platform.personal.store import SealingEventStore
from konkurs_platform.settings import Settings
from konkurs_platform.timers import DueTimer, TimerService
from konkurs_platform.worker import add_reaction_agent, create_faust_app

if TYPE_CHECKING:
    from fastapi import FastAPI

SERVICE = "commission"
SCHEMA = "commission"
CLOCK_ACTOR = Actor(subject="system:commission-clock", role="system")


def build(
    pool: asyncpg.Pool, settings: Settings, clock: Callable[[], datetime] = utcnow
) -> Commission:
    """The commission's handlers over its stores: the plain one for compositions, meetings
    and appeals, the sealing one for members' names (see `app/commission.py`)."""
    topic = settings.events_topic(SERVICE)
    return Commission(
        EventStore(pool, SCHEMA, topic, clock),
        SealingEventStore(pool, SCHEMA, topic, clock),
        Book(SCHEMA),
    )


def appeal_clock(
    settings: Settings,
    pool: asyncpg.Pool,
    commission: Commission,
    clock: Callable[[], datetime],
    *,
    max_sleep: float = 30.0,
) -> TimerService:
    """The timer service that closes appeal windows when they end."""

    async def close(timer: DueTimer, now: datetime, meta: Metadata, conn: Connection) -> None:
        await commission.meetings.execute(timer.stream_id, CloseAppealWindow(now), meta, conn=conn)

    return TimerService(
        settings.dsn,
        pool,
        SCHEMA,
        {CLOSE_APPEAL_WINDOW: close},
        actor=CLOCK_ACTOR,
        clock=clock,
        max_sleep=max_sleep,
    )


def create_worker(settings: Settings) -> faust.App:
    """The faust app whose agents keep the commission's copy of calls, applications and
    rankings, and schedule the meeting that reconsiders upheld appeals."""
    app = create_faust_app(settings, SERVICE)
    add_reaction_agent(
        app,
        settings,
        producer="intake",
        schema=SCHEMA,
        consumer=INTAKE_CONSUMER,
        effects=lambda pool: Reactions(build(pool, settings)).intake_effects(),
    )
    add_reaction_agent(
        app,
        settings,
        producer="scoring",
        schema=SCHEMA,
        consumer=SCORING_CONSUMER,
        effects=lambda pool: Reactions(build(pool, settings)).scoring_effects(),
    )
    return app


def api_modules() -> list[ModuleType]:
    """Every module of `konkurs_commission.api` that defines a `router`, in name order (the
    minutes' routes are a module there, and nothing here names it)."""
    from fastapi import APIRouter

    from konkurs_commission import api as api_package

    modules = []
    for info in pkgutil.iter_modules(api_package.__path__):
        module = importlib.import_module(f"{api_package.__name__}.{info.name}")
        if isinstance(getattr(module, "router", None), APIRouter):
            modules.append(module)
    return modules


def create_app(settings: Settings, clock: Callable[[], datetime] = utcnow) -> FastAPI:
    """The commission HTTP API; the pool and the appeal-window clock start with the app and
    stop with it. `clock` is the time of every command; tests move it."""
    from konkurs_commission.app.minutes import CommissionState
    from konkurs_platform.idempotency import IdempotencyStore
    from konkurs_platform.service import kafka_check, postgres_check
    from konkurs_platform.web import create_app as create_web_app

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings, max_size=8)
        commission = build(pool, settings, clock)
        app.state.commission = CommissionState(
            pool=pool, commission=commission, idempotency=IdempotencyStore(SCHEMA), clock=clock
        )
        try:
            async with appeal_clock(settings, pool, commission, clock).running(
                "commission-appeal-clock"
            ):
                yield
        finally:
            await pool.close()

    app = create_web_app(
        settings,
        service=SERVICE,
        title="konkurs commission",
        version="1",
        description="The commission's meetings: composition, attendance and quorum, recusals, "
        "votes within the quota, the decision, its minutes and publication, and appeals.",
        ready_checks={
            "postgres": postgres_check(lambda: app.state.commission.pool),
            "kafka": kafka_check(settings),
        },
        lifespan=lifespan,
    )
    for routes in api_modules():
        app.include_router(routes.router)
    return app
