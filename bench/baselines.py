"""The baselines every figure is divided by, measured in the same run on the same servers:
what PostgreSQL, Kafka and the `eventsourcing` library do with rows and messages of the
same size and no konkurs code in between."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

ROW_BYTES = 2048


def payload(size: int = ROW_BYTES) -> bytes:
    return os.urandom(size // 2).hex().encode()[:size]


async def raw_insert_commit(dsn: str, seconds: float, connections: int = 16) -> float:
    """Rows per second: `connections` loops of INSERT, each its own committed transaction."""
    setup = await asyncpg.connect(dsn)
    await setup.execute(
        "CREATE TABLE IF NOT EXISTS bench_raw (id uuid PRIMARY KEY, body bytea NOT NULL)"
    )
    await setup.close()
    pool = await asyncpg.create_pool(dsn, min_size=connections, max_size=connections)
    body = payload()
    count = 0
    deadline = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal count
        async with pool.acquire() as conn:
            stmt = await conn.prepare("INSERT INTO bench_raw (id, body) VALUES ($1, $2)")
            while time.perf_counter() < deadline:
                await stmt.fetch(uuid.uuid4(), body)
                count += 1

    start = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(connections)))
    elapsed = time.perf_counter() - start
    await pool.close()
    return count / elapsed


async def raw_copy(dsn: str, rows: int) -> float:
    """Rows per second of one `COPY` of `rows` rows of the same size."""
    conn = await asyncpg.connect(dsn)
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS bench_copy (id uuid PRIMARY KEY, body bytea NOT NULL)"
    )
    body = payload()
    records = [(uuid.uuid4(), body) for _ in range(rows)]
    start = time.perf_counter()
    await conn.copy_records_to_table("bench_copy", records=records, columns=["id", "body"])
    elapsed = time.perf_counter() - start
    await conn.close()
    return rows / elapsed


def eventsourcing_recorder(dsn_parts: dict[str, str], seconds: float, threads: int = 16) -> float:
    """Events per second appended one at a time by the `eventsourcing` library's PostgreSQL
    recorder from `threads` threads (it is synchronous, on psycopg 3)."""
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    datastore = PostgresDatastore(
        dbname=dsn_parts["dbname"],
        host=dsn_parts["host"],
        port=dsn_parts["port"],
        user=dsn_parts["user"],
        password=dsn_parts.get("password", ""),
        pool_size=threads,
        max_overflow=0,
    )
    recorder = PostgresApplicationRecorder(datastore, events_table_name="es_bench_events")
    recorder.create_table()
    body = payload()
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def loop(i: int) -> None:
        while time.perf_counter() < deadline:
            recorder.insert_events(
                [
                    StoredEvent(
                        originator_id=uuid.uuid4(), originator_version=1, topic="bench", state=body
                    )
                ]
            )
            counts[i] += 1

    start = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    datastore.close()
    return sum(counts) / elapsed


async def raw_produce(bootstrap: str, topic: str, messages: int) -> float:
    """Messages per second of an idempotent `acks=all` aiokafka producer, pipelined."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=1 << 20,
    )
    await producer.start()
    body = payload()
    start = time.perf_counter()
    futures = [await producer.send(topic, body, key=str(i % 512).encode()) for i in range(messages)]
    await asyncio.gather(*futures)
    elapsed = time.perf_counter() - start
    await producer.stop()
    return messages / elapsed


async def raw_consume(bootstrap: str, topic: str, partitions: int) -> tuple[float, int]:
    """Messages per second of one consumer reading `topic` from the start to its end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_poll_records=2000,
        fetch_max_bytes=16 << 20,
        # The topic was created moments ago: refresh metadata quickly, or the fetcher may
        # wait minutes for the leaders of partitions it has not heard of.
        metadata_max_age_ms=1000,
    )
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(parts)
        end = await consumer.end_offsets(parts)
        total = sum(end.values())
        await consumer.seek_to_beginning(*parts)
        seen = 0
        start = last = time.perf_counter()
        # Until the end offsets are reached, or nothing came for 5 s (a partition that never
        # delivers must not hang the benchmark; the rate counts what arrived).
        while seen < total and time.perf_counter() - last < 5:
            batch = await consumer.getmany(timeout_ms=500, max_records=2000)
            got = sum(len(v) for v in batch.values())
            if got:
                seen += got
                last = time.perf_counter()
        elapsed = last - start
        if not seen:
            raise RuntimeError(f"no message of {topic} arrived")
    finally:
        await consumer.stop()
    return seen / elapsed, seen
