"""Projections: read models whose Kafka positions live in PostgreSQL with their rows.

For each batch of one partition, the projector applies the events and stores the next
offset in one transaction; on partition assignment it seeks to the stored offsets. A crash
therefore neither loses an event nor applies one twice. Several projector processes can
share the partitions of a consumer group; the stored offset is locked and checked in the
transaction, so even a batch still in flight during a rebalance cannot be applied twice.

The relay publishes at least once, so the same event can also appear at two offsets:
projections guard against that themselves, by stream version or event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord

from konkurs_platform.db import Connection, check_schema_name
from konkurs_platform.deadletter import dead_letter
from konkurs_platform.envelope import Envelope, EnvelopeError, decode_envelope
from konkurs_platform.kafka import make_consumer, make_producer
from konkurs_platform.settings import Settings

log = logging.getLogger(__name__)

Apply = Callable[[Connection, Envelope], Awaitable[None]]


class OffsetStore:
    """`<schema>.projection_offsets` for one projection."""

    def __init__(self, schema: str, projection: str) -> None:
        s = check_schema_name(schema)
        self.projection = projection
        self._load_sql = (
            f"SELECT topic, partition, next_offset FROM {s}.projection_offsets "
            "WHERE projection = $1"
        )
        self._lock_sql = (
            f"SELECT next_offset FROM {s}.projection_offsets "
            "WHERE projection = $1 AND topic = $2 AND partition = $3 FOR UPDATE"
        )
        self._save_sql = f"""
            INSERT INTO {s}.projection_offsets (projection, topic, partition, next_offset)
            VALUES ($1, $2, $3, $4)
            ON CONFLICT (projection, topic, partition)
            DO UPDATE SET next_offset = excluded.next_offset, updated_at = now()"""

    async def load(self, conn: Connection) -> dict[TopicPartition, int]:
        rows = await conn.fetch(self._load_sql, self.projection)
        return {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}

    async def lock(self, conn: Connection, tp: TopicPartition) -> int:
        """The next offset to apply for `tp`, locked until the transaction ends."""
        value = await conn.fetchval(self._lock_sql, self.projection, tp.topic, tp.partition)
        return -1 if value is None else int(value)

    async def save(self, conn: Connection, tp: TopicPartition, next_offset: int) -> None:
        await conn.execute(self._save_sql, self.projection, tp.topic, tp.partition, next_offset)


class _SeekToStored(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, projector: Projector) -> None:
        self.projector = projector

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Nothing to flush: every processed batch is already committed with its offsets.
        return None

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self.projector._seek(assigned)


@dataclass
class ProjectorStats:
    applied: int = 0
    skipped: int = 0
    dead_lettered: int = 0
    batches: int = 0
    lag: dict[str, int] = field(default_factory=dict)


class Projector:
    """Consumes `topics` and applies every event with `apply`, until `stop` is set."""

    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        *,
        schema: str,
        name: str,
        topics: Sequence[str],
        apply: Apply,
        group_id: str | None = None,
        max_records: int = 2000,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.name = name
        self.topics = list(topics)
        self.apply = apply
        self.group_id = group_id or f"{settings.topic_prefix}.projection.{name}"
        self.max_records = max_records
        self.offsets = OffsetStore(schema, name)
        self.stats = ProjectorStats()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._positions: dict[TopicPartition, int] = {}

    async def _seek(self, assigned: list[TopicPartition]) -> None:
        assert self._consumer is not None
        async with self.pool.acquire() as conn:
            stored = await self.offsets.load(conn)
        for tp in assigned:
            if tp in stored:
                self._consumer.seek(tp, stored[tp])
                self._positions[tp] = stored[tp]
            else:
                await self._consumer.seek_to_beginning(tp)
        log.info(
            "partitions assigned",
            extra={"projection": self.name, "partitions": len(assigned)},
        )

    async def run(self, stop: asyncio.Event, *, max_backoff: float = 5.0) -> None:
        """Project until `stop` is set.

        A failure (the database or the broker away) restarts the consumer after a pause: the
        new consumer seeks to the stored offsets again, because the old one's position may
        already be past records whose transaction never committed.
        """
        backoff = 0.2
        while not stop.is_set():
            try:
                await self._consume(stop)
            except Exception as exc:
                log.warning(
                    "projection failed, restarting from its stored offsets",
                    extra={"projection": self.name, "error": repr(exc)},
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, max_backoff)
            else:
                backoff = 0.2

    async def _consume(self, stop: asyncio.Event) -> None:
        consumer = make_consumer(self.settings, group_id=self.group_id)
        consumer.subscribe(self.topics, listener=_SeekToStored(self))
        self._consumer = consumer
        self._producer = make_producer(self.settings)
        self._positions.clear()
        try:
            await self._producer.start()
            await consumer.start()
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=200, max_records=self.max_records)
                for tp, records in batches.items():
                    if records:
                        await self._apply_partition(tp, records)
                        self._positions[tp] = records[-1].offset + 1
                        # Kafka's own committed offsets only serve lag tools; ours are in
                        # PostgreSQL and win on assignment.
                        with contextlib.suppress(Exception):
                            await consumer.commit({tp: records[-1].offset + 1})
                self._update_lag(consumer)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()
            with contextlib.suppress(Exception):
                await self._producer.stop()

    def _update_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            position = self._positions.get(tp)
            if high is not None and position is not None:
                self.stats.lag[f"{tp.topic}:{tp.partition}"] = max(0, high - position)

    async def _apply_partition(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        async with self.pool.acquire() as conn:
            try:
                # Fast path: the whole batch in one transaction.
                async with conn.transaction():
                    await self._apply_records(conn, tp, records, isolate=False)
            except _ApplyFailed:
                # Slow path: again, each event in its own savepoint, so that one bad event
                # is dead-lettered and the others still apply.
                async with conn.transaction():
                    await self._apply_records(conn, tp, records, isolate=True)
        self.stats.batches += 1

    async def _apply_records(
        self,
        conn: Connection,
        tp: TopicPartition,
        records: list[ConsumerRecord],
        *,
        isolate: bool,
    ) -> None:
        next_offset = await self.offsets.lock(conn, tp)
        applied = skipped = 0
        for rec in records:
            if rec.offset < next_offset:
                skipped += 1
                continue
            try:
                envelope = decode_envelope(rec.value)
            except EnvelopeError as exc:
                await self._dead_letter(rec, str(exc))
                continue
            if not isolate:
                try:
                    await self.apply(conn, envelope)
                except _UNAVAILABLE:
                    raise
                except Exception as exc:
                    raise _ApplyFailed from exc
            else:
                try:
                    async with conn.transaction():
                        await self.apply(conn, envelope)
                except _UNAVAILABLE:
                    # The database is away, the event is fine: fail the batch, keep the event.
                    raise
                except Exception as exc:
                    await self._dead_letter(rec, f"{type(exc).__name__}: {exc}")
                    continue
            applied += 1
        await self.offsets.save(conn, tp, records[-1].offset + 1)
        self.stats.applied += applied
        self.stats.skipped += skipped

    async def _dead_letter(self, rec: ConsumerRecord, reason: str) -> None:
        assert self._producer is not None
        self.stats.dead_lettered += 1
        await dead_letter(
            self._producer,
            self.settings.deadletter_topic,
            consumer=f"projection.{self.name}",
            topic=rec.topic,
            partition=rec.partition,
            offset=rec.offset,
            key=rec.key,
            value=rec.value,
            headers=rec.headers,
            reason=reason,
        )


# Failures of the database itself, not of the event: never a reason to dead-letter it.
_UNAVAILABLE = (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError)


class _ApplyFailed(Exception):
    pass
