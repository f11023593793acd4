"""Durable timers: due times written with the events that set them, fired once by a leader.

Deadlines are everywhere in a selection programme: a call closes, an evaluation is due, an
appeal window ends. A service gives its `CommandHandler` a `timers_for(stream_id, events,
state)` function; after each append the handler writes what it returns (`Schedule`,
`Cancel`) in the append's transaction, so a timer exists exactly when the events that set it
do. A timer is keyed by (stream, purpose): scheduling again replaces the due time, and
cancelling removes a pending timer.

One `TimerService` per service schema leads (a session advisory lock on a connection of its
own, so a killed process releases it) and fires each due timer by running the service's
command for the timer's purpose, in a transaction that also marks that timer done. Due
timers found at start fire then; a scheduling commit notifies the leader, and it never
sleeps longer than `max_sleep`, so a clock that jumps is noticed within that bound.

Correctness does not rest on the lock: a firing marks done only the timer id it read and
only while it is pending, and runs the command only if it could. So a second leader (one
whose lock went with a lost connection), a due time moved meanwhile, or a cancel makes the
late firing change nothing. A command the domain refuses is marked done with the reason and
logged, not retried; a lost race with another writer of the stream or a database outage is
retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from konkurs_platform.db import DATABASE_UNAVAILABLE, Connection, check_schema_name
from konkurs_platform.domain import DomainError
from konkurs_platform.envelope import Actor
from konkurs_platform.eventstore import ConcurrencyError, Metadata
from konkurs_platform.waiting import wait_any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Schedule:
    """Fire `purpose` for the stream at `due_at`, replacing any earlier due time."""

    purpose: str
    due_at: datetime


@dataclass(frozen=True)
class Cancel:
    """Do not fire `purpose` for the stream (a no-op when nothing is pending)."""

    purpose: str


TimerChange = Schedule | Cancel


@dataclass(frozen=True)
class DueTimer:
    """A pending timer whose due time has come, as the leader read it."""

    timer_id: uuid.UUID
    stream_id: str
    purpose: str
    due_at: datetime
    correlation_id: str

    @property
    def causation_id(self) -> str:
        """What the fired command's events record as their cause."""
        return f"timer:{self.timer_id}"


# Runs the command of one purpose for `timer` at `now`, on `conn` (the firing's transaction),
# appending with `meta`. A `DomainError` is a refusal: the timer is done, with the reason.
Fire = Callable[[DueTimer, datetime, Metadata, Connection], Awaitable[object]]


def channel(schema: str) -> str:
    """The NOTIFY channel on which a scheduling commit wakes the schema's timer leader."""
    return f"{check_schema_name(schema)}_timers"


async def write_timers(
    conn: Connection,
    schema: str,
    stream_id: str,
    changes: Sequence[TimerChange],
    correlation_id: str,
) -> None:
    """Apply `changes` to the stream's timers on `conn`, inside the caller's transaction.

    A schedule gets a new timer id, which supersedes a firing of the old one in flight.
    """
    s = check_schema_name(schema)
    # In purpose order, so that two commands changing the same timers lock them in one order.
    for change in sorted(changes, key=lambda c: c.purpose):
        if isinstance(change, Schedule):
            await conn.execute(
                f"""INSERT INTO {s}.timers (stream_id, purpose, timer_id, due_at, correlation_id)
                    VALUES ($1, $2, $3, $4, $5)
                    ON CONFLICT (stream_id, purpose) DO UPDATE SET
                        timer_id = excluded.timer_id, due_at = excluded.due_at,
                        correlation_id = excluded.correlation_id,
                        done_at = NULL, outcome = NULL, reason = NULL""",
                stream_id,
                change.purpose,
                uuid.uuid4(),
                change.due_at,
                correlation_id,
            )
        else:
            await conn.execute(
                f"DELETE FROM {s}.timers WHERE stream_id = $1 AND purpose = $2 AND done_at IS NULL",
                stream_id,
                change.purpose,
            )
    if any(isinstance(c, Schedule) for c in changes):
        # Delivered on commit only, so the leader never looks before the timer is visible.
        await conn.execute("SELECT pg_notify($1, '')", channel(s))


class _Superseded(Exception):
    """The timer was rescheduled, cancelled or fired since the leader read it."""


# What a leader waits out and tries again: the database away, or refusing the moment.
_RETRIED: tuple[type[BaseException], ...] = (asyncpg.PostgresError, *DATABASE_UNAVAILABLE)


class TimerService:
    """Fires the due timers of one service schema while it leads, until `stop` is set."""

    def __init__(
        self,
        dsn: str,
        pool: asyncpg.Pool,
        schema: str,
        fire: Mapping[str, Fire],
        *,
        actor: Actor,
        clock: Callable[[], datetime],
        max_sleep: float = 30.0,
        batch_size: int = 100,
    ) -> None:
        self.dsn = dsn
        self.pool = pool
        self.schema = check_schema_name(schema)
        self.fire = fire
        # Fired commands act as the system; who set the timer is in its correlation id.
        self.actor = actor
        self.clock = clock
        self.max_sleep = max_sleep
        self.batch_size = batch_size
        self._wake = asyncio.Event()
        self._leading = False
        s = self.schema
        self._lock_key = f"konkurs.timers.{s}"
        self._due_sql = f"""
            SELECT timer_id, stream_id, purpose, due_at, correlation_id FROM {s}.timers
            WHERE done_at IS NULL AND due_at <= $1 ORDER BY due_at LIMIT $2"""
        self._next_sql = f"SELECT min(due_at) FROM {s}.timers WHERE done_at IS NULL"
        self._done_sql = f"""
            UPDATE {s}.timers SET done_at = $2, outcome = $3, reason = $4
            WHERE timer_id = $1 AND done_at IS NULL"""

    @property
    def leading(self) -> bool:
        """Whether this instance holds the schema's timer lock now."""
        return self._leading

    def wake(self) -> None:
        """Look at the agenda again now (the clock moved, or a timer was scheduled here)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Lead or stand by until `stop`; reconnects after a lost database."""
        while not stop.is_set():
            try:
                await self._lead(stop)
            except _RETRIED as exc:
                log.warning("timers lost PostgreSQL, retrying", extra={"error": repr(exc)})
                await wait_any(stop, self._wake, 1.0)

    @contextlib.asynccontextmanager
    async def running(self, name: str) -> AsyncIterator[None]:
        """Lead or stand by in the background while the block runs (an API's lifespan)."""
        stop = asyncio.Event()
        task = asyncio.create_task(self.run(stop), name=name)
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=5)

    async def _lead(self, stop: asyncio.Event) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(self.dsn)
        try:
            lock = "SELECT pg_try_advisory_lock(hashtext($1))"
            while not await conn.fetchval(lock, self._lock_key):
                await wait_any(stop, self._wake, self.max_sleep)
                if stop.is_set():
                    return
            self._leading = True
            await conn.add_listener(channel(self.schema), self._on_notify)
            log.info("timer leader", extra={"schema": self.schema})
            while not stop.is_set():
                # Cleared before reading, so a notification that arrives meanwhile is kept.
                self._wake.clear()
                await self.fire_due()
                due = await conn.fetchval(self._next_sql)
                await wait_any(stop, self._wake, next_wake(due, self.clock(), self.max_sleep))
        finally:
            self._leading = False
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def fire_due(self) -> list[DueTimer]:
        """Fire every timer due by the clock's now (one batch); returns those fired.

        Safe to call beside a running leader: each timer fires at most once either way.
        """
        now = self.clock()
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(self._due_sql, now, self.batch_size)
        fired = []
        for row in rows:
            timer = DueTimer(**dict(row))
            if await self._fire(timer, now):
                fired.append(timer)
        return fired

    async def _fire(self, timer: DueTimer, now: datetime) -> bool:
        fire = self.fire.get(timer.purpose)
        if fire is None:
            # A purpose this service no longer knows: retrying cannot help.
            await self._refuse(timer, now, f"no command for timer purpose {timer.purpose!r}")
            return False
        meta = Metadata(
            actor=self.actor,
            correlation_id=timer.correlation_id,
            causation_id=timer.causation_id,
        )
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                # The mark first: it locks the timer row, and a command that schedules or
                # cancels also writes its timer rows before its events (see `CommandHandler`),
                # so the two wait on each other in one order only. A rescheduling or cancel
                # that committed first leaves nothing to mark, and the command does not run.
                marked = await conn.execute(self._done_sql, timer.timer_id, now, "fired", None)
                if marked == "UPDATE 0":
                    raise _Superseded
                await fire(timer, now, meta, conn)
        except _Superseded:
            log.info("timer superseded or fired meanwhile", extra=_fields(timer))
            return False
        except ConcurrencyError:
            # Another writer of the stream won: the timer is still pending, and the next
            # round decides again on what that writer left.
            log.info("timer lost a race, firing again", extra=_fields(timer))
            return False
        except DomainError as refusal:
            await self._refuse(timer, now, str(refusal))
            return False
        log.info("timer fired", extra=_fields(timer))
        return True

    async def _refuse(self, timer: DueTimer, now: datetime, reason: str) -> None:
        log.warning("timer refused, not retried", extra={**_fields(timer), "reason": reason})
        async with self.pool.acquire() as conn:
            await conn.execute(self._done_sql, timer.timer_id, now, "refused", reason)


def _fields(timer: DueTimer) -> dict[str, str]:
    return {
        "timer_id": str(timer.timer_id),
        "stream_id": timer.stream_id,
        "purpose": timer.purpose,
        "due_at": timer.due_at.isoformat(),
    }


def next_wake(due: datetime | None, now: datetime, max_sleep: float) -> float:
    """Seconds to sleep: until `due`, at most `max_sleep`."""
    if due is None:
        return max_sleep
    return min(max_sleep, max((due - now) / timedelta(seconds=1), 0.0) + 0.01)
