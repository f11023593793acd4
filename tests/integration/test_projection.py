"""Projection offsets live with the read model: nothing lost, nothing applied twice."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from helpers import ACTOR, end_offsets, read_topic, running

from konkurs_ops import stack
from konkurs_platform.deadletter import HEADER_REASON
from konkurs_platform.envelope import Envelope, encode_envelope
from konkurs_platform.projection import Projector, per_event
from konkurs_platform.settings import Settings

pytestmark = pytest.mark.integration


def envelope(n: int, payload: bytes | None = None) -> bytes:
    now = datetime.now(UTC)
    return encode_envelope(
        Envelope(
            event_id=uuid.uuid4(),
            event_type="konkurs.test.v1.Counted",
            stream_id=f"stream-{n % 7}",
            stream_version=n + 1,
            occurred_at=now,
            recorded_at=now,
            actor=ACTOR,
            correlation_id="c",
            causation_id=None,
            schema_version=1,
            payload=payload if payload is not None else str(n).encode(),
        )
    )


async def produce(settings: Settings, topic: str, values: list[bytes]) -> None:
    # Idempotent: a retried send must not put a second copy in the topic.
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for i, v in enumerate(values):
            await producer.send(topic, v, key=str(i % 7).encode())
        await producer.flush()
    finally:
        await producer.stop()


class Counting:
    """A read model with no uniqueness of its own: a second application shows as a second row."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.table = f"readside.t_{uuid.uuid4().hex[:10]}"
        self.slow = False

    async def create(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                f"CREATE TABLE {self.table} (event_id uuid NOT NULL, n int NOT NULL)"
            )

    async def apply(self, conn: asyncpg.Connection, e: Envelope) -> None:
        if e.payload == b"explode":
            raise ValueError("this event cannot be applied")
        if self.slow:
            await asyncio.sleep(0.01)
        await conn.execute(f"INSERT INTO {self.table} VALUES ($1, $2)", e.event_id, int(e.payload))

    async def rows(self) -> tuple[int, int]:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT count(*), count(DISTINCT event_id) FROM {self.table}"
            )
        return row[0], row[1]


async def wait_rows(model: Counting, n: int, timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while (await model.rows())[0] < n:
            await asyncio.sleep(0.1)


async def wait_at_end(p: Projector, pool: asyncpg.Pool, topic: str, timeout: float = 60) -> None:
    """Wait until the projection's stored offsets reach the topic's end: every record was
    applied (or parked) and committed, so nothing more can still arrive as a duplicate."""
    end = await end_offsets(p.settings, topic)
    async with asyncio.timeout(timeout):
        while True:
            async with pool.acquire() as conn:
                stored = await p.offsets.load(conn)
            if all(stored.get(tp, 0) >= offset for tp, offset in end.items()):
                return
            await asyncio.sleep(0.1)


def projector(
    settings: Settings, pool: asyncpg.Pool, topic: str, model: Counting, name: str
) -> Projector:
    # A new consumer group each time: Kafka's committed offsets cannot help; only ours can.
    return Projector(
        settings,
        pool,
        schema="readside",
        name=name,
        topics=[topic],
        apply=per_event(model.apply),
        group_id=f"{settings.topic_prefix}.test.{uuid.uuid4().hex[:6]}",
        max_records=50,
    )


async def test_a_restarted_projection_resumes_from_its_stored_offsets(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    topic = f"{settings.topic_prefix}.projtest-{uuid.uuid4().hex[:8]}.v1"
    stack.create_topics(settings, [topic], partitions=3)
    model = Counting(pool)
    await model.create()
    name = f"counting-{uuid.uuid4().hex[:6]}"
    await produce(settings, topic, [envelope(n) for n in range(300)])
    async with running(projector(settings, pool, topic, model, name)):
        await wait_rows(model, 300)
    await produce(settings, topic, [envelope(n) for n in range(300, 500)])
    again = projector(settings, pool, topic, model, name)
    async with running(again):
        # At the end, every record is committed: a second application would show now.
        await wait_at_end(again, pool, topic)
    assert await model.rows() == (500, 500)
    async with pool.acquire() as conn:
        stored = await conn.fetchval(
            "SELECT sum(next_offset) FROM readside.projection_offsets WHERE projection = $1", name
        )
    assert stored == 500


async def test_a_projection_killed_mid_batch_applies_nothing_twice(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    topic = f"{settings.topic_prefix}.projtest-{uuid.uuid4().hex[:8]}.v1"
    stack.create_topics(settings, [topic], partitions=3)
    model = Counting(pool)
    await model.create()
    model.slow = True
    name = f"killed-{uuid.uuid4().hex[:6]}"
    await produce(settings, topic, [envelope(n) for n in range(400)])
    for _ in range(3):
        # Cancel the task in the middle of a batch's transaction: the crash of a process.
        stop = asyncio.Event()
        task = asyncio.create_task(projector(settings, pool, topic, model, name).run(stop))
        await asyncio.sleep(1.5)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    model.slow = False
    live = projector(settings, pool, topic, model, name)
    async with running(live):
        await wait_at_end(live, pool, topic)
    assert await model.rows() == (400, 400)


async def test_events_that_cannot_be_decoded_or_applied_go_to_the_dead_letter_topic(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    # A prefix of its own, so the dead-letter topic holds only this test's records.
    settings = replace(settings, topic_prefix=f"{settings.topic_prefix}.dlq{uuid.uuid4().hex[:6]}")
    topic = f"{settings.topic_prefix}.projtest.v1"
    stack.create_topics(settings, [topic, settings.deadletter_topic], partitions=1)
    model = Counting(pool)
    await model.create()
    values = [envelope(0), b"\xff not an envelope", envelope(1, b"explode"), envelope(2)]
    await produce(settings, topic, values)
    async with running(projector(settings, pool, topic, model, f"dlq-{uuid.uuid4().hex[:6]}")):
        await wait_rows(model, 2)
    assert await model.rows() == (2, 2)
    parked = await read_topic(settings, settings.deadletter_topic, until=2)
    reasons = sorted(dict(r.headers)[HEADER_REASON].decode() for r in parked)
    assert reasons[0].startswith("ValueError: this event cannot be applied")
    assert reasons[1].startswith("not a konkurs envelope")
    assert {r.value for r in parked} == {values[1], values[2]}


async def test_a_projection_whose_database_fails_restarts_from_its_offsets_and_loses_nothing(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    topic = f"{settings.topic_prefix}.projtest-{uuid.uuid4().hex[:8]}.v1"
    stack.create_topics(settings, [topic], partitions=2)
    model = Counting(pool)
    await model.create()
    failures = iter(range(3))

    async def flaky(conn: asyncpg.Connection, e: Envelope) -> None:
        # Three times, the connection "drops" in the middle of a batch.
        if int(e.payload) % 97 == 13 and next(failures, None) is not None:
            raise ConnectionResetError("connection to the database lost")
        await model.apply(conn, e)

    await produce(settings, topic, [envelope(n) for n in range(300)])
    p = projector(settings, pool, topic, model, f"flaky-{uuid.uuid4().hex[:6]}")
    p.apply = per_event(flaky)
    async with running(p):
        await wait_at_end(p, pool, topic)
    assert await model.rows() == (300, 300)
    assert p.stats.dead_lettered == 0
