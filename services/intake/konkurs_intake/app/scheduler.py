"""The intake clock: closes a call at its `closes_at`, on the platform's durable timers.

Announcing or amending a call schedules its `close-call` timer at `closes_at`, in the
transaction of its events (`call_timers` in `app/calls.py`); closing it cancels the timer.
When the timer is due, the schema's timer leader (one intake process, elected by an advisory
lock) sends `CloseCall`, recorded by `system:intake-clock`. A call closed meanwhile by hand
has no timer left, and CloseCall on a closed call decides nothing, so a call closes once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import asyncpg

from konkurs_intake.app.calls import CLOSE_CALL, Calls
from konkurs_intake.domain.calls import CloseCall
from konkurs_platform.db import Connection
from konkurs_platform.envelope import Actor
from konkurs_platform.eventstore import Metadata
from konkurs_platform.timers import DueTimer, TimerService

CLOCK_ACTOR = Actor(subject="system:intake-clock", role="system")


class CallCloser(TimerService):
    """The intake's timer service: its one timer closes calls."""

    def __init__(
        self,
        dsn: str,
        pool: asyncpg.Pool,
        calls: Calls,
        clock: Callable[[], datetime],
        *,
        max_sleep: float = 30.0,
    ) -> None:
        super().__init__(
            dsn,
            pool,
            calls.store.schema,
            {CLOSE_CALL: self._close},
            actor=CLOCK_ACTOR,
            clock=clock,
            max_sleep=max_sleep,
        )
        self.calls = calls

    async def _close(
        self, timer: DueTimer, now: datetime, meta: Metadata, conn: Connection
    ) -> None:
        # The timer belongs to the call's stream, `call-<call id>` (see `call_stream`).
        call_id = timer.stream_id.removeprefix("call-")
        await self.calls.handle_close_call(CloseCall(call_id, now), meta, conn)
