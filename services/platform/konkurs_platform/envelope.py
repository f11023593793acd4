"""The envelope every event travels in, and its protobuf encoding.

The event store keeps the encoded envelope next to the columns it was made from, so the
bytes in Kafka, in the event store and in the audit log are the same bytes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from konkurs.envelope.v1 import envelope_pb2

# Kafka header names. The event type travels in a header so that consumers can route or
# skip an event without decoding it.
HEADER_EVENT_TYPE = "konkurs-event-type"
HEADER_EVENT_ID = "konkurs-event-id"
HEADER_CORRELATION_ID = "konkurs-correlation-id"

# Derived event ids: a consumer that reacts to an event produces the same ids when it
# retries, so a retried reaction is a duplicate, not a second reaction.
_DERIVED_NAMESPACE = uuid.UUID("6f1c2f0e-2d7a-4c7e-9a51-6b6f6e6b7572")


@dataclass(frozen=True)
class Actor:
    """Who caused an event, as recorded in its envelope.

    `role` is a plain string, not a `Role`: events are kept forever, and an event recorded
    under a role that is later renamed or retired must still decode.
    """

    subject: str
    role: str
    organisation: str | None = None
    region: str | None = None


class EnvelopeError(ValueError):
    """Bytes that are not a valid envelope."""


@dataclass(frozen=True)
class Envelope:
    """An event with everything needed to explain it later: who, when, why, caused by what."""

    event_id: uuid.UUID
    event_type: str
    stream_id: str
    stream_version: int
    occurred_at: datetime
    recorded_at: datetime
    actor: Actor
    correlation_id: str
    causation_id: str | None
    schema_version: int
    payload: bytes
    imported: bool = False


def derive_event_id(causation_id: uuid.UUID | str, consumer: str, index: int = 0) -> uuid.UUID:
    """The id of the `index`-th event `consumer` emits in reaction to event `causation_id`."""
    return uuid.uuid5(_DERIVED_NAMESPACE, f"{causation_id}/{consumer}/{index}")


def _ts(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value.astimezone(UTC))
    return ts


def encode_envelope(e: Envelope) -> bytes:
    """Serialize `e` as `konkurs.envelope.v1.Envelope`."""
    msg = envelope_pb2.Envelope(
        event_id=str(e.event_id),
        event_type=e.event_type,
        stream_id=e.stream_id,
        stream_version=e.stream_version,
        occurred_at=_ts(e.occurred_at),
        recorded_at=_ts(e.recorded_at),
        actor=envelope_pb2.Actor(
            subject=e.actor.subject,
            role=e.actor.role,
            organisation=e.actor.organisation or "",
            region=e.actor.region or "",
        ),
        correlation_id=e.correlation_id,
        causation_id=e.causation_id or "",
        schema_version=e.schema_version,
        payload=e.payload,
        imported=e.imported,
    )
    return msg.SerializeToString(deterministic=True)


def decode_envelope(data: bytes) -> Envelope:
    """Parse envelope bytes; raise `EnvelopeError` for anything that is not one."""
    msg = envelope_pb2.Envelope()
    try:
        msg.ParseFromString(data)
        event_id = uuid.UUID(msg.event_id)
    except Exception as exc:  # protobuf raises DecodeError, uuid ValueError
        raise EnvelopeError(f"not a konkurs envelope: {exc}") from exc
    if not msg.event_type or not msg.stream_id or msg.stream_version < 1:
        raise EnvelopeError("envelope lacks event_type, stream_id or stream_version")
    try:
        occurred_at = msg.occurred_at.ToDatetime(tzinfo=UTC)
        recorded_at = msg.recorded_at.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError) as exc:
        # A timestamp beyond what a datetime holds: bad bytes, not a reason to crash a reader.
        raise EnvelopeError(f"envelope time out of range: {exc}") from exc
    return Envelope(
        event_id=event_id,
        event_type=msg.event_type,
        stream_id=msg.stream_id,
        stream_version=msg.stream_version,
        occurred_at=occurred_at,
        recorded_at=recorded_at,
        actor=Actor(
            subject=msg.actor.subject,
            role=msg.actor.role,
            organisation=msg.actor.organisation or None,
            region=msg.actor.region or None,
        ),
        correlation_id=msg.correlation_id,
        causation_id=msg.causation_id or None,
        schema_version=msg.schema_version,
        payload=msg.payload,
        imported=msg.imported,
    )
