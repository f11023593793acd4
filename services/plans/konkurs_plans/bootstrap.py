"""Wires plan tracking: its faust worker (reacting to the commission's ClusterSelected), its
HTTP API with the plan clock (overdue milestones and reports), and the 2017 demo.

A worker process imports this module too, and must not load FastAPI: the HTTP side is
imported inside `create_app`, only by the process that serves it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING

import asyncpg
import faust

from konkurs_plans.adapters.index import PostgresPlanIndex
from konkurs_plans.app.plans import Plans
from konkurs_plans.consumers import commission_events
from konkurs_platform.db import create_pool
from konkurs_platform.eventstore import EventStore, utcnow
from konkurs_platform.settings import Settings
from konkurs_platform.worker import add_reaction_agent, create_faust_app

if TYPE_CHECKING:
    from fastapi import FastAPI

SERVICE = "plans"
SCHEMA = "plans"


def plans_of(
    pool: asyncpg.Pool, settings: Settings, clock: Callable[[], datetime] = utcnow
) -> Plans:
    """The plan handlers over plan tracking's event store (no personal data in it: a plan's
    owners are organisations)."""
    store = EventStore(pool, SCHEMA, settings.events_topic(SERVICE), clock)
    return Plans(store, PostgresPlanIndex(SCHEMA))


def commission_reaction(plans: Plans) -> commission_events.CommissionEvents:
    """What plan tracking does with the commission's events."""
    return commission_events.CommissionEvents(plans)


def create_worker(settings: Settings) -> faust.App:
    """The faust app whose agent opens a plan for each cluster the commission selects."""
    app = create_faust_app(settings, SERVICE)
    add_reaction_agent(
        app,
        settings,
        producer="commission",
        schema=SCHEMA,
        consumer=commission_events.CONSUMER,
        effects=lambda pool: commission_reaction(plans_of(pool, settings)).effects(),
    )
    return app


def create_app(settings: Settings, clock: Callable[[], datetime] = utcnow) -> FastAPI:
    """The plan tracking HTTP API; the pool and the plan clock start with the app and stop
    with it. `clock` is the time of every command and of the timers; tests move it."""
    from konkurs_plans.api import plans as plan_routes
    from konkurs_plans.api import reports
    from konkurs_plans.api.deps import PlanService
    from konkurs_plans.app.plans import PlanClock
    from konkurs_platform.service import kafka_check, postgres_check
    from konkurs_platform.web import create_app as create_web_app

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings, max_size=4)
        plans = plans_of(pool, settings, clock)
        timers = PlanClock(settings.dsn, plans, clock)
        app.state.plans = PlanService(plans=plans, clock_service=timers, clock=clock)
        try:
            async with timers.running("plans-clock"):
                yield
        finally:
            await pool.close()

    app = create_web_app(
        settings,
        service=SERVICE,
        title="konkurs plans",
        version="1",
        description="Development plans of the selected clusters: versions and their approval, "
        "reports per period, overdue milestones and reports, and the derived figures.",
        ready_checks={
            "postgres": postgres_check(lambda: app.state.plans.plans.pool),
            "kafka": kafka_check(settings),
        },
        lifespan=lifespan,
    )
    for routes in (plan_routes, reports):
        app.include_router(routes.router)
    return app
