"""Intake's call clock on the platform timers, against the real PostgreSQL: a call closes at
its `closes_at` as the injected clock reaches it, once, and amending moves the close.

The calls are the 2017 definition with windows around the moment the test starts; a
`MovableClock` stands still until a test moves it. `fire_due` is the leader's round, run
here directly so that no other leader of the intake schema decides what the test sees.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from helpers import eventually, running

from konkurs_intake.app.calls import Calls, call_stream
from konkurs_intake.app.scheduler import CallCloser
from konkurs_intake.bootstrap import SCHEMA, SERVICE, load_demo
from konkurs_intake.demo import CALL, CALL_ID
from konkurs_intake.domain.calls import AmendCall, AnnounceCall, CloseCall, ClosedCall, CloseReason
from konkurs_platform.envelope import Envelope
from konkurs_platform.eventstore import EventStore, Metadata
from konkurs_platform.settings import Settings
from tests.helpers import meta
from tests.integration.test_timers import MovableClock, leading

pytestmark = pytest.mark.integration


class Clocked:
    """The intake call handlers and call clock on one movable clock."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.clock = MovableClock(datetime.now(UTC).replace(microsecond=0))
        self.calls = Calls(EventStore(pool, SCHEMA, settings.events_topic(SERVICE), self.clock))
        self.closer = CallCloser(settings.dsn, pool, self.calls, self.clock, max_sleep=0.05)

    async def announce(self, opens: timedelta, closes: timedelta, m: Metadata) -> str:
        call_id = f"t-{uuid.uuid4().hex[:10]}"
        now = self.clock()
        definition = replace(CALL, opens_at=now + opens, closes_at=now + closes)
        async with self.pool.acquire() as conn, conn.transaction():
            await self.calls.handle_announce_call(AnnounceCall(call_id, definition, now), m, conn)
        return call_id

    async def closed_by_the_clock(self, moved_by: timedelta) -> list[str]:
        """Move the clock, run one round of the call clock; the calls it closed."""
        self.clock.now += moved_by
        return [t.stream_id for t in await self.closer.fire_due()]

    async def closes(self, call_id: str) -> list[Envelope]:
        events = await self.calls.store.load(call_stream(call_id))
        return [e for e in events if e.event_type == "konkurs.intake.v1.CallClosed"]


@pytest.fixture
def clocked(settings: Settings, pool: asyncpg.Pool) -> Clocked:
    return Clocked(settings, pool)


async def test_a_call_closes_once_when_the_clock_reaches_closes_at(clocked: Clocked) -> None:
    announcing = meta()
    call_id = await clocked.announce(timedelta(days=-1), timedelta(hours=1), announcing)
    stream = call_stream(call_id)
    assert stream not in await clocked.closed_by_the_clock(timedelta(minutes=59, seconds=59))
    assert stream in await clocked.closed_by_the_clock(timedelta(minutes=5))
    assert stream not in await clocked.closed_by_the_clock(timedelta(days=1))
    [closed] = await clocked.closes(call_id)
    state = (await clocked.calls.load(call_id)).state
    assert closed.actor.subject == "system:intake-clock"
    assert closed.causation_id is not None and closed.causation_id.startswith("timer:")
    assert closed.correlation_id == announcing.correlation_id
    # Closed at closes_at, though the clock noticed it five minutes late.
    assert isinstance(state, ClosedCall) and state.closed_at == state.definition.closes_at


async def test_amending_a_call_moves_its_close(clocked: Clocked) -> None:
    call_id = await clocked.announce(timedelta(days=1), timedelta(days=2), meta())
    now = clocked.clock()
    later = replace(CALL, opens_at=now + timedelta(days=1), closes_at=now + timedelta(days=3))
    async with clocked.pool.acquire() as conn, conn.transaction():
        await clocked.calls.handle_amend_call(AmendCall(call_id, later, now), meta(), conn, None)
    stream = call_stream(call_id)
    assert stream not in await clocked.closed_by_the_clock(timedelta(days=2, minutes=1))
    assert await clocked.closes(call_id) == []
    assert stream in await clocked.closed_by_the_clock(timedelta(days=1))
    assert len(await clocked.closes(call_id)) == 1


async def test_a_call_closed_by_hand_is_not_closed_again_by_the_clock(
    clocked: Clocked, pool: asyncpg.Pool
) -> None:
    call_id = await clocked.announce(timedelta(days=-1), timedelta(hours=1), meta())
    async with pool.acquire() as conn, conn.transaction():
        await clocked.calls.handle_close_call(
            CloseCall(call_id, clocked.clock(), CloseReason.MANUAL), meta(), conn
        )
        pending = await conn.fetchval(
            f"SELECT count(*) FROM {SCHEMA}.timers WHERE stream_id = $1 AND done_at IS NULL",
            call_stream(call_id),
        )
    assert pending == 0
    assert call_stream(call_id) not in await clocked.closed_by_the_clock(timedelta(days=1))
    assert len(await clocked.closes(call_id)) == 1


async def test_the_historical_import_of_a_closed_call_closes_it_once(
    clocked: Clocked, settings: Settings, pool: asyncpg.Pool
) -> None:
    await load_demo(settings)
    await clocked.closed_by_the_clock(timedelta(0))
    await load_demo(settings)
    assert len(await clocked.closes(CALL_ID)) == 1
    async with pool.acquire() as conn:
        pending = await conn.fetchval(
            f"SELECT count(*) FROM {SCHEMA}.timers WHERE stream_id = $1 AND done_at IS NULL",
            call_stream(CALL_ID),
        )
    assert pending == 0


async def test_a_running_call_clock_closes_a_call_when_the_moved_clock_reaches_it(
    clocked: Clocked,
) -> None:
    call_id = await clocked.announce(timedelta(days=-1), timedelta(days=10), meta())
    async with running(clocked.closer):

        async def closed() -> bool:
            return bool(await clocked.closes(call_id))

        await eventually(leading(clocked.closer))
        assert not await closed()
        clocked.clock.now += timedelta(days=10)
        await eventually(closed)
