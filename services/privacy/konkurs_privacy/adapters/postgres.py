"""Privacy's tables: calls' programmes, the subjects seen, retention policies and runs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from konkurs_platform.db import Connection, check_schema_name
from konkurs_privacy.adapters.intake_events import SubjectSeen


@dataclass(frozen=True)
class Policy:
    """Erase data of `kind` `years` after `trigger` (see migrations/0001_privacy.sql)."""

    kind: str
    years: int
    trigger: str

    @property
    def rule(self) -> str:
        """The rule's name as erasures record it, e.g. "contact/call_closed+5y"."""
        return f"{self.kind}/{self.trigger}+{self.years}y"


class PrivacyBook:
    """`<schema>.calls`, `subjects`, `retention_policies` and `retention_runs`."""

    def __init__(self, schema: str) -> None:
        self.schema = check_schema_name(schema)

    async def keep_call(self, conn: Connection, call_id: str, programme: str) -> None:
        await conn.execute(
            f"""INSERT INTO {self.schema}.calls (call_id, programme) VALUES ($1, $2)
                ON CONFLICT (call_id) DO UPDATE SET programme = excluded.programme""",
            call_id,
            programme,
        )

    async def keep_subject(self, conn: Connection, seen: SubjectSeen) -> None:
        """The subject's latest sealed values; an amendment keeps the submission's call."""
        await conn.execute(
            f"""INSERT INTO {self.schema}.subjects (subject_id, kind, stream_id, call_id,
                    sealed_values, stream_version, first_seen_at)
                VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)
                ON CONFLICT (subject_id) DO UPDATE SET sealed_values = excluded.sealed_values,
                    stream_version = excluded.stream_version
                WHERE {self.schema}.subjects.stream_version < excluded.stream_version""",
            seen.subject_id,
            seen.kind,
            seen.stream_id,
            seen.call_id,
            json.dumps(seen.sealed_values),
            seen.stream_version,
            seen.seen_at,
        )

    async def policies(self, conn: Connection, call_id: str) -> list[Policy]:
        """The retention of each kind for the call's programme (its own rows over '*')."""
        rows = await conn.fetch(
            f"""SELECT DISTINCT ON (p.kind) p.kind, p.years, p.trigger
                FROM {self.schema}.retention_policies p
                LEFT JOIN {self.schema}.calls c ON c.call_id = $1
                WHERE p.programme = c.programme OR p.programme = '*'
                ORDER BY p.kind, p.programme = '*'""",
            call_id,
        )
        return [Policy(**dict(r)) for r in rows]

    async def subjects_of_call(self, conn: Connection, call_id: str, kind: str) -> list[str]:
        rows = await conn.fetch(
            f"""SELECT subject_id FROM {self.schema}.subjects
                WHERE call_id = $1 AND kind = $2 ORDER BY subject_id""",
            call_id,
            kind,
        )
        return [r["subject_id"] for r in rows]

    async def subject(self, conn: Connection, subject_id: str) -> dict[str, Any] | None:
        row = await conn.fetchrow(
            f"""SELECT subject_id, kind, stream_id, call_id, sealed_values, first_seen_at
                FROM {self.schema}.subjects WHERE subject_id = $1""",
            subject_id,
        )
        if row is None:
            return None
        out = dict(row)
        out["sealed_values"] = json.loads(out["sealed_values"])
        return out

    async def lock_call(self, conn: Connection, call_id: str) -> bool:
        """Lock the call's row until the transaction ends; False when the call is unknown.

        Retention runs and newly seen subjects of a call take this lock first, so a subject
        learned while its call's retention runs is either seen by the run or sees the run.
        """
        locked = await conn.fetchval(
            f"SELECT true FROM {self.schema}.calls WHERE call_id = $1 FOR UPDATE", call_id
        )
        return bool(locked)

    async def ended_retention(self, conn: Connection, call_id: str) -> list[tuple[str, Any]]:
        """(kind, due time) of each retention period of the call that has already run."""
        rows = await conn.fetch(
            f"""SELECT kind, min(due_at) AS due_at FROM {self.schema}.retention_runs
                WHERE call_id = $1 GROUP BY kind ORDER BY kind""",
            call_id,
        )
        return [(r["kind"], r["due_at"]) for r in rows]

    async def record_run(
        self,
        conn: Connection,
        call_id: str,
        policy: Policy,
        due_at: datetime,
        ran_at: datetime,
        erased: list[str],
    ) -> None:
        await conn.execute(
            f"""INSERT INTO {self.schema}.retention_runs
                    (call_id, kind, rule, due_at, ran_at, erased)
                VALUES ($1, $2, $3, $4, $5, $6)""",
            call_id,
            policy.kind,
            policy.rule,
            due_at,
            ran_at,
            erased,
        )

    async def runs(self, conn: Connection) -> list[dict[str, Any]]:
        """Every retention run, the latest first: the report of what was erased."""
        rows = await conn.fetch(
            f"""SELECT call_id, kind, rule, due_at, ran_at, erased
                FROM {self.schema}.retention_runs ORDER BY ran_at DESC, call_id"""
        )
        return [dict(r) for r in rows]
