"""The commission's events, read as the requests scoring acts on (the protobuf stays here)."""

from __future__ import annotations

from dataclasses import dataclass

from konkurs.commission.v1 import events_pb2
from konkurs_platform.envelope import Envelope

REEVALUATION_REQUESTED = events_pb2.ReevaluationRequested.DESCRIPTOR.full_name


@dataclass(frozen=True)
class ReevaluationRequest:
    """An appeal the commission upheld: evaluate the application again."""

    call_id: str
    application_id: str
    appeal_id: str
    reason: str


def reevaluation_request(envelope: Envelope) -> ReevaluationRequest:
    """ReevaluationRequested."""
    event = events_pb2.ReevaluationRequested.FromString(envelope.payload)
    return ReevaluationRequest(
        call_id=event.call_id,
        application_id=event.application_id,
        appeal_id=event.appeal_id,
        reason=event.reason,
    )
