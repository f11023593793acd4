"""The event store against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from helpers import event, meta

from konkurs_platform.eventstore import ConcurrencyError, DuplicateEventError, EventStore, NewEvent
from konkurs_platform.settings import Settings

pytestmark = pytest.mark.integration


def store(pool: asyncpg.Pool, settings: Settings) -> EventStore:
    return EventStore(pool, "intake", settings.events_topic("intake"))


async def test_appended_events_load_back_in_version_order(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    s = store(pool, settings)
    stream = f"test-{uuid.uuid4()}"
    await s.append(stream, 0, [event(1), event(2)], meta())
    await s.append(stream, 2, [event(3)], meta())
    loaded = await s.load(stream)
    assert [(e.stream_version, e.payload) for e in loaded] == [
        (1, b"payload 1"),
        (2, b"payload 2"),
        (3, b"payload 3"),
    ]
    assert await s.version(stream) == 3


async def test_two_writers_racing_at_the_same_version_exactly_one_wins(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    s = store(pool, settings)
    for _ in range(20):
        stream = f"race-{uuid.uuid4()}"
        await s.append(stream, 0, [event(0)], meta())
        results = await asyncio.gather(
            s.append(stream, 1, [event(1)], meta()),
            s.append(stream, 1, [event(2)], meta()),
            return_exceptions=True,
        )
        conflicts = [r for r in results if isinstance(r, ConcurrencyError)]
        winners = [r for r in results if isinstance(r, list)]
        assert (len(winners), len(conflicts)) == (1, 1), results
        assert [e.stream_version for e in await s.load(stream)] == [1, 2]


async def test_an_append_and_its_outbox_rows_commit_or_roll_back_together(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    s = store(pool, settings)
    stream = f"tx-{uuid.uuid4()}"
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await s.append(stream, 0, [event(1)], meta(), conn=conn)
                raise RuntimeError("the caller's transaction fails after the append")
        assert await s.load(stream, conn=conn) == []
        stored = await s.append(stream, 0, [event(1)], meta(), conn=conn)
        queued = await conn.fetchval(
            "SELECT count(*) FROM intake.outbox o JOIN intake.events e USING (position) "
            "WHERE e.event_id = $1",
            stored[0].event_id,
        )
    assert queued == 1


async def test_an_event_id_is_stored_once(pool: asyncpg.Pool, settings: Settings) -> None:
    s = store(pool, settings)
    same = uuid.uuid4()
    await s.append(f"a-{same}", 0, [NewEvent("t", b"x", event_id=same)], meta())
    with pytest.raises(DuplicateEventError):
        await s.append(f"b-{same}", 0, [NewEvent("t", b"x", event_id=same)], meta())
