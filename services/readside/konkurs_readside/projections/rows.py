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
from typing import Any, cast

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

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


# How to write a field's value: as it is, as a string (64-bit integers: the JSON mapping
# writes them so, since JavaScript numbers lose them), by its enum name, or as a message.
_AS_IS, _AS_STR, _AS_ENUM, _AS_MESSAGE = range(4)
_INT64 = {
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_SFIXED64,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_FIXED64,
}
_AS_THEY_ARE = {
    FieldDescriptor.TYPE_STRING,
    FieldDescriptor.TYPE_BOOL,
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_SFIXED32,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_FIXED32,
}


@dataclass(frozen=True)
class _Field:
    name: str
    how: int
    repeated: bool
    # Whether the field tracks presence (a message, a proto3 `optional`): present or not,
    # rather than set when not at its default value.
    presence: bool
    enum_names: dict[int, str] | None = None
    plan: tuple[_Field, ...] | None = None


# Per message type, how to write its fields in field-number order; None for a type left to
# `MessageToDict` (maps, floats, bytes, well-known types, extensions: none of them is in the
# payloads the read models store as JSON today).
_PLANS: dict[str, tuple[_Field, ...] | None] = {}


def message_json(message: Message) -> dict[str, Any]:
    """`message` in protobuf's JSON mapping with the .proto's field names, exactly as
    `MessageToDict(message, preserving_proto_field_name=True)` gives it, faster: the read
    models store whole application contents as JSON, and json_format's generic walk was the
    largest cost of projecting (and rebuilding) them. Fields are read by name rather than
    through `ListFields`, which costs more than the walk itself."""
    # The stubs type a message's descriptor as the union of the pure-Python and upb classes.
    plan = _plan(cast(Descriptor, message.DESCRIPTOR))
    if plan is None:
        return MessageToDict(message, preserving_proto_field_name=True)
    return _convert(plan, message)


def _convert(plan: tuple[_Field, ...], message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in plan:
        if f.presence:
            if not message.HasField(f.name):
                continue
            value = getattr(message, f.name)
        else:
            value = getattr(message, f.name)
            if not value:  # proto3 without presence: a default value is not written
                continue
        if f.repeated:
            out[f.name] = [_value(f, v) for v in value]
        else:
            out[f.name] = _value(f, value)
    return out


def _value(f: _Field, value: Any) -> Any:
    if f.how == _AS_IS:
        return value
    if f.how == _AS_STR:
        return str(value)
    if f.how == _AS_ENUM:
        assert f.enum_names is not None
        # An unknown number (from a newer producer) is written as the number, as
        # json_format does.
        return f.enum_names.get(value, value)
    assert f.plan is not None
    return _convert(f.plan, value)


def _plan(descriptor: Descriptor) -> tuple[_Field, ...] | None:
    name = descriptor.full_name
    if name not in _PLANS:
        _PLANS[name] = None  # a recursive type stays on the slow path
        _PLANS[name] = _make_plan(descriptor)
    return _PLANS[name]


def _make_plan(descriptor: Descriptor) -> tuple[_Field, ...] | None:
    if descriptor.full_name.startswith("google.protobuf.") or descriptor.extension_ranges:
        return None  # well-known types have JSON forms of their own
    plan = []
    for f in sorted(descriptor.fields, key=lambda f: f.number):
        presence = f.has_presence and not f.is_repeated
        if f.type == FieldDescriptor.TYPE_MESSAGE:
            assert f.message_type is not None, "a message field names its type"
            nested = None if f.message_type.GetOptions().map_entry else _plan(f.message_type)
            if nested is None:
                return None
            plan.append(_Field(f.name, _AS_MESSAGE, f.is_repeated, presence, plan=nested))
        elif f.type == FieldDescriptor.TYPE_ENUM:
            assert f.enum_type is not None, "an enum field names its type"
            names = {v.number: v.name for v in f.enum_type.values}
            plan.append(_Field(f.name, _AS_ENUM, f.is_repeated, presence, enum_names=names))
        elif f.type in _INT64:
            plan.append(_Field(f.name, _AS_STR, f.is_repeated, presence))
        elif f.type in _AS_THEY_ARE:
            plan.append(_Field(f.name, _AS_IS, f.is_repeated, presence))
        else:
            return None
    return tuple(plan)
