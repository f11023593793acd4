"""Intake's and scoring's events, read as what the commission keeps (the protobuf stays here)."""

from __future__ import annotations

from dataclasses import replace

from konkurs.intake.v1 import application_pb2
from konkurs.intake.v1 import events_pb2 as intake_pb
from konkurs.scoring.v1 import ranking_pb2
from konkurs_commission.adapters.known import (
    KnownApplication,
    KnownCall,
    KnownRanking,
    RankedEntry,
)
from konkurs_platform.envelope import Envelope
from konkurs_platform.protobuf import from_timestamp, type_name

CALL_ANNOUNCED = type_name(intake_pb.CallAnnounced)
CALL_AMENDED = type_name(intake_pb.CallAmended)
APPLICATION_SUBMITTED = type_name(intake_pb.ApplicationSubmitted)
APPLICATION_AMENDED = type_name(intake_pb.ApplicationAmended)
APPLICATION_WITHDRAWN = type_name(intake_pb.ApplicationWithdrawn)
RANKING_PUBLISHED = type_name(ranking_pb2.RankingPublished)


def call_of(envelope: Envelope) -> KnownCall:
    """CallAnnounced or CallAmended: the call's quota and time zone at its stream version."""
    cls = (
        intake_pb.CallAnnounced if envelope.event_type == CALL_ANNOUNCED else intake_pb.CallAmended
    )
    event = cls.FromString(envelope.payload)
    return KnownCall(
        event.call_id, envelope.stream_version, event.call.quota, event.call.time_zone or "UTC"
    )


def _content(
    application_id: str,
    call_id: str,
    number: str,
    version: int,
    content: application_pb2.ApplicationContent,
) -> KnownApplication:
    bins = tuple(dict.fromkeys([content.coordinator.bin, *(p.bin for p in content.participants)]))
    return KnownApplication(
        application_id=application_id,
        call_id=call_id,
        version=version,
        registration_number=number,
        cluster_name=content.cluster.name,
        region_code=content.cluster.region_code,
        coordinator_bin=content.coordinator.bin,
        participant_bins=tuple(b for b in bins if b),
    )


def application_id_of(envelope: Envelope) -> str:
    """The application an application event is about."""
    if envelope.event_type == APPLICATION_SUBMITTED:
        return intake_pb.ApplicationSubmitted.FromString(envelope.payload).application_id
    if envelope.event_type == APPLICATION_AMENDED:
        return intake_pb.ApplicationAmended.FromString(envelope.payload).application_id
    return intake_pb.ApplicationWithdrawn.FromString(envelope.payload).application_id


def learn_application(
    known: KnownApplication | None, envelope: Envelope
) -> KnownApplication | None:
    """The application after one of its events, given what was known (None: nothing); None
    when the event cannot apply (a later event of an application never seen submitted)."""
    if envelope.event_type == APPLICATION_SUBMITTED:
        s = intake_pb.ApplicationSubmitted.FromString(envelope.payload)
        return _content(
            s.application_id, s.call_id, s.registration_number, envelope.stream_version, s.content
        )
    if known is None:
        return None
    if envelope.event_type == APPLICATION_AMENDED:
        a = intake_pb.ApplicationAmended.FromString(envelope.payload)
        return _content(
            known.application_id,
            known.call_id,
            known.registration_number,
            envelope.stream_version,
            a.content,
        )
    return replace(known, version=envelope.stream_version, withdrawn=True)


def ranking_of(envelope: Envelope) -> KnownRanking:
    """RankingPublished: the version, its event id and hash, and the entries in order."""
    r = ranking_pb2.RankingPublished.FromString(envelope.payload)
    return KnownRanking(
        call_id=r.call_id,
        version=r.ranking_version,
        event_id=envelope.event_id,
        content_hash=r.content_hash,
        published_at=from_timestamp(r.published_at),
        entries=tuple(
            RankedEntry(
                rank=e.rank,
                application_id=e.application_id,
                registration_number=e.registration_number,
                fundable=e.fundable,
                failed_thresholds=tuple(e.failed_thresholds),
                overall=f"{e.overall.numerator}/{e.overall.denominator}",
            )
            for e in r.entries
        ),
    )
