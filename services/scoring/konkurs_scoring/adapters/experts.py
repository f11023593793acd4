"""The expert registry as it stands, in scoring's `experts` table (no names)."""

from __future__ import annotations

from typing import Any

from konkurs_platform.db import Connection, check_schema_name
from konkurs_scoring.domain.experts import Expert, ExpertCard, ExpertState


class PostgresExpertBook:
    """`app.ports.ExpertBook` in PostgreSQL."""

    def __init__(self, schema: str) -> None:
        s = check_schema_name(schema)
        self._record_sql = f"""
            INSERT INTO {s}.experts (expert_id, stream_version, affiliation_bins, region_codes,
                                     oked_sections, languages, active)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (expert_id) DO UPDATE SET
                stream_version = excluded.stream_version,
                affiliation_bins = excluded.affiliation_bins,
                region_codes = excluded.region_codes, oked_sections = excluded.oked_sections,
                languages = excluded.languages, active = excluded.active
            WHERE {s}.experts.stream_version < excluded.stream_version"""
        columns = "expert_id, affiliation_bins, region_codes, oked_sections, languages, active"
        self._cards_sql = f"SELECT {columns} FROM {s}.experts ORDER BY expert_id"
        self._card_sql = f"SELECT {columns} FROM {s}.experts WHERE expert_id = $1"

    async def record(self, conn: Connection, state: ExpertState, version: int) -> None:
        assert isinstance(state, Expert)
        p = state.profile
        await conn.execute(
            self._record_sql,
            state.expert_id,
            version,
            list(p.affiliation_bins),
            list(p.region_codes),
            list(p.oked_sections),
            list(p.languages),
            state.active,
        )

    async def cards(self, conn: Connection) -> list[ExpertCard]:
        return [_card(r) for r in await conn.fetch(self._cards_sql)]

    async def card(self, conn: Connection, expert_id: str) -> ExpertCard | None:
        row = await conn.fetchrow(self._card_sql, expert_id)
        return None if row is None else _card(row)

    async def listing(self, conn: Connection) -> list[dict[str, Any]]:
        """Every expert as the registry lists them (no names), by id."""
        return [dict(r) for r in await conn.fetch(self._cards_sql)]


def _card(row: Any) -> ExpertCard:
    return ExpertCard(
        row["expert_id"],
        frozenset(row["affiliation_bins"]),
        frozenset(row["region_codes"]),
        frozenset(row["oked_sections"]),
        row["active"],
    )
