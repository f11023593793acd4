"""Every assignment, now and before, in scoring's `assignments` table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from konkurs_platform.db import Connection, check_schema_name
from konkurs_scoring.domain.assignment import Assignment, Panel


class PostgresAssignmentBook:
    """`app.ports.AssignmentBook` in PostgreSQL."""

    def __init__(self, schema: str) -> None:
        s = check_schema_name(schema)
        # The whole panel is written after each append, in its transaction: a row is the
        # assignment as the stream says now.
        self._record_sql = f"""
            INSERT INTO {s}.assignments (application_id, expert_id, call_id, assigned_at,
                                         due_at, declared, active, overdue, completed)
            SELECT $1, m.expert_id, $2, m.assigned_at, m.due_at, m.declared, m.active, m.overdue,
                   m.completed
            FROM unnest($3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[],
                        $7::bool[], $8::bool[], $9::bool[])
                AS m(expert_id, assigned_at, due_at, declared, active, overdue, completed)
            ON CONFLICT (application_id, expert_id) DO UPDATE SET
                assigned_at = excluded.assigned_at, due_at = excluded.due_at,
                declared = excluded.declared, active = excluded.active,
                overdue = excluded.overdue, completed = excluded.completed"""
        self._of_application_sql = f"""
            SELECT expert_id, assigned_at, declared, due_at, active, overdue, completed
            FROM {s}.assignments WHERE application_id = $1 ORDER BY expert_id"""
        self._loads_sql = f"""
            SELECT expert_id, count(*) AS n FROM {s}.assignments
            WHERE call_id = $1 AND active GROUP BY expert_id"""
        self._worklist_sql = f"""
            SELECT x.application_id, x.call_id, x.assigned_at, x.due_at, x.declared, x.overdue,
                   x.completed
            FROM {s}.assignments x
            WHERE x.expert_id = $1 AND x.active ORDER BY x.due_at, x.application_id"""

    async def record(self, conn: Connection, panel: Panel) -> None:
        members = sorted(panel.members.values(), key=lambda a: a.expert_id)
        await conn.execute(
            self._record_sql,
            panel.application_id,
            panel.call_id,
            [a.expert_id for a in members],
            [a.assigned_at for a in members],
            [a.due_at for a in members],
            [a.declared for a in members],
            [a.active for a in members],
            [a.overdue for a in members],
            [a.completed for a in members],
        )

    async def of_application(self, conn: Connection, application_id: str) -> list[Assignment]:
        rows = await conn.fetch(self._of_application_sql, application_id)
        return [
            Assignment(
                r["expert_id"], r["assigned_at"], r["declared"], r["due_at"], r["active"],
                r["overdue"], r["completed"],
            )
            for r in rows
        ]  # fmt: skip

    async def loads(self, conn: Connection, call_id: str) -> dict[str, int]:
        return {r["expert_id"]: r["n"] for r in await conn.fetch(self._loads_sql, call_id)}

    async def worklist(self, conn: Connection, expert_id: str) -> Sequence[Mapping[str, object]]:
        return [dict(r) for r in await conn.fetch(self._worklist_sql, expert_id)]
