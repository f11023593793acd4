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
from aiokafka.admin import AIOKafkaAdminClient
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


async def raw_produce(bootstrap: str, topic: str, partitions: int, messages: int) -> float:
    """Messages per second of an idempotent `acks=all` aiokafka producer, pipelined."""
    await wait_for_leaders(bootstrap, topic, partitions)
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
    """Messages per second of one consumer reading `topic` from the start to its end.

    The clock starts only once every partition has a leader and the consumer is positioned
    at its beginning: on a topic created moments ago, the fetcher would otherwise spend the
    timed part discovering the cluster, or read nothing at all (below).
    """
    await wait_for_leaders(bootstrap, topic, partitions)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_poll_records=2000,
        fetch_max_bytes=16 << 20,
        # An assigned partition is first positioned by this policy, asynchronously; with the
        # default ("latest") that could land after `seek_to_beginning` and move the consumer
        # to the end, so it read nothing: the "no message arrived" of a fresh topic.
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(parts)
        end = await consumer.end_offsets(parts)
        total = sum(end.values())
        if not total:
            raise RuntimeError(f"{topic} is empty: nothing to time")
        await consumer.seek_to_beginning(*parts)
        first = await consumer.beginning_offsets(parts)
        positions = {tp: await consumer.position(tp) for tp in parts}
        if positions != first:
            raise RuntimeError(f"the consumer is not at the beginning of {topic}: {positions}")
        seen = 0
        start = time.perf_counter()
        deadline = start + 120
        while seen < total:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"read {seen} of {total} messages of {topic} in 120 s")
            batch = await consumer.getmany(timeout_ms=500, max_records=2000)
            seen += sum(len(v) for v in batch.values())
        elapsed = time.perf_counter() - start
    finally:
        await consumer.stop()
    return seen / elapsed, seen


async def wait_for_leaders(bootstrap: str, topic: str, partitions: int) -> None:
    """Until the broker describes `partitions` partitions of `topic`, each with a leader (a
    topic's leaders are elected moments after it is created)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            described = (await admin.describe_topics([topic]))[0]
            led = [p for p in described["partitions"] if p["error_code"] == 0 and p["leader"] >= 0]
            if described["error_code"] == 0 and len(led) == partitions:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the partitions of {topic} have no leaders after 60 s")
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
