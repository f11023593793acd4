"""The ranking's SQL: a lock per call that serialises its ranking decisions."""

from __future__ import annotations

from konkurs_platform.db import Connection, check_schema_name

# The first key of the two-key advisory lock (the second is `hashtext(call stream)`); the
# two-key form keeps it apart from the platform's one-key locks.
RANKING_LOCK = 0x6B72616E


class PostgresRankingLock:
    """`app.ports_s2.RankingLock` as a transaction-scoped advisory lock."""

    def __init__(self, schema: str) -> None:
        s = check_schema_name(schema)
        self._sql = f"SELECT pg_advisory_xact_lock({RANKING_LOCK}, hashtext('{s}/' || $1))"

    async def hold(self, conn: Connection, call_id: str) -> None:
        await conn.execute(self._sql, call_id)
