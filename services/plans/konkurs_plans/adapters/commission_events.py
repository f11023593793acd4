"""The commission's events, read as what plan tracking acts on (the protobuf stays here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from konkurs.commission.v1 import events_pb2
from konkurs_platform.envelope import Envelope
from konkurs_platform.protobuf import from_timestamp, type_name

CLUSTER_SELECTED = type_name(events_pb2.ClusterSelected)


@dataclass(frozen=True)
class Selection:
    """A cluster the commission selected: its plan is to be opened."""

    event_id: str
    call_id: str
    application_id: str
    registration_number: str
    cluster_name: str
    region_code: str
    coordinator_bin: str
    selected_at: datetime


def selection(envelope: Envelope) -> Selection:
    """ClusterSelected."""
    event = events_pb2.ClusterSelected.FromString(envelope.payload)
    return Selection(
        event_id=str(envelope.event_id),
        call_id=event.call_id,
        application_id=event.application_id,
        registration_number=event.registration_number,
        cluster_name=event.cluster_name,
        region_code=event.region_code,
        coordinator_bin=event.coordinator_bin,
        selected_at=from_timestamp(event.selected_at)
        if event.HasField("selected_at")
        else envelope.occurred_at,
    )
