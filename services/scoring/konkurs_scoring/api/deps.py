"""What the scoring routes depend on, built once in `bootstrap` and kept on app.state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from fastapi import Request

from konkurs_platform.eventstore import EventStore
from konkurs_platform.idempotency import IdempotencyStore
from konkurs_scoring.adapters.assignment import PostgresAssignmentBook
from konkurs_scoring.adapters.experts import PostgresExpertBook
from konkurs_scoring.adapters.screening import PostgresScreeningBook
from konkurs_scoring.app.assignment import Assignments, EvaluationClock
from konkurs_scoring.app.calls import CallBook
from konkurs_scoring.app.evaluation import Evaluations
from konkurs_scoring.app.experts import Experts
from konkurs_scoring.app.ports import ApplicationBook
from konkurs_scoring.app.screening import Screenings


@dataclass
class Scoring:
    pool: asyncpg.Pool
    calls: CallBook
    store: EventStore
    applications: ApplicationBook
    screening_book: PostgresScreeningBook
    expert_book: PostgresExpertBook
    assignment_book: PostgresAssignmentBook
    experts: Experts
    assignments: Assignments
    screenings: Screenings
    clock_service: EvaluationClock
    idempotency: IdempotencyStore
    clock: Callable[[], datetime]
    evaluation: Evaluations


# Async, though it awaits nothing: FastAPI runs a plain `def` dependency in a thread pool.
async def scoring(request: Request) -> Scoring:
    """Dependency: the scoring service of this app."""
    service: Scoring = request.app.state.scoring
    return service
