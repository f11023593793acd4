"""Events as the read models can store them.

A protobuf string may hold any Unicode code point, U+0000 included, and a producer may
legally emit one; PostgreSQL `text` and `jsonb` hold every code point but U+0000 (konkurs
databases are UTF-8, and protobuf strings are valid UTF-8 by construction, so NUL is the one
character they cannot take). Refusing such an event would make the read model diverge from
the event store, so the read models store U+FFFD, the replacement character, in its place:
deterministic, so a rebuild stores the same rows, and visible to whoever reads them. The
exact original stays where the legal record is, in the audit log's envelope bytes.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from konkurs_platform.envelope import Actor, Envelope

NUL = "\x00"
REPLACEMENT = "\ufffd"

M = TypeVar("M", bound=Message)


def storable_text(value: str) -> str:
    """`value` with every U+0000 replaced by U+FFFD."""
    return value.replace(NUL, REPLACEMENT) if NUL in value else value


def decode_storable(message_type: type[M], payload: bytes) -> M:
    """`payload` parsed as `message_type`, every string field of it storable."""
    message = message_type.FromString(payload)
    # A NUL character is encoded as a 0x00 byte, so a payload without one (most of them)
    # holds none and is not walked.
    if b"\x00" in payload:
        storable_message(message)
    return message


def storable_message(message: Message) -> None:
    """Make every string of `message`, nested messages, repeated fields and maps included,
    storable, in place."""
    for field, value in message.ListFields():
        if field.type == FieldDescriptor.TYPE_STRING:
            if field.is_repeated:
                value[:] = [storable_text(v) for v in value]
            else:
                setattr(message, field.name, storable_text(value))
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            entry = field.message_type
            assert entry is not None, "a message field names its type"
            if entry.GetOptions().map_entry:
                _storable_map(value, entry.fields_by_name["value"])
            elif field.is_repeated:
                for item in value:
                    storable_message(item)
            else:
                storable_message(value)


def _storable_map(entries: Any, value_field: FieldDescriptor) -> None:
    # Keys cannot be changed in place: an entry whose key changes is moved to the new key.
    for key in list(entries):
        new_key = storable_text(key) if isinstance(key, str) else key
        if value_field.type == FieldDescriptor.TYPE_MESSAGE:
            storable_message(entries[key])
            if new_key != key:
                entries[new_key].CopyFrom(entries[key])
                del entries[key]
        else:
            value = entries[key]
            if new_key != key:
                del entries[key]
            entries[new_key] = storable_text(value) if isinstance(value, str) else value


def storable_envelope(e: Envelope) -> Envelope:
    """`e` with every string of its own (not of its payload) made storable."""
    a = e.actor
    texts: list[str | None] = [e.event_type, e.stream_id, e.correlation_id, e.causation_id]
    texts += [a.subject, a.role, a.organisation, a.region]
    if not any(t is not None and NUL in t for t in texts):
        return e
    return dataclasses.replace(
        e,
        event_type=storable_text(e.event_type),
        stream_id=storable_text(e.stream_id),
        correlation_id=storable_text(e.correlation_id),
        causation_id=_optional(e.causation_id),
        actor=Actor(
            subject=storable_text(a.subject),
            role=storable_text(a.role),
            organisation=_optional(a.organisation),
            region=_optional(a.region),
        ),
    )


def _optional(value: str | None) -> str | None:
    return None if value is None else storable_text(value)
