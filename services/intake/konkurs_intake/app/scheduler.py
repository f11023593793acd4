"""The intake clock: records CallClosed for every call whose window has run out.

Runs in each intake API process; a PostgreSQL advisory lock, held on a connection of its
own, elects one of them to act, so a call is closed by one writer (and a second attempt
would only find it closed: CloseCall is idempotent). It sleeps until the next call is due,
never longer than `max_sleep` (which also bounds how late it notices a call announced by
another process), and `wake()` cuts the sleep short when this process changed a call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import asyncpg

from konkurs_intake.app.calls import Calls
from konkurs_intake.domain.calls import CloseCall
from konkurs_platform.domain import DomainError
from konkurs_platform.envelope import Actor
from konkurs_platform.eventstore import ConcurrencyError, Metadata

log = logging.getLogger(__name__)

CLOCK_ACTOR = Actor(subject="system:intake-clock", role="system")


class CallCloser:
    """Closes due calls until `stop` is set."""

    def __init__(
        self,
        dsn: str,
        pool: asyncpg.Pool,
        calls: Calls,
        clock: Callable[[], datetime],
        *,
        max_sleep: float = 30.0,
    ) -> None:
        self.dsn = dsn
        self.pool = pool
        self.calls = calls
        self.clock = clock
        self.max_sleep = max_sleep
        self._wake = asyncio.Event()
        self._lock_key = f"konkurs.intake.call-closer.{calls.store.schema}"
        schema = calls.store.schema
        self._due_sql = (
            f"SELECT call_id FROM {schema}.calls_index "
            "WHERE NOT closed AND closes_at <= $1 ORDER BY closes_at"
        )
        self._next_sql = f"SELECT min(closes_at) FROM {schema}.calls_index WHERE NOT closed"

    def wake(self) -> None:
        """Look at the agenda again now (a call was announced or amended)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Lead or stand by until `stop`; reconnects after a lost database."""
        while not stop.is_set():
            try:
                await self._lead(stop)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("call closer lost PostgreSQL, retrying", extra={"error": repr(exc)})
                await self._sleep(stop, 1.0)

    async def _lead(self, stop: asyncio.Event) -> None:
        # The session lock lives as long as this connection: a killed process releases it.
        conn = await asyncpg.connect(self.dsn)
        try:
            lock = "SELECT pg_try_advisory_lock(hashtext($1))"
            while not await conn.fetchval(lock, self._lock_key):
                if await self._sleep(stop, self.max_sleep):
                    return
            while not stop.is_set():
                self._wake.clear()
                await self.close_due()
                due = await conn.fetchval(self._next_sql)
                await self._sleep(stop, next_wake(due, self.clock(), self.max_sleep))
        finally:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    async def close_due(self) -> list[str]:
        """Close every call due by now; returns the ids closed."""
        now = self.clock()
        async with self.pool.acquire() as conn:
            due = [r["call_id"] for r in await conn.fetch(self._due_sql, now)]
        closed = []
        for call_id in due:
            meta = Metadata(actor=CLOCK_ACTOR, correlation_id=f"intake-clock:{uuid.uuid4()}")
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    outcome = await self.calls.handle_close_call(
                        CloseCall(call_id, now), meta, conn
                    )
            except (DomainError, ConcurrencyError) as exc:
                # Amended to a later close, or closed meanwhile: the next round sees it.
                log.info("call not closed", extra={"call_id": call_id, "reason": str(exc)})
                continue
            if outcome.events:
                log.info("call closed", extra={"call_id": call_id})
                closed.append(call_id)
        return closed

    async def _sleep(self, stop: asyncio.Event, seconds: float) -> bool:
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        return stop.is_set()


def next_wake(due: datetime | None, now: datetime, max_sleep: float) -> float:
    """Seconds to sleep: until `due`, at most `max_sleep`."""
    if due is None:
        return max_sleep
    return min(max_sleep, max((due - now) / timedelta(seconds=1), 0.0) + 0.01)
