"""Intake's events, read as the facts privacy keeps (the protobuf stays here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from konkurs.intake.v1 import events_pb2
from konkurs_platform.envelope import Envelope
from konkurs_platform.personal.sealing import personal_fields

CALL_ANNOUNCED = events_pb2.CallAnnounced.DESCRIPTOR.full_name
CALL_AMENDED = events_pb2.CallAmended.DESCRIPTOR.full_name
CALL_CLOSED = events_pb2.CallClosed.DESCRIPTOR.full_name
APPLICATION_SUBMITTED = events_pb2.ApplicationSubmitted.DESCRIPTOR.full_name
APPLICATION_AMENDED = events_pb2.ApplicationAmended.DESCRIPTOR.full_name


@dataclass(frozen=True)
class SubjectSeen:
    """A data subject's sealed values in one event."""

    subject_id: str
    kind: str
    stream_id: str
    stream_version: int
    # Empty when the event does not name the call (an amendment: the submission did).
    call_id: str
    # Path in the event -> (field's full name, sealed value): what opening it needs.
    sealed_values: dict[str, tuple[str, str]]
    seen_at: datetime


def call_programme(envelope: Envelope) -> tuple[str, str]:
    """CallAnnounced or CallAmended: (call id, programme)."""
    cls = (
        events_pb2.CallAnnounced
        if envelope.event_type == CALL_ANNOUNCED
        else events_pb2.CallAmended
    )
    event = cls.FromString(envelope.payload)
    return event.call_id, event.call.programme


def call_closed(envelope: Envelope) -> tuple[str, datetime]:
    """CallClosed: (call id, closed at)."""
    event = events_pb2.CallClosed.FromString(envelope.payload)
    return event.call_id, event.closed_at.ToDatetime(tzinfo=UTC)


def subjects_seen(envelope: Envelope) -> list[SubjectSeen]:
    """The subjects of an ApplicationSubmitted or ApplicationAmended, found by the schema's
    marks: a personal field added later is kept without a change here."""
    submitted = envelope.event_type == APPLICATION_SUBMITTED
    cls = events_pb2.ApplicationSubmitted if submitted else events_pb2.ApplicationAmended
    event = cls.FromString(envelope.payload)
    call_id = event.call_id if isinstance(event, events_pb2.ApplicationSubmitted) else ""
    by_subject: dict[str, SubjectSeen] = {}
    for f in personal_fields(event, envelope.stream_id):
        seen = by_subject.setdefault(
            f.subject_id,
            SubjectSeen(
                f.subject_id,
                f.kind,
                envelope.stream_id,
                envelope.stream_version,
                call_id,
                {},
                envelope.occurred_at,
            ),
        )
        seen.sealed_values[f.path] = (f.field.full_name, f.value)
    return list(by_subject.values())
