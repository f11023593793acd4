"""The outbox relay against the real PostgreSQL and Kafka broker."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from dataclasses import replace

import asyncpg
import pytest
from aiokafka.structs import ConsumerRecord
from helpers import event, meta, read_topic, running

from konkurs_ops import stack
from konkurs_platform.envelope import HEADER_EVENT_TYPE, decode_envelope
from konkurs_platform.eventstore import EventStore
from konkurs_platform.outbox import OutboxRelay
from konkurs_platform.settings import Settings

pytestmark = pytest.mark.integration


def fresh_topic(settings: Settings) -> tuple[Settings, str]:
    """A topic of its own for one test, so counts are exact."""
    topic = f"{settings.topic_prefix}.relaytest-{uuid.uuid4().hex[:8]}.v1"
    stack.create_topics(settings, [topic])
    return settings, topic


def first_occurrences(records: list[ConsumerRecord]) -> dict[str, list[int]]:
    """Per stream, the versions in the order they first appeared (duplicates dropped)."""
    seen: set[uuid.UUID] = set()
    order: dict[str, list[int]] = defaultdict(list)
    for r in records:
        e = decode_envelope(r.value)
        if e.event_id not in seen:
            seen.add(e.event_id)
            order[e.stream_id].append(e.stream_version)
    return order


async def test_relay_publishes_every_stream_in_version_order_keyed_by_stream(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    settings, topic = fresh_topic(settings)
    store = EventStore(pool, "scoring", topic)
    streams = [f"s-{uuid.uuid4()}" for _ in range(10)]
    relay = OutboxRelay(settings, "scoring", batch_size=7)
    async with running(relay):
        for version in range(10):
            await asyncio.gather(
                *(store.append(s, version, [event(version)], meta()) for s in streams)
            )
        records = await read_topic(settings, topic, until=100)
    assert len(records) == 100
    by_stream = first_occurrences(records)
    assert all(by_stream[s] == list(range(1, 11)) for s in streams)
    for r in records:
        envelope = decode_envelope(r.value)
        assert r.key == envelope.stream_id.encode()
        assert dict(r.headers)[HEADER_EVENT_TYPE] == envelope.event_type.encode()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM scoring.outbox") == 0


async def test_relay_wakes_on_a_notification_not_on_a_poll(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    settings, topic = fresh_topic(settings)
    store = EventStore(pool, "scoring", topic)
    # A poll interval far beyond the test's patience: only the notification can wake it.
    relay = OutboxRelay(settings, "scoring", idle_timeout=3600)
    async with running(relay):
        await asyncio.sleep(1.0)  # let it go idle first
        await store.append(f"n-{uuid.uuid4()}", 0, [event(1)], meta())
        records = await read_topic(settings, topic, until=1, timeout=20)
    assert len(records) == 1


async def test_only_one_relay_per_schema_is_active(pool: asyncpg.Pool, settings: Settings) -> None:
    settings, topic = fresh_topic(settings)
    store = EventStore(pool, "scoring", topic)
    first, second = OutboxRelay(settings, "scoring"), OutboxRelay(settings, "scoring")
    async with running(first), running(second):
        for n in range(20):
            await store.append(f"one-{uuid.uuid4()}", 0, [event(n)], meta())
        await read_topic(settings, topic, until=20)
    assert sorted([first.stats.published, second.stats.published]) == [0, 20]


async def test_relay_survives_a_broker_crash_and_loses_nothing(
    pool: asyncpg.Pool, settings: Settings, servers: Settings
) -> None:
    settings, topic = fresh_topic(settings)
    store = EventStore(pool, "scoring", topic)
    streams = [f"crash-{uuid.uuid4()}" for _ in range(5)]
    relay = OutboxRelay(replace(settings), "scoring", batch_size=10, max_backoff=1.0)
    async with running(relay):
        for version in range(20):
            await asyncio.gather(
                *(store.append(s, version, [event(version)], meta()) for s in streams)
            )
        stack.stop_kafka(servers, kill=True)
        for version in range(20, 40):
            await asyncio.gather(
                *(store.append(s, version, [event(version)], meta()) for s in streams)
            )
        stack.start_kafka(servers)
        records = await read_topic(settings, topic, until=200, timeout=120)
    by_stream = first_occurrences(records)
    assert all(by_stream[s] == list(range(1, 41)) for s in streams)
