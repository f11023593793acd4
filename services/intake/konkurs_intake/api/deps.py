"""What the intake routes depend on, built once in `bootstrap` and kept on app.state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from fastapi import Request

from konkurs_intake.app.applications import Applications
from konkurs_intake.app.calls import Calls
from konkurs_intake.app.scheduler import CallCloser
from konkurs_platform.eventstore import EventStore
from konkurs_platform.idempotency import IdempotencyStore


@dataclass
class Intake:
    pool: asyncpg.Pool
    store: EventStore
    calls: Calls
    applications: Applications
    closer: CallCloser
    idempotency: IdempotencyStore
    clock: Callable[[], datetime]


# Async, though it awaits nothing: FastAPI runs a plain `def` dependency in a thread pool,
# a thread hand-over per request on the hot path.
async def intake(request: Request) -> Intake:
    service: Intake = request.app.state.intake
    return service
