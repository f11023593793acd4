"""Appends notify the outbox relay only while it is idle (it holds the idle lock), and a
relay going idle under a stream of appends misses none of them."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from helpers import event, meta, read_topic, running

from konkurs_ops import stack
from konkurs_platform.eventstore import RELAY_IDLE_LOCK, EventStore
from konkurs_platform.outbox import OutboxRelay
from konkurs_platform.settings import Settings

pytestmark = pytest.mark.integration


async def test_an_append_notifies_only_while_the_relay_holds_the_idle_lock(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    store = EventStore(pool, "scoring", settings.topic("wakeups.v1"))
    received: list[str] = []
    second = asyncio.Event()
    listener = await asyncpg.connect(settings.dsn)
    idle_relay = await asyncpg.connect(settings.dsn)

    def on_notify(*_: object) -> None:
        received.append("notified")
        second.set()

    try:
        await listener.add_listener(store.channel, on_notify)
        # No relay is idle: this append must not notify.
        await store.append(f"busy-{uuid.uuid4()}", 0, [event(1)], meta())
        # A relay goes idle: the next append must notify.
        await idle_relay.execute(
            "SELECT pg_advisory_lock($1, hashtext('scoring'))", RELAY_IDLE_LOCK
        )
        await store.append(f"idle-{uuid.uuid4()}", 0, [event(2)], meta())
        async with asyncio.timeout(20):
            await second.wait()
        # A statement on the listening session makes the server deliver every notification
        # committed before it, and asyncpg hands each to its callback before the result.
        await listener.execute("SELECT 1")
        await asyncio.sleep(0)  # let the callbacks scheduled with the result run
        assert received == ["notified"]
    finally:
        await idle_relay.close()
        await listener.close()


async def test_a_relay_going_idle_between_concurrent_appends_publishes_every_event(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    topic = settings.topic(f"wakeups-{uuid.uuid4().hex[:8]}.v1")
    stack.create_topics(settings, [topic])
    store = EventStore(pool, "scoring", topic)
    # A poll interval beyond the test's patience: an event the relay missed going idle
    # would never be published.
    relay = OutboxRelay(settings, "scoring", batch_size=5, idle_timeout=3600)
    async with running(relay):
        # Bursts with gaps let the relay go idle and busy again many times.
        for burst in range(20):
            await asyncio.gather(
                *(store.append(f"w-{uuid.uuid4()}", 0, [event(burst)], meta()) for _ in range(8))
            )
            await asyncio.sleep(0.01 * (burst % 3))  # uneven pacing, not synchronisation
        records = await read_topic(settings, topic, until=160, timeout=60)
    assert len({r.value for r in records}) == 160
