"""Scoring's reaction to intake's call events: keep the call's methodology.

Scoring evaluates applications by the call's published methodology, and learns it from the
events alone (it never calls intake). The stream version guards against applying an older
definition over a newer one; the inbox guards against a redelivery.
"""

from __future__ import annotations

import json
from datetime import UTC

import asyncpg
from google.protobuf.json_format import MessageToDict

from konkurs.intake.v1 import events_pb2
from konkurs_platform.envelope import Envelope

CALL_ANNOUNCED = events_pb2.CallAnnounced.DESCRIPTOR.full_name
CALL_AMENDED = events_pb2.CallAmended.DESCRIPTOR.full_name
CALL_CLOSED = events_pb2.CallClosed.DESCRIPTOR.full_name


async def on_call_defined(conn: asyncpg.Connection, envelope: Envelope, schema: str) -> None:
    """CallAnnounced or CallAmended: store (or replace) the call's definition."""
    cls = (
        events_pb2.CallAnnounced
        if envelope.event_type == CALL_ANNOUNCED
        else events_pb2.CallAmended
    )
    event = cls.FromString(envelope.payload)
    call = event.call
    methodology = MessageToDict(call.methodology, preserving_proto_field_name=True)
    await conn.execute(
        f"""INSERT INTO {schema}.calls
                (call_id, stream_version, closes_at, quota, definition, methodology)
            VALUES ($1, $2, $3, $4, $5, $6::jsonb)
            ON CONFLICT (call_id) DO UPDATE SET
                stream_version = excluded.stream_version, closes_at = excluded.closes_at,
                quota = excluded.quota, definition = excluded.definition,
                methodology = excluded.methodology, updated_at = now()
            WHERE {schema}.calls.stream_version < excluded.stream_version""",
        event.call_id,
        envelope.stream_version,
        call.closes_at.ToDatetime(tzinfo=UTC),
        call.quota,
        call.SerializeToString(deterministic=True),
        json.dumps(methodology, ensure_ascii=False),
    )


async def on_call_closed(conn: asyncpg.Connection, envelope: Envelope, schema: str) -> None:
    """CallClosed: evaluation of the call's applications can begin."""
    event = events_pb2.CallClosed.FromString(envelope.payload)
    await conn.execute(
        f"UPDATE {schema}.calls SET closed_at = $2, updated_at = now() WHERE call_id = $1",
        event.call_id,
        event.closed_at.ToDatetime(tzinfo=UTC),
    )
