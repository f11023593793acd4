"""The readside projector: every service's events into the read models and the audit log,
exactly once.

One transaction per poll: it locks the stored offsets of the polled partitions, applies the
records past them to every read model (a batch per projection, see `project`), appends them to
the audit log, and stores the next offsets. A crash at any point either commits all of it or
none of it, so no event is lost or applied twice; several projector processes share the
partitions through a consumer group, and the offset locks keep a batch still in flight during
a rebalance from being applied by two of them.

The platform's `Projector` applies one decoded event at a time; this one needs the raw bytes
(the audit chain hashes them), a whole poll per transaction, and a target schema (rebuilds),
so it drives the consumer itself and keeps the platform's offset table and dead-letter path.
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

from konkurs_platform.db import Connection, check_schema_name, create_pool
from konkurs_platform.deadletter import dead_letter
from konkurs_platform.envelope import EnvelopeError, decode_envelope
from konkurs_platform.kafka import make_consumer, make_producer
from konkurs_platform.settings import Settings
from konkurs_readside import audit
from konkurs_readside.positions import PROJECTOR, event_topics, stored_offsets
from konkurs_readside.projections import PROJECTIONS, Projection

SCHEMA = "readside"

log = logging.getLogger(__name__)

# Errors that say nothing about the event being applied.
_LOST_CONNECTION = (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError)

DeadLetter = Callable[[ConsumerRecord, str], Awaitable[None]]


@dataclass
class ProjectorStats:
    """Counters of one projector process (the lag shown by the API is read from the database)."""

    applied: int = 0
    skipped: int = 0
    dead_lettered: int = 0
    audited: int = 0
    batches: int = 0
    lag: dict[str, int] = field(default_factory=dict)


@dataclass
class Outcome:
    """What `project` did with one batch."""

    applied: int = 0
    dead_lettered: int = 0
    audited: int = 0


async def project(
    conn: Connection,
    schema: str,
    records: Sequence[ConsumerRecord],
    projections: Sequence[Projection],
    *,
    dead_letter: DeadLetter,
    with_audit: bool,
) -> Outcome:
    """Apply `records` (in consumption order, none applied before) inside the caller's
    transaction.

    Fast path: each projection gets the batch's events in one call. If one of them fails, the
    batch is applied again event by event, each in a savepoint, so that the event that cannot
    be applied is dead-lettered with its reason and every other one still applies. Every event
    whose envelope decodes enters the audit log, applicable or not: the log records what was
    published, not what the read models made of it.
    """
    outcome = Outcome()
    received: list[tuple[ConsumerRecord, audit.Received]] = []
    for rec in records:
        try:
            envelope = decode_envelope(rec.value)
        except EnvelopeError as exc:
            await dead_letter(rec, str(exc))
            outcome.dead_lettered += 1
            continue
        received.append(
            (rec, audit.Received(rec.value, envelope, rec.topic, rec.partition, rec.offset))
        )
    try:
        async with conn.transaction():
            await _apply(conn, schema, projections, [r for _, r in received])
        outcome.applied = len(received)
    except Exception:
        log.warning("batch failed; applying its events one by one", exc_info=True)
        for rec, r in received:
            try:
                async with conn.transaction():
                    await _apply(conn, schema, projections, [r])
            except _LOST_CONNECTION:
                raise  # not the event's fault: the whole transaction is gone
            except Exception as exc:
                await dead_letter(rec, f"{type(exc).__name__}: {exc}")
                outcome.dead_lettered += 1
            else:
                outcome.applied += 1
    if with_audit:
        outcome.audited = await audit.append(conn, schema, [r for _, r in received])
    return outcome


async def _apply(
    conn: Connection,
    schema: str,
    projections: Sequence[Projection],
    received: Sequence[audit.Received],
) -> None:
    for p in projections:
        events = [r.envelope for r in received if r.envelope.event_type in p.event_types]
        if events:
            await p.apply(conn, schema, events)


class OffsetTable:
    """`<schema>.projection_offsets` rows of one offset set, locked and saved per poll."""

    def __init__(self, schema: str, projection: str = PROJECTOR) -> None:
        s = check_schema_name(schema)
        self.projection = projection
        self._ensure_sql = f"""
            INSERT INTO {s}.projection_offsets (projection, topic, partition, next_offset)
            SELECT $1, t, p, 0 FROM unnest($2::text[], $3::int[]) AS x(t, p)
            ON CONFLICT DO NOTHING"""
        # Locked in (topic, partition) order, so two processes never wait on each other in
        # a cycle, even while a rebalance hands partitions over.
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

    async def ensure(self, conn: Connection, tps: Sequence[TopicPartition]) -> None:
        """Create missing rows at offset 0, so that the first batch has a row to lock."""
        await conn.execute(
            self._ensure_sql, self.projection, [t.topic for t in tps], [t.partition for t in tps]
        )

    async def lock(
        self, conn: Connection, tps: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
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
    def __init__(self, projector: ReadsideProjector) -> None:
        self.projector = projector

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Nothing to flush: every processed batch is already committed with its offsets.
        return None

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self.projector._seek(assigned)


class ReadsideProjector:
    """Projects every event topic into `schema` until `stop` is set."""

    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        *,
        schema: str = SCHEMA,
        group_id: str | None = None,
        max_records: int = 2000,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.schema = check_schema_name(schema)
        self.topics = event_topics(settings)
        self.group_id = group_id or f"{settings.topic_prefix}.projection.{PROJECTOR}"
        self.max_records = max_records
        self.offsets = OffsetTable(schema)
        self.projections = list(PROJECTIONS.values())
        self.stats = ProjectorStats()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._positions: dict[TopicPartition, int] = {}

    async def _seek(self, assigned: list[TopicPartition]) -> None:
        assert self._consumer is not None
        async with self.pool.acquire() as conn:
            await self.offsets.ensure(conn, assigned)
            stored = await stored_offsets(conn, self.schema)
        for tp in assigned:
            self._consumer.seek(tp, stored.get(tp, 0))
            self._positions[tp] = stored.get(tp, 0)
        log.info("partitions assigned", extra={"partitions": len(assigned)})

    async def run(self, stop: asyncio.Event) -> None:
        """Project until `stop` is set."""
        consumer = make_consumer(
            self.settings, group_id=self.group_id, max_poll_records=self.max_records
        )
        consumer.subscribe(self.topics, listener=_SeekToStored(self))
        self._consumer = consumer
        self._producer = make_producer(self.settings)
        await self._producer.start()
        await consumer.start()
        try:
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=200, max_records=self.max_records)
                batches = {tp: records for tp, records in batches.items() if records}
                if batches:
                    await self._apply(batches)
                    ends = {tp: records[-1].offset + 1 for tp, records in batches.items()}
                    self._positions.update(ends)
                    # Kafka's own committed offsets only serve lag tools; ours are in
                    # PostgreSQL and win on assignment.
                    with contextlib.suppress(Exception):
                        await consumer.commit(ends)
                self._update_lag(consumer)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()
            with contextlib.suppress(Exception):
                await self._producer.stop()

    async def _apply(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        tps = sorted(batches)
        async with self.pool.acquire() as conn, conn.transaction():
            # First statement of the transaction: a rebuild's swap holds these rows' table
            # lock, and nothing else may be held while waiting for it.
            stored = await self.offsets.lock(conn, tps)
            fresh = [rec for tp in tps for rec in batches[tp] if rec.offset >= stored.get(tp, 0)]
            self.stats.skipped += sum(len(batches[tp]) for tp in tps) - len(fresh)
            outcome = await project(
                conn,
                self.schema,
                fresh,
                self.projections,
                dead_letter=self._dead_letter,
                with_audit=True,
            )
            await self.offsets.save(conn, {tp: batches[tp][-1].offset + 1 for tp in tps})
        self.stats.applied += outcome.applied
        self.stats.dead_lettered += outcome.dead_lettered
        self.stats.audited += outcome.audited
        self.stats.batches += 1

    def _update_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            position = self._positions.get(tp)
            if high is not None and position is not None:
                self.stats.lag[f"{tp.topic}:{tp.partition}"] = max(0, high - position)

    async def _dead_letter(self, rec: ConsumerRecord, reason: str) -> None:
        assert self._producer is not None
        await dead_letter(
            self._producer,
            self.settings.deadletter_topic,
            consumer=f"projection.{PROJECTOR}",
            topic=rec.topic,
            partition=rec.partition,
            offset=rec.offset,
            key=rec.key,
            value=rec.value,
            headers=rec.headers,
            reason=reason,
        )


async def run_projector(settings: Settings, stop: asyncio.Event) -> None:
    """Project until `stop` is set (`konkurs projector`)."""
    pool = await create_pool(settings, max_size=4)
    try:
        await ReadsideProjector(settings, pool).run(stop)
    finally:
        await pool.close()
