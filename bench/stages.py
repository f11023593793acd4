"""What konkurs itself does, under the same load as the baselines."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import asyncpg

from bench.baselines import payload
from konkurs_platform.auth import Actor
from konkurs_platform.eventstore import EventStore, Metadata, NewEvent
from konkurs_platform.outbox import OutboxRelay
from konkurs_platform.settings import Settings

ACTOR = Actor("bench", "operator")


async def event_store_appends(
    s: Settings, pool: asyncpg.Pool, seconds: float, writers: int = 16
) -> float:
    """Events per second: `writers` loops appending one 2 KB event to a new stream each time
    (event row, outbox row and notification in one statement, one transaction)."""
    store = EventStore(pool, "intake", s.events_topic("intake"))
    body = payload()
    count = 0
    deadline = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal count
        meta = Metadata(ACTOR, correlation_id=str(uuid.uuid4()))
        while time.perf_counter() < deadline:
            await store.append(
                f"bench-{uuid.uuid4()}", 0, [NewEvent("konkurs.bench.v1.Appended", body)], meta
            )
            count += 1

    start = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(writers)))
    return count / (time.perf_counter() - start)


async def relay_drain(s: Settings, pool: asyncpg.Pool) -> float:
    """Events per second the outbox relay publishes (acks=all) while draining the backlog
    the appends left behind."""
    async with pool.acquire() as conn:
        backlog = int(await conn.fetchval("SELECT count(*) FROM intake.outbox"))
    relay = OutboxRelay(s, "intake")
    stop = asyncio.Event()
    start = time.perf_counter()
    task = asyncio.create_task(relay.run(stop))
    while relay.stats.published < backlog:
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - start
    stop.set()
    await task
    return backlog / elapsed


async def service_figures(s: Settings, pool: asyncpg.Pool, seconds: float) -> list[dict[str, Any]]:
    """The figures measured over HTTP against the running services (added as they exist)."""
    return []
