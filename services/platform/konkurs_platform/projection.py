"""Projections: read models whose Kafka positions live in PostgreSQL with their rows.

The projector polls every partition it is assigned and, for each poll, in one transaction:
locks the stored offsets of the polled partitions, applies the records past them, and stores
the next offsets. A crash therefore neither loses an event nor applies one twice. On
partition assignment it seeks to the stored offsets. Several projector processes can share
the partitions of a consumer group; the offset rows are locked (in (topic, partition) order,
so two processes never wait on each other in a cycle) and checked in the transaction, so a
batch still in flight during a rebalance cannot be applied twice.

The relay publishes at least once, so the same event can also appear at two offsets:
projections guard against that themselves, by stream version or event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord

from konkurs_platform.db import DATABASE_UNAVAILABLE, Connection, check_schema_name
from konkurs_platform.deadletter import dead_letter
from konkurs_platform.envelope import Envelope, EnvelopeError, decode_envelope
from konkurs_platform.kafka import make_consumer, make_producer
from konkurs_platform.settings import Settings
from konkurs_platform.upcast import upcast

log = logging.getLogger(__name__)

T = TypeVar("T")

# Failures of the database itself, not of the event: never a reason to dead-letter it.
UNAVAILABLE = DATABASE_UNAVAILABLE

DeadLetter = Callable[[ConsumerRecord, str], Awaitable[None]]
# Applies a poll's records (none applied before, in consumption order) inside the caller's
# transaction; returns how many were applied. Records it cannot apply go to `dead_letter`.
ApplyBatch = Callable[[Connection, Sequence[ConsumerRecord], DeadLetter], Awaitable[int]]
Apply = Callable[[Connection, Envelope], Awaitable[None]]


async def decode_all(
    records: Sequence[ConsumerRecord], dead_letter: DeadLetter
) -> list[tuple[ConsumerRecord, Envelope]]:
    """The records with their envelopes, payloads upcast to the current version of their
    event type; the ones that are not envelopes, or cannot be upcast, are dead-lettered."""
    decoded = []
    for rec in records:
        try:
            decoded.append((rec, upcast(decode_envelope(rec.value))))
        except EnvelopeError as exc:
            await dead_letter(rec, str(exc))
    return decoded


async def apply_with_fallback(
    conn: Connection,
    items: Sequence[tuple[ConsumerRecord, T]],
    apply: Callable[[Connection, Sequence[T]], Awaitable[None]],
    dead_letter: DeadLetter,
) -> int:
    """Apply `items` in one savepoint; if that fails, again one by one, each in its own
    savepoint, so the item that cannot be applied is dead-lettered with its reason and every
    other one still applies. A failure of the database itself is raised, never parked."""
    if not items:
        return 0
    try:
        async with conn.transaction():
            await apply(conn, [item for _, item in items])
        return len(items)
    except UNAVAILABLE:
        raise
    except Exception:
        log.warning("batch failed; applying its events one by one", exc_info=True)
    applied = 0
    for rec, item in items:
        try:
            async with conn.transaction():
                await apply(conn, [item])
        except UNAVAILABLE:
            raise
        except Exception as exc:
            await dead_letter(rec, f"{type(exc).__name__}: {exc}")
        else:
            applied += 1
    return applied


def per_event(apply: Apply) -> ApplyBatch:
    """An `ApplyBatch` from a function that applies one event at a time."""

    async def apply_each(conn: Connection, envelopes: Sequence[Envelope]) -> None:
        for envelope in envelopes:
            await apply(conn, envelope)

    async def apply_batch(
        conn: Connection, records: Sequence[ConsumerRecord], dead_letter: DeadLetter
    ) -> int:
        decoded = await decode_all(records, dead_letter)
        return await apply_with_fallback(conn, decoded, apply_each, dead_letter)

    return apply_batch


class OffsetTable:
    """`<schema>.projection_offsets` rows of one projection."""

    def __init__(self, schema: str, projection: str) -> None:
        s = check_schema_name(schema)
        self.projection = projection
        self._load_sql = (
            f"SELECT topic, partition, next_offset FROM {s}.projection_offsets "
            "WHERE projection = $1"
        )
        self._ensure_sql = f"""
            INSERT INTO {s}.projection_offsets (projection, topic, partition, next_offset)
            SELECT $1, t, p, 0 FROM unnest($2::text[], $3::int[]) AS x(t, p)
            ON CONFLICT DO NOTHING"""
        self._lock_sql = f"""
            SELECT topic, partition, next_offset FROM {s}.projection_offsets
            WHERE projection = $1
              AND (topic, partition) IN (SELECT * FROM unnest($2::text[], $3::int[]))
            ORDER BY topic, partition FOR UPDATE"""
        self._save_sql = f"""
            INSERT INTO {s}.projection_offsets (projection, topic, partition, next_offset)
            VALUES ($1, $2, $3, $4)
            ON CONFLICT (projection, topic, partition) DO UPDATE
            SET next_offset = greatest({s}.projection_offsets.next_offset, excluded.next_offset),
                updated_at = now()"""

    async def load(self, conn: Connection) -> dict[TopicPartition, int]:
        """The next offset to apply per partition (a partition without a row starts at 0)."""
        rows = await conn.fetch(self._load_sql, self.projection)
        return {TopicPartition(r["topic"], r["partition"]): int(r["next_offset"]) for r in rows}

    async def ensure(self, conn: Connection, tps: Sequence[TopicPartition]) -> None:
        """Create missing rows at offset 0, so that the first batch has a row to lock."""
        await conn.execute(
            self._ensure_sql, self.projection, [t.topic for t in tps], [t.partition for t in tps]
        )

    async def lock(
        self, conn: Connection, tps: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """The next offsets of `tps`, locked until the transaction ends."""
        rows = await conn.fetch(
            self._lock_sql, self.projection, [t.topic for t in tps], [t.partition for t in tps]
        )
        return {TopicPartition(r["topic"], r["partition"]): int(r["next_offset"]) for r in rows}

    async def save(self, conn: Connection, positions: dict[TopicPartition, int]) -> None:
        await conn.executemany(
            self._save_sql,
            [(self.projection, tp.topic, tp.partition, n) for tp, n in sorted(positions.items())],
        )


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


class Projector:
    """Consumes `topics` and applies every poll with `apply`, until `stop` is set."""

    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        *,
        schema: str,
        name: str,
        topics: Sequence[str],
        apply: ApplyBatch,
        group_id: str | None = None,
        max_records: int = 2000,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.schema = check_schema_name(schema)
        self.name = name
        self.topics = list(topics)
        self.apply = apply
        self.group_id = group_id or f"{settings.topic_prefix}.projection.{name}"
        self.max_records = max_records
        self.offsets = OffsetTable(schema, name)
        self.stats = ProjectorStats()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None

    async def _seek(self, assigned: list[TopicPartition]) -> None:
        assert self._consumer is not None
        async with self.pool.acquire() as conn:
            await self.offsets.ensure(conn, assigned)
            stored = await self.offsets.load(conn)
        for tp in assigned:
            self._consumer.seek(tp, stored.get(tp, 0))
        log.info(
            "partitions assigned", extra={"projection": self.name, "partitions": len(assigned)}
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
        consumer = make_consumer(
            self.settings, group_id=self.group_id, max_poll_records=self.max_records
        )
        consumer.subscribe(self.topics, listener=_SeekToStored(self))
        self._consumer = consumer
        self._producer = make_producer(self.settings)
        try:
            await self._producer.start()
            await consumer.start()
            while not stop.is_set():
                polled = await consumer.getmany(timeout_ms=200, max_records=self.max_records)
                batches = {tp: records for tp, records in polled.items() if records}
                if batches:
                    await self._apply(batches)
                    ends = {tp: records[-1].offset + 1 for tp, records in batches.items()}
                    # Kafka's own committed offsets only serve lag tools; ours are in
                    # PostgreSQL and win on assignment.
                    with contextlib.suppress(Exception):
                        await consumer.commit(ends)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()
            with contextlib.suppress(Exception):
                await self._producer.stop()

    async def _apply(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        tps = sorted(batches)
        async with self.pool.acquire() as conn, conn.transaction():
            # The first statement of the transaction: a rebuild's swap holds these rows'
            # table lock, and nothing else may be held while waiting for it.
            stored = await self.offsets.lock(conn, tps)
            fresh = [rec for tp in tps for rec in batches[tp] if rec.offset >= stored.get(tp, 0)]
            self.stats.applied += await self.apply(conn, fresh, self._dead_letter)
            self.stats.skipped += sum(len(batches[tp]) for tp in tps) - len(fresh)
            await self.offsets.save(conn, {tp: batches[tp][-1].offset + 1 for tp in tps})
        self.stats.batches += 1

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
