"""Each application's screening result as it holds, in scoring's `screening` table."""

from __future__ import annotations

from collections.abc import Mapping

from konkurs_platform.db import Connection, check_schema_name
from konkurs_scoring.domain.screening import Screening


class PostgresScreeningBook:
    """`app.ports.ScreeningBook` in PostgreSQL."""

    def __init__(self, schema: str) -> None:
        s = check_schema_name(schema)
        self._record_sql = f"""
            INSERT INTO {s}.screening
                (application_id, call_id, stream_version, application_version, eligible,
                 overridden)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (application_id) DO UPDATE SET
                stream_version = excluded.stream_version,
                application_version = excluded.application_version,
                eligible = excluded.eligible, overridden = excluded.overridden
            WHERE {s}.screening.stream_version < excluded.stream_version"""
        self._eligible_sql = f"""
            SELECT a.application_id FROM {s}.applications a
            JOIN {s}.screening r USING (application_id)
            WHERE a.call_id = $1 AND r.eligible AND NOT a.withdrawn
            ORDER BY a.registration_number, a.application_id"""
        self._settled_sql = f"""
            SELECT c.closed_at IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM {s}.applications a
                LEFT JOIN {s}.screening r USING (application_id)
                WHERE a.call_id = c.call_id AND NOT a.withdrawn
                  AND (r.application_id IS NULL OR r.application_version < a.stream_version))
            FROM {s}.calls c WHERE c.call_id = $1"""
        self._of_call_sql = f"""
            SELECT a.application_id, a.registration_number, a.region_code, a.withdrawn,
                   r.eligible, r.overridden, r.stream_version AS screening_version
            FROM {s}.applications a LEFT JOIN {s}.screening r USING (application_id)
            WHERE a.call_id = $1 ORDER BY a.registration_number, a.application_id"""

    async def record(self, conn: Connection, screening: Screening) -> None:
        assert screening.eligible is not None
        await conn.execute(
            self._record_sql,
            screening.application_id,
            screening.call_id,
            screening.version,
            screening.application_version,
            screening.eligible,
            screening.overridden,
        )

    async def eligible(self, conn: Connection, call_id: str) -> list[str]:
        return [r[0] for r in await conn.fetch(self._eligible_sql, call_id)]

    async def is_settled(self, conn: Connection, call_id: str) -> bool:
        return bool(await conn.fetchval(self._settled_sql, call_id))

    async def of_call(self, conn: Connection, call_id: str) -> list[Mapping[str, object]]:
        return [dict(r) for r in await conn.fetch(self._of_call_sql, call_id)]
