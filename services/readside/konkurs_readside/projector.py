"""The readside projector: every service's events into the read models and the audit log,
exactly once.

It is the platform's `Projector` (offsets stored with the rows, one transaction per poll)
with a batch function of its own: every read model gets the poll's events in one call (a
read model folds them and writes each table once), and every event whose envelope decodes
is appended to the audit log, with the exact bytes received from Kafka.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
from aiokafka.structs import ConsumerRecord

from konkurs_platform.db import Connection, create_pool
from konkurs_platform.projection import (
    DeadLetter,
    Projector,
    apply_with_fallback,
    decode_all,
)
from konkurs_platform.settings import Settings
from konkurs_readside import audit
from konkurs_readside.positions import PROJECTOR, event_topics
from konkurs_readside.projections import PROJECTIONS, Projection
from konkurs_readside.storable import storable_envelope

SCHEMA = "readside"


async def project(
    conn: Connection,
    schema: str,
    records: Sequence[ConsumerRecord],
    projections: Sequence[Projection],
    *,
    dead_letter: DeadLetter,
    with_audit: bool,
) -> int:
    """Apply `records` (in consumption order, none applied before) inside the caller's
    transaction; returns how many the read models applied.

    Every event whose envelope decodes enters the audit log, applicable or not: the log
    records what was published, not what the read models made of it.
    """
    decoded = await decode_all(records, dead_letter)
    received = [
        (rec, audit.Received(rec.value, envelope, rec.topic, rec.partition, rec.offset))
        for rec, envelope in decoded
    ]

    async def apply(conn: Connection, batch: Sequence[audit.Received]) -> None:
        # The read models get envelopes they can store (see `storable`); the audit log keeps
        # the exact bytes.
        envelopes = [storable_envelope(r.envelope) for r in batch]
        for p in projections:
            events = [e for e in envelopes if e.event_type in p.event_types]
            if events:
                await p.apply(conn, schema, events)

    applied = await apply_with_fallback(conn, received, apply, dead_letter)
    if with_audit:
        await audit.append(conn, schema, [r for _, r in received])
    return applied


def create_projector(
    settings: Settings,
    pool: asyncpg.Pool,
    *,
    schema: str = SCHEMA,
    group_id: str | None = None,
    max_records: int = 2000,
) -> Projector:
    """The live projector of `schema`: every event topic, every read model, the audit log."""
    projections = list(PROJECTIONS.values())

    async def apply(
        conn: Connection, records: Sequence[ConsumerRecord], dead_letter: DeadLetter
    ) -> int:
        return await project(
            conn, schema, records, projections, dead_letter=dead_letter, with_audit=True
        )

    return Projector(
        settings,
        pool,
        schema=schema,
        name=PROJECTOR,
        topics=event_topics(settings),
        apply=apply,
        group_id=group_id,
        max_records=max_records,
    )


async def run_projector(settings: Settings, stop: asyncio.Event) -> None:
    """Project until `stop` is set (`konkurs projector`)."""
    pool = await create_pool(settings, max_size=4)
    try:
        await create_projector(settings, pool).run(stop)
    finally:
        await pool.close()
