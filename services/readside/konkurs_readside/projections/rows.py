"""Rows of a read-model table folded in memory: a batch reads the rows it touches once,
folds its events onto them, and writes the changed ones back with one statement.

Idempotent per event: every row remembers the version of its stream that it reflects
(`stream_version`), and `Fold.fresh` tells an event at or below it (one the relay published
twice) from a new one. Every event of a stream updates the row it touches to its own
version, so a row at or past an event's version has seen that event.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from konkurs_platform.db import Connection
from konkurs_platform.envelope import Envelope

Key = tuple[Any, ...]
Row = dict[str, Any]


@dataclass(frozen=True)
class Table:
    """A read-model table: its key columns, every column, and which of them are jsonb."""

    name: str
    key: tuple[str, ...]
    columns: tuple[str, ...]
    json_columns: frozenset[str] = frozenset()

    def key_of(self, row: Row) -> Key:
        return tuple(row[c] for c in self.key)

    async def load(self, conn: Connection, schema: str, column: str, values: Sequence[Any]) -> Fold:
        """The rows whose `column` is one of `values`, ready to fold onto."""
        rows = await conn.fetch(
            f"SELECT {', '.join(self.columns)} FROM {schema}.{self.name} WHERE {column} = ANY($1)",
            sorted(set(values)),
        )
        fold = Fold(self)
        for r in rows:
            row = dict(r)
            for c in self.json_columns:
                row[c] = json.loads(row[c])
            fold.rows[self.key_of(row)] = row
        return fold


@dataclass
class Fold:
    """A table's rows in memory, and which of them the batch changed."""

    table: Table
    rows: dict[Key, Row] = field(default_factory=dict)
    changed: set[Key] = field(default_factory=set)

    def fresh(self, key: Key, e: Envelope) -> bool:
        """Whether `e` is new to the row at `key` (a missing row has seen nothing)."""
        row = self.rows.get(key)
        return row is None or row["stream_version"] < e.stream_version

    def put(self, row: Row, e: Envelope) -> None:
        """Record `row` as changed by `e` (its stream version and event id go with it)."""
        row.update(stream_version=e.stream_version, last_event_id=e.event_id)
        key = self.table.key_of(row)
        self.rows[key] = row
        self.changed.add(key)

    async def save(self, conn: Connection, schema: str) -> None:
        """Write the changed rows; a row in the table at a later version keeps it."""
        if not self.changed:
            return
        t = self.table
        values = ", ".join(f"${i}" for i in range(1, len(t.columns) + 1))
        updates = ", ".join(f"{c} = excluded.{c}" for c in t.columns if c not in t.key)
        await conn.executemany(
            f"""INSERT INTO {schema}.{t.name} ({", ".join(t.columns)}) VALUES ({values})
                ON CONFLICT ({", ".join(t.key)}) DO UPDATE SET {updates}
                WHERE {schema}.{t.name}.stream_version < excluded.stream_version""",
            [
                tuple(
                    json.dumps(self.rows[k][c]) if c in t.json_columns else self.rows[k][c]
                    for c in t.columns
                )
                for k in sorted(self.changed)
            ],
        )
