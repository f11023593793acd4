"""Protobuf mapping of the privacy events (`schemas/konkurs/privacy/v1`)."""

from __future__ import annotations

from datetime import UTC

from google.protobuf.timestamp_pb2 import Timestamp

from konkurs.privacy.v1 import events_pb2
from konkurs_platform.envelope import Envelope
from konkurs_platform.eventstore import NewEvent
from konkurs_privacy.domain.subjects import SubjectErased

SUBJECT_ERASED = events_pb2.SubjectErased.DESCRIPTOR.full_name


class SubjectCodec:
    """`EventCodec` for the subject aggregate."""

    def encode(self, event: SubjectErased) -> NewEvent:
        at = Timestamp()
        at.FromDatetime(event.erased_at.astimezone(UTC))
        msg = events_pb2.SubjectErased(
            subject_id=event.subject_id,
            reason=event.reason,
            erased_at=at,
            retention_rule=event.retention_rule,
        )
        return NewEvent(SUBJECT_ERASED, msg.SerializeToString(deterministic=True))

    def decode(self, envelope: Envelope) -> SubjectErased:
        if envelope.event_type != SUBJECT_ERASED:
            raise ValueError(f"not a subject event type: {envelope.event_type}")
        m = events_pb2.SubjectErased.FromString(envelope.payload)
        return SubjectErased(
            m.subject_id, m.reason, m.erased_at.ToDatetime(tzinfo=UTC), m.retention_rule
        )
