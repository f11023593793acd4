"""Intake's call events, read as the facts scoring keeps (the protobuf stays here)."""

from __future__ import annotations

from datetime import UTC

from google.protobuf.json_format import MessageToDict

from konkurs.intake.v1 import events_pb2
from konkurs_platform.envelope import Envelope
from konkurs_scoring.domain.calls import CallClosing, CallTerms

CALL_ANNOUNCED = events_pb2.CallAnnounced.DESCRIPTOR.full_name
CALL_AMENDED = events_pb2.CallAmended.DESCRIPTOR.full_name
CALL_CLOSED = events_pb2.CallClosed.DESCRIPTOR.full_name


def call_terms(envelope: Envelope) -> CallTerms:
    """CallAnnounced or CallAmended: the call's terms at the event's stream version."""
    cls = (
        events_pb2.CallAnnounced
        if envelope.event_type == CALL_ANNOUNCED
        else events_pb2.CallAmended
    )
    event = cls.FromString(envelope.payload)
    call = event.call
    return CallTerms(
        call_id=event.call_id,
        version=envelope.stream_version,
        closes_at=call.closes_at.ToDatetime(tzinfo=UTC),
        quota=call.quota,
        methodology=MessageToDict(call.methodology, preserving_proto_field_name=True),
        definition=call.SerializeToString(deterministic=True),
    )


def call_closing(envelope: Envelope) -> CallClosing:
    """CallClosed."""
    event = events_pb2.CallClosed.FromString(envelope.payload)
    return CallClosing(event.call_id, event.closed_at.ToDatetime(tzinfo=UTC))
