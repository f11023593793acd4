"""Intake's own tables in PostgreSQL (migrations/): the ports of `konkurs_intake.app.ports`.

Every statement runs on the connection it is given, so the caller decides the transaction:
an index row commits with the append it describes, a registration number with the
submission that drew it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from konkurs_intake.app.ports import CallListing, Drawn, IndexedApplication, IndexEntry
from konkurs_intake.domain.applications import Document
from konkurs_intake.domain.calls import AnnouncedCall, ClosedCall
from konkurs_platform.db import Connection, check_schema_name


class PostgresCallIndex:
    """`calls_index`: the list behind GET /v1/calls."""

    def __init__(self, schema: str) -> None:
        s = check_schema_name(schema)
        self._record_sql = f"""
            INSERT INTO {s}.calls_index (call_id, version, opens_at, closes_at, closed)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (call_id) DO UPDATE SET version = excluded.version,
                opens_at = excluded.opens_at, closes_at = excluded.closes_at,
                closed = excluded.closed"""
        self._listing_sql = (
            "SELECT call_id, version, opens_at, closes_at, closed "
            f"FROM {s}.calls_index ORDER BY opens_at DESC, call_id"
        )

    async def record(
        self, conn: Connection, call: AnnouncedCall | ClosedCall, version: int
    ) -> None:
        await conn.execute(
            self._record_sql,
            call.call_id,
            version,
            call.definition.opens_at,
            call.definition.closes_at,
            isinstance(call, ClosedCall),
        )

    async def listing(self, conn: Connection) -> Sequence[CallListing]:
        return [CallListing(**dict(row)) for row in await conn.fetch(self._listing_sql)]


class PostgresApplicationIndex:
    """`applications_index`: region, coordinator and call of each application."""

    def __init__(self, schema: str) -> None:
        s = check_schema_name(schema)
        # One statement for any number of entries (a bulk chunk's too): arrays, unnested.
        self._record_sql = f"""
            INSERT INTO {s}.applications_index (application_id, call_id, region_code,
                coordinator_bin, registration_number, status, version, submitted_at)
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                $6::text[], $7::bigint[], $8::timestamptz[])
            ON CONFLICT (application_id) DO UPDATE SET status = excluded.status,
                version = excluded.version"""
        self._find_sql = (
            "SELECT call_id, region_code, coordinator_bin "
            f"FROM {s}.applications_index WHERE application_id = $1"
        )

    async def record(self, conn: Connection, entries: Sequence[IndexEntry]) -> None:
        if not entries:
            return
        apps = [e.application for e in entries]
        await conn.execute(
            self._record_sql,
            [uuid.UUID(a.application_id) for a in apps],
            [a.call_id for a in apps],
            [a.content.cluster.region_code for a in apps],
            [a.content.coordinator.bin for a in apps],
            [a.registration_number for a in apps],
            [a.status.value for a in apps],
            [e.version for e in entries],
            [e.submitted_at for e in entries],
        )

    async def find(self, conn: Connection, application_id: str) -> IndexedApplication | None:
        try:
            key = uuid.UUID(application_id)
        except ValueError:
            return None
        row = await conn.fetchrow(self._find_sql, key)
        return None if row is None else IndexedApplication(**dict(row))


class PostgresRegistrationCounters:
    """`registration_counters`: the last number drawn per call and region."""

    def __init__(self, schema: str) -> None:
        s = check_schema_name(schema)
        # INSERT .. ON CONFLICT DO UPDATE locks the row until commit: two submissions of one
        # region queue here rather than both drawing the same number. The call's version
        # rides along, so confirming the call a submission was decided on costs no round
        # trip of its own.
        self._draw_sql = f"""
            INSERT INTO {s}.registration_counters AS c (call_id, region_code, last_number)
            VALUES ($1, $2, $3)
            ON CONFLICT (call_id, region_code) DO UPDATE SET last_number = c.last_number + $3
            RETURNING last_number,
                (SELECT coalesce(max(version), 0) FROM {s}.events WHERE stream_id = $4)"""

    async def draw(
        self, conn: Connection, call_id: str, call_stream: str, region_code: str, count: int
    ) -> Drawn:
        row = await conn.fetchrow(self._draw_sql, call_id, region_code, count, call_stream)
        assert row is not None  # INSERT .. ON CONFLICT DO UPDATE always returns its row
        return Drawn(int(row[0]), int(row[1]))


class PostgresDocumentStore:
    """`documents`: the bytes of filed documents under their SHA-256."""

    def __init__(self, schema: str) -> None:
        s = check_schema_name(schema)
        self._put_sql = f"""
            INSERT INTO {s}.documents (sha256, media_type, size_bytes, content)
            VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING"""
        self._get_sql = f"SELECT media_type, content FROM {s}.documents WHERE sha256 = $1"

    async def put(self, conn: Connection, document: Document, content: bytes) -> None:
        await conn.execute(
            self._put_sql, document.sha256, document.media_type, document.size_bytes, content
        )

    async def get(self, conn: Connection, sha256: str) -> tuple[str, bytes] | None:
        row = await conn.fetchrow(self._get_sql, sha256)
        return None if row is None else (row["media_type"], bytes(row["content"]))
