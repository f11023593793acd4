"""The outbox relay: publishes a service's appended events to Kafka, in order, at least once.

One relay per service schema is active at a time (a PostgreSQL advisory lock elects it), so
per-stream order is the order of the outbox: positions of one stream grow with its versions,
because version n+1 can only be appended after version n committed. The relay sends a batch
in position order with an idempotent producer keyed by stream id (one partition per stream),
waits for every acknowledgement, and only then deletes the rows. A crash between the two
publishes the batch again: consumers deduplicate by event id.

Waking: a busy relay reads the outbox again after every batch, so appends do not notify it
(notifying commits are serialised by PostgreSQL). When a read finds nothing, the relay
takes `RELAY_IDLE_LOCK` before it sleeps; the lock waits for every append that saw the relay
busy (and so did not notify) to commit, the relay looks once more, and from then on every
append notifies until the relay releases the lock to publish again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaProducer

from konkurs_platform.db import check_schema_name
from konkurs_platform.envelope import HEADER_CORRELATION_ID, HEADER_EVENT_ID, HEADER_EVENT_TYPE
from konkurs_platform.eventstore import RELAY_IDLE_LOCK
from konkurs_platform.kafka import make_producer
from konkurs_platform.settings import Settings
from konkurs_platform.waiting import sleep_or_stop, wait_any

log = logging.getLogger(__name__)


@dataclass
class RelayStats:
    published: int = 0
    batches: int = 0
    failures: int = 0


class OutboxRelay:
    """Moves rows from `<schema>.outbox` to Kafka until `stop` is set."""

    def __init__(
        self,
        settings: Settings,
        schema: str,
        *,
        batch_size: int = 2000,
        idle_timeout: float = 5.0,
        max_backoff: float = 5.0,
    ) -> None:
        self.settings = settings
        self.schema = check_schema_name(schema)
        self.batch_size = batch_size
        # Notifications wake the relay; the timeout only covers a notification lost while
        # the listening connection was being re-established.
        self.idle_timeout = idle_timeout
        self.max_backoff = max_backoff
        self.stats = RelayStats()
        self._wake = asyncio.Event()
        s = self.schema
        self._batch_sql = f"""
            SELECT o.position, o.topic, e.stream_id, e.event_type, e.event_id,
                   e.correlation_id, e.envelope
            FROM {s}.outbox o JOIN {s}.events e ON e.position = o.position
            ORDER BY o.position
            LIMIT $1"""
        self._delete_sql = f"DELETE FROM {s}.outbox WHERE position = ANY($1::bigint[])"
        self._lock_sql = "SELECT pg_try_advisory_lock(hashtext($1))"
        self._idle_sql = f"SELECT pg_advisory_lock({RELAY_IDLE_LOCK}, hashtext('{s}'))"
        self._busy_sql = f"SELECT pg_advisory_unlock({RELAY_IDLE_LOCK}, hashtext('{s}'))"
        self._lock_key = f"konkurs.relay.{s}"

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set; reconnects to PostgreSQL and Kafka on failure."""
        backoff = 0.2
        while not stop.is_set():
            try:
                await self._lead(stop)
                backoff = 0.2
            except Exception as exc:
                # PostgreSQL away, or anything unexpected: the outbox still holds every row
                # not yet acknowledged, so starting over is always safe.
                self.stats.failures += 1
                log.warning("relay failed, starting over", extra={"error": repr(exc)})
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, self.max_backoff)

    async def _lead(self, stop: asyncio.Event) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(self.settings.dsn)
        try:
            while not await conn.fetchval(self._lock_sql, self._lock_key):
                log.info("another relay is active for this schema; standing by")
                if await sleep_or_stop(stop, self.idle_timeout):
                    return
            await conn.add_listener(f"{self.schema}_outbox", self._on_notify)
            log.info("relay active", extra={"schema": self.schema})
            await self._relay(conn, stop)
        finally:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _relay(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        producer: AIOKafkaProducer | None = None
        backoff = 0.2
        idle = False  # holding the idle lock: appends notify
        try:
            while not stop.is_set():
                # Clear before reading, so a notification arriving during the read is kept.
                self._wake.clear()
                rows = await conn.fetch(self._batch_sql, self.batch_size)
                if not rows:
                    if idle:
                        await wait_any(stop, self._wake, self.idle_timeout)
                    else:
                        # Waits for the appends that found us busy to commit; the next read
                        # sees their rows, and appends after it notify.
                        await conn.execute(self._idle_sql)
                        idle = True
                    continue
                if idle:
                    # Busy again: appends from here on rely on the read after this batch.
                    await conn.execute(self._busy_sql)
                    idle = False
                try:
                    if producer is None:
                        producer = make_producer(self.settings)
                        await producer.start()
                    await self._publish(producer, rows)
                    backoff = 0.2
                except Exception as exc:
                    # Broker unreachable, timed out or fenced: drop the producer (its
                    # sequence state may be unusable) and publish the same batch again.
                    self.stats.failures += 1
                    log.warning("relay could not publish, retrying", extra={"error": repr(exc)})
                    if producer is not None:
                        with contextlib.suppress(Exception):
                            await producer.stop()
                        producer = None
                    await sleep_or_stop(stop, backoff)
                    backoff = min(backoff * 2, self.max_backoff)
                    continue
                await conn.execute(self._delete_sql, [r["position"] for r in rows])
                self.stats.published += len(rows)
                self.stats.batches += 1
        finally:
            if producer is not None:
                with contextlib.suppress(Exception):
                    await producer.stop()

    async def _publish(self, producer: AIOKafkaProducer, rows: list[asyncpg.Record]) -> None:
        futures = []
        for r in rows:
            headers = [
                (HEADER_EVENT_TYPE, r["event_type"].encode()),
                (HEADER_EVENT_ID, str(r["event_id"]).encode()),
                (HEADER_CORRELATION_ID, r["correlation_id"].encode()),
            ]
            # send() only enqueues; sends of one partition keep this order.
            futures.append(
                await producer.send(
                    r["topic"], value=r["envelope"], key=r["stream_id"].encode(), headers=headers
                )
            )
        await asyncio.gather(*futures)
