"""What every service's protobuf codec needs: times, type names and new events.

Adapters import this; the domain never does (it knows no protobuf).
"""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from konkurs_platform.eventstore import NewEvent


def to_timestamp(value: datetime) -> Timestamp:
    """`value` (aware) as a protobuf Timestamp, in UTC."""
    ts = Timestamp()
    ts.FromDatetime(value.astimezone(UTC))
    return ts


def from_timestamp(ts: Timestamp) -> datetime:
    """A protobuf Timestamp as an aware datetime in UTC."""
    return ts.ToDatetime(tzinfo=UTC)


def type_name(message: type[Message]) -> str:
    """The full protobuf name of a message type: an event's `event_type`."""
    return str(message.DESCRIPTOR.full_name)


def new_event(message: Message, schema_version: int = 1) -> NewEvent:
    """An event to append: the message's full name and its deterministic bytes (the same
    message always gives the same bytes, which golden tests and ranking hashes rely on)."""
    return NewEvent(
        message.DESCRIPTOR.full_name, message.SerializeToString(deterministic=True), schema_version
    )
