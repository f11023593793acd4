"""The `calls` read model: one row per call.

Idempotent per event: a row remembers the stream version it reflects, and an event at or
below it (a duplicate the relay published twice) changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

from konkurs.intake.v1 import call_pb2, events_pb2
from konkurs_platform.db import Connection
from konkurs_platform.envelope import Envelope
from konkurs_readside.storable import decode_storable

CALL_ANNOUNCED = events_pb2.CallAnnounced.DESCRIPTOR.full_name
CALL_AMENDED = events_pb2.CallAmended.DESCRIPTOR.full_name
CALL_CLOSED = events_pb2.CallClosed.DESCRIPTOR.full_name


async def on_call_announced(conn: Connection, schema: str, e: Envelope) -> None:
    msg = decode_storable(events_pb2.CallAnnounced, e.payload)
    await _upsert(conn, schema, e, msg.call_id, msg.call, "announced")


async def on_call_amended(conn: Connection, schema: str, e: Envelope) -> None:
    msg = decode_storable(events_pb2.CallAmended, e.payload)
    await _upsert(conn, schema, e, msg.call_id, msg.call, "announced")


async def on_call_closed(conn: Connection, schema: str, e: Envelope) -> None:
    msg = decode_storable(events_pb2.CallClosed, e.payload)
    await conn.execute(
        f"""UPDATE {schema}.calls
            SET status = 'closed', closed_at = $2, stream_version = $3, last_event_id = $4
            WHERE call_id = $1 AND stream_version < $3""",
        msg.call_id,
        msg.closed_at.ToDatetime(tzinfo=UTC),
        e.stream_version,
        e.event_id,
    )


async def _upsert(
    conn: Connection,
    schema: str,
    e: Envelope,
    call_id: str,
    c: call_pb2.CallDefinition,
    status: str,
) -> None:
    await conn.execute(
        f"""INSERT INTO {schema}.calls (call_id, stream_version, title_ru, title_kk, title_en,
                programme, opens_at, closes_at, time_zone, quota, region_set, regions, status,
                announced_at, last_event_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
            ON CONFLICT (call_id) DO UPDATE SET
                stream_version = excluded.stream_version, title_ru = excluded.title_ru,
                title_kk = excluded.title_kk, title_en = excluded.title_en,
                programme = excluded.programme, opens_at = excluded.opens_at,
                closes_at = excluded.closes_at, time_zone = excluded.time_zone,
                quota = excluded.quota, region_set = excluded.region_set,
                regions = excluded.regions, last_event_id = excluded.last_event_id
            WHERE {schema}.calls.stream_version < excluded.stream_version""",
        call_id,
        e.stream_version,
        c.title.ru,
        c.title.kk,
        c.title.en,
        c.programme,
        c.opens_at.ToDatetime(tzinfo=UTC),
        c.closes_at.ToDatetime(tzinfo=UTC),
        c.time_zone,
        c.quota,
        c.region_set,
        list(c.accepted_region_codes),
        status,
        e.occurred_at,
        e.event_id,
    )


EVENT_TYPES = frozenset({CALL_ANNOUNCED, CALL_AMENDED, CALL_CLOSED})
TABLES = ("calls",)

_HANDLERS = {
    CALL_ANNOUNCED: on_call_announced,
    CALL_AMENDED: on_call_amended,
    CALL_CLOSED: on_call_closed,
}


async def apply_batch(conn: Connection, schema: str, events: Sequence[Envelope]) -> None:
    """Apply call events one by one: calls change rarely, batching would not pay."""
    for e in events:
        await _HANDLERS[e.event_type](conn, schema, e)
