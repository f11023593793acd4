"""Wires the scoring service: its faust worker (reacting to intake and to the commission),
its HTTP API with the evaluation clock, and the 2017 demo.

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

from konkurs_platform.db import create_pool
from konkurs_platform.eventstore import EventStore, utcnow
from konkurs_platform.personal.store import SealingEventStore
from konkurs_platform.settings import Settings
from konkurs_platform.worker import add_reaction_agent, create_faust_app
from konkurs_scoring.adapters.assignment import PostgresAssignmentBook
from konkurs_scoring.adapters.calls import PostgresCallBook
from konkurs_scoring.adapters.experts import PostgresExpertBook
from konkurs_scoring.adapters.screening import PostgresScreeningBook
from konkurs_scoring.app import assignment, evaluation
from konkurs_scoring.app.assignment import Assignments
from konkurs_scoring.app.experts import Experts
from konkurs_scoring.app.screening import Screenings
from konkurs_scoring.consumers import commission_events, intake_events

if TYPE_CHECKING:
    from fastapi import FastAPI

SERVICE = "scoring"
SCHEMA = "scoring"


def event_store(
    pool: asyncpg.Pool, settings: Settings, clock: Callable[[], datetime] = utcnow
) -> EventStore:
    """Scoring's event store: an expert's name is personal data, sealed in the events."""
    return SealingEventStore(pool, SCHEMA, settings.events_topic(SERVICE), clock)


def screenings_of(assignments: Assignments) -> Screenings:
    """The screening handlers over the assignments' store."""
    return Screenings(
        assignments.store, assignments.applications, PostgresScreeningBook(SCHEMA), assignments
    )


def intake_reaction(store: EventStore) -> intake_events.IntakeCallEvents:
    """What scoring does with intake's events, appending to `store`."""
    assignments = assignment.build(store)
    return intake_events.IntakeCallEvents(
        PostgresCallBook(SCHEMA),
        assignments.applications,
        screenings_of(assignments),
        assignments,
    )


def commission_reaction(
    store: EventStore, pool: asyncpg.Pool, clock: Callable[[], datetime] = utcnow
) -> commission_events.CommissionEvents:
    """What scoring does with the commission's events, appending to `store`."""
    return commission_events.CommissionEvents(
        evaluation.build(store, pool, clock), assignment.build(store), clock
    )


def create_worker(settings: Settings) -> faust.App:
    """The faust app whose agents keep scoring's copy of calls and applications, screen the
    applications of a closed call, and reopen the evaluations the commission asks for."""
    app = create_faust_app(settings, SERVICE)
    add_reaction_agent(
        app,
        settings,
        producer="intake",
        schema=SCHEMA,
        consumer=intake_events.CONSUMER,
        effects=lambda pool: intake_reaction(event_store(pool, settings)).effects(),
    )
    add_reaction_agent(
        app,
        settings,
        producer="commission",
        schema=SCHEMA,
        consumer=commission_events.CONSUMER,
        effects=lambda pool: commission_reaction(event_store(pool, settings), pool).effects(),
    )
    return app


def create_app(settings: Settings, clock: Callable[[], datetime] = utcnow) -> FastAPI:
    """The scoring HTTP API; the pool and the evaluation clock (overdue assignments) start
    with the app and stop with it. `clock` is the time of every command; tests move it."""
    from konkurs_platform.idempotency import IdempotencyStore
    from konkurs_platform.service import kafka_check, postgres_check
    from konkurs_platform.web import create_app as create_web_app
    from konkurs_scoring.api import assignment as assignment_routes
    from konkurs_scoring.api import calls, evaluations, experts, ranking, results, screening
    from konkurs_scoring.api.deps import Scoring
    from konkurs_scoring.app.assignment import EvaluationClock

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings, max_size=4)
        store = event_store(pool, settings, clock)
        assignments = assignment.build(store)
        timers = EvaluationClock(settings.dsn, pool, assignments, clock)
        app.state.scoring = Scoring(
            pool=pool,
            calls=assignments.calls,
            store=store,
            applications=assignments.applications,
            screening_book=PostgresScreeningBook(SCHEMA),
            expert_book=PostgresExpertBook(SCHEMA),
            assignment_book=PostgresAssignmentBook(SCHEMA),
            experts=Experts(store, PostgresExpertBook(SCHEMA)),
            assignments=assignments,
            screenings=screenings_of(assignments),
            clock_service=timers,
            idempotency=IdempotencyStore(SCHEMA),
            clock=clock,
            evaluation=evaluation.build(store, pool, clock),
        )
        try:
            async with timers.running("scoring-evaluation-clock"):
                yield
        finally:
            await pool.close()

    app = create_web_app(
        settings,
        service=SERVICE,
        title="konkurs scoring",
        version="1",
        description="Screening, experts and the evaluation of applications by the call's "
        "methodology.",
        ready_checks={
            "postgres": postgres_check(lambda: app.state.scoring.pool),
            "kafka": kafka_check(settings),
        },
        lifespan=lifespan,
    )
    for routes in (calls, experts, screening, assignment_routes, evaluations, ranking, results):
        app.include_router(routes.router)
    return app
