"""Scoring's copies of the calls, in its `calls` table."""

from __future__ import annotations

import json

from konkurs_platform.db import Connection, check_schema_name
from konkurs_scoring.adapters.intake_events import definition_terms
from konkurs_scoring.domain.calls import CallClosing, CallTerms, KnownCall


class PostgresCallBook:
    """`app.calls.CallBook` in PostgreSQL."""

    def __init__(self, schema: str) -> None:
        s = check_schema_name(schema)
        # The stream version guards against an older definition replacing a newer one
        # (events of one call arrive in order, but a replay may bring an old one again).
        self._keep_sql = f"""
            INSERT INTO {s}.calls
                (call_id, stream_version, closes_at, quota, definition, methodology)
            VALUES ($1, $2, $3, $4, $5, $6::jsonb)
            ON CONFLICT (call_id) DO UPDATE SET
                stream_version = excluded.stream_version, closes_at = excluded.closes_at,
                quota = excluded.quota, definition = excluded.definition,
                methodology = excluded.methodology, updated_at = now()
            WHERE {s}.calls.stream_version < excluded.stream_version"""
        self._close_sql = (
            f"UPDATE {s}.calls SET closed_at = $2, updated_at = now() WHERE call_id = $1"
        )
        self._find_sql = (
            "SELECT call_id, stream_version, closes_at, quota, definition, methodology, "
            f"closed_at FROM {s}.calls WHERE call_id = $1"
        )

    async def keep(self, conn: Connection, terms: CallTerms) -> None:
        await conn.execute(
            self._keep_sql,
            terms.call_id,
            terms.version,
            terms.closes_at,
            terms.quota,
            terms.definition,
            json.dumps(terms.methodology, ensure_ascii=False),
        )

    async def close(self, conn: Connection, closing: CallClosing) -> None:
        await conn.execute(self._close_sql, closing.call_id, closing.closed_at)

    async def find(self, conn: Connection, call_id: str) -> KnownCall | None:
        row = await conn.fetchrow(self._find_sql, call_id)
        if row is None:
            return None
        # Read from the definition as intake encoded it, so that every term (eligibility,
        # regions, the methodology's newer fields) comes with its defaults for older calls.
        terms = definition_terms(row["call_id"], row["stream_version"], bytes(row["definition"]))
        return KnownCall(terms, row["closed_at"])
