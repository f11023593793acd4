"""Rebuilding read models from offset 0 and swapping them in atomically.

`rebuild` migrates a fresh schema `<schema>_rebuild_<id>`, replays every event topic into it
from the beginning with the projector's own `project` function, and then moves the rebuilt
tables into the live schema in one transaction (the old ones move out and are dropped).

Where the rebuild stops, and why the live projector can simply go on afterwards: the live
read models and the audit log share one set of stored offsets (`positions.PROJECTOR`), so a
rebuilt table must reflect exactly the live position, neither less (events would be missing)
nor more (the live projector would apply them again). The rebuild therefore follows the live
offsets instead of the topics' ends: it replays up to the offsets the live projector has
stored, and for the swap it takes `projection_offsets` in EXCLUSIVE mode (the live projector's
transactions lock their offset rows first thing, so it pauses there, holding nothing else),
replays the last few events up to the now frozen offsets, and swaps. The offsets stay as they
are, and the live projector resumes with the next event on the swapped-in tables.

Only read models are rebuilt. The audit log keeps the exact bytes it received and its chain
is the legal record: a rebuild could only reproduce it, never improve it (see `audit`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from konkurs_platform.db import (
    Access,
    Connection,
    check_schema_name,
    create_pool,
    migrate,
    migrations_for,
)
from konkurs_platform.envelope import Envelope
from konkurs_platform.kafka import make_consumer
from konkurs_platform.projection import UNAVAILABLE, decode_all
from konkurs_platform.settings import Settings
from konkurs_readside.positions import event_partitions, stored_offsets
from konkurs_readside.projections import PROJECTIONS, Projection
from konkurs_readside.projector import SCHEMA, project
from konkurs_readside.spec import SPEC
from konkurs_readside.storable import storable_envelope

log = logging.getLogger(__name__)

# Replay without the offset lock while more than this many events remain; the rest is
# replayed while the live projector waits, which should take well under a second.
SWAP_MARGIN = 2000
# Events a batch of the replay gathers before the read models apply it.
BATCH = 10_000

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RebuildReport:
    """What a rebuild did: which read models, how many events, how long."""

    projections: tuple[str, ...]
    events: int
    skipped_unapplicable: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def select_projections(names: Sequence[str] | None) -> list[Projection]:
    """The projections called `names` (all of them when None); unknown names are an error."""
    if not names:
        return list(PROJECTIONS.values())
    unknown = [n for n in names if n not in PROJECTIONS]
    if unknown:
        raise ValueError(
            f"unknown projection(s) {', '.join(unknown)}; known: {', '.join(PROJECTIONS)}"
        )
    return [PROJECTIONS[n] for n in names]


class _Replay:
    """A group-less consumer on every event partition, applying into the rebuild schema.

    Fast where the live projector cannot be: the rebuild schema is private until the swap, so
    a batch need not be atomic across read models, and each read model writes its share of a
    large batch on a connection of its own, concurrently with the others (read models are
    independent: each reads only its own tables, which a rebuild of one of them needs
    anyway). An event one read model cannot apply must stay out of every read model, as it
    does live: a batch in which any read model fails is rolled back everywhere and replayed
    the live way, event by event (`project`).
    """

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        writers: asyncpg.Pool,
        target: str,
        projections: Sequence[Projection],
        begin: dict[TopicPartition, int],
        progress: Progress | None,
    ) -> None:
        self.consumer = consumer
        self.writers = writers
        self.target = target
        self.projections = projections
        self.begin = begin
        self.positions = dict(begin)
        self.progress = progress
        self.events = 0
        self.unapplicable = 0

    def remaining(self, targets: dict[TopicPartition, int]) -> int:
        return sum(max(0, targets.get(tp, 0) - self.positions[tp]) for tp in self.positions)

    def report(self, targets: dict[TopicPartition, int]) -> None:
        if self.progress is not None:
            total = sum(max(0, targets.get(tp, 0) - b) for tp, b in self.begin.items())
            self.progress(total - self.remaining(targets), total)

    async def _skip(self, rec: ConsumerRecord, reason: str) -> None:
        # The live projector parked this event already; parking it again would only
        # duplicate the dead-letter record.
        self.unapplicable += 1
        log.debug("rebuild skips an event the read models cannot apply: %s", reason)

    async def _poll(self, targets: dict[TopicPartition, int]) -> list[ConsumerRecord]:
        """The next records below `targets`, up to `BATCH` of them: several polls' worth,
        since a poll returns what one fetch brought (a few dozen records a partition), and
        every batch costs the read models a few round trips whatever its size."""
        batch: list[ConsumerRecord] = []
        while len(batch) < BATCH and self.remaining(targets) > 0:
            polled = await self.consumer.getmany(timeout_ms=500, max_records=BATCH - len(batch))
            for tp, records in sorted(polled.items()):
                stop = targets.get(tp, 0)
                wanted = [r for r in records if r.offset < stop]
                if len(wanted) < len(records):
                    # Fetched past the live position: leave those to a later round (or to the
                    # live projector after the swap).
                    self.consumer.seek(tp, stop)
                batch.extend(wanted)
                if records:
                    self.positions[tp] = min(stop, records[-1].offset + 1)
            for tp in self.positions:
                if not polled.get(tp) and self.positions[tp] < targets.get(tp, 0):
                    # Offsets need not be contiguous (transaction markers): trust the consumer.
                    position = await self.consumer.position(tp)
                    self.positions[tp] = max(self.positions[tp], min(position, targets[tp]))
            if not polled:
                break
        return batch

    async def _apply_concurrently(self, envelopes: Sequence[Envelope]) -> bool:
        """Each read model's events of `envelopes` in a transaction of its own, all at once;
        committed only if every read model applied its share (True), else rolled back."""
        shares = [
            (p, [e for e in envelopes if e.event_type in p.event_types]) for p in self.projections
        ]
        async with contextlib.AsyncExitStack() as stack:
            work = []
            for p, events in shares:
                if events:
                    conn = await stack.enter_async_context(self.writers.acquire())
                    transaction = conn.transaction()
                    await transaction.start()
                    work.append((transaction, conn, p, events))
            # An exception past here releases the connections mid-transaction, and the pool
            # rolls them back.
            results = await asyncio.gather(
                *(p.apply(conn, self.target, events) for _, conn, p, events in work),
                return_exceptions=True,
            )
            for r in results:
                if isinstance(r, UNAVAILABLE):
                    raise r
            refused = any(isinstance(r, BaseException) for r in results)
            for transaction, *_ in work:
                await (transaction.rollback() if refused else transaction.commit())
        return not refused

    async def until(self, conn: Connection, targets: dict[TopicPartition, int]) -> None:
        """Replay every partition up to (not including) its offset in `targets`."""
        while self.remaining(targets) > 0:
            batch = await self._poll(targets)
            if batch:
                decoded = await decode_all(batch, self._skip)
                if not await self._apply_concurrently(
                    [storable_envelope(envelope) for _, envelope in decoded]
                ):
                    log.info("a read model refused an event of the batch; replaying it live")
                    async with conn.transaction():
                        await project(
                            conn,
                            self.target,
                            [rec for rec, _ in decoded],
                            self.projections,
                            dead_letter=self._skip,
                            with_audit=False,
                        )
                self.events += len(batch)
            self.report(targets)


async def rebuild(
    settings: Settings,
    pool: asyncpg.Pool,
    *,
    names: Sequence[str] | None = None,
    schema: str = SCHEMA,
    progress: Progress | None = None,
) -> RebuildReport:
    """Rebuild the read models `names` (all when None) of `schema` and swap them in."""
    check_schema_name(schema)
    projections = select_projections(names)
    started = time.monotonic()
    suffix = uuid.uuid4().hex[:8]
    target = check_schema_name(f"{schema}_rebuild_{suffix}")
    retired = check_schema_name(f"{schema}_old_{suffix}")
    partitions = await event_partitions(settings)
    async with pool.acquire() as conn:
        await migrate(conn, target, migrations_for(SPEC), Access.of(SPEC))
    # No group: the replay must not join (and rebalance) the live projector's group.
    consumer = make_consumer(settings, group_id=None, max_poll_records=BATCH)
    # One connection per read model, so that they write concurrently (see `_Replay`).
    writers = await create_pool(settings, max_size=len(projections))
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        begin = {tp: await consumer.position(tp) for tp in partitions}
        replay = _Replay(consumer, writers, target, projections, begin, progress)
        async with pool.acquire() as conn:
            while True:
                targets = await stored_offsets(conn, schema)
                if replay.remaining(targets) <= SWAP_MARGIN:
                    break
                await replay.until(conn, targets)
            async with conn.transaction():
                await conn.execute(f"LOCK TABLE {schema}.projection_offsets IN EXCLUSIVE MODE")
                targets = await stored_offsets(conn, schema)
                await replay.until(conn, targets)
                await conn.execute(f"CREATE SCHEMA {retired}")
                for p in projections:
                    for table in p.tables:
                        await conn.execute(f"ALTER TABLE {schema}.{table} SET SCHEMA {retired}")
                        await conn.execute(f"ALTER TABLE {target}.{table} SET SCHEMA {schema}")
            await conn.execute(f"DROP SCHEMA {retired} CASCADE")
    finally:
        await consumer.stop()
        await writers.close()
        async with pool.acquire() as conn:
            await conn.execute(f"DROP SCHEMA IF EXISTS {target} CASCADE")
    seconds = time.monotonic() - started
    log.info(
        "read models rebuilt",
        extra={"projections": [p.name for p in projections], "events": replay.events},
    )
    return RebuildReport(
        tuple(p.name for p in projections), replay.events, replay.unapplicable, seconds
    )
