"""Intake's events, read as the facts scoring keeps (the protobuf stays here)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from konkurs.intake.v1 import application_pb2, call_pb2, events_pb2
from konkurs_platform.envelope import Envelope
from konkurs_scoring.domain.applications import KnownApplication, ParticipantKind
from konkurs_scoring.domain.calls import AssignmentTerms, CallClosing, CallTerms, EligibilityRules

CALL_ANNOUNCED = events_pb2.CallAnnounced.DESCRIPTOR.full_name
CALL_AMENDED = events_pb2.CallAmended.DESCRIPTOR.full_name
CALL_CLOSED = events_pb2.CallClosed.DESCRIPTOR.full_name
APPLICATION_SUBMITTED = events_pb2.ApplicationSubmitted.DESCRIPTOR.full_name
APPLICATION_AMENDED = events_pb2.ApplicationAmended.DESCRIPTOR.full_name
APPLICATION_WITHDRAWN = events_pb2.ApplicationWithdrawn.DESCRIPTOR.full_name
DOCUMENT_ATTACHED = events_pb2.DocumentAttached.DESCRIPTOR.full_name

_KIND_PREFIX = "PARTICIPANT_KIND_"


def call_terms(envelope: Envelope) -> CallTerms:
    """CallAnnounced or CallAmended: the call's terms at the event's stream version."""
    cls = (
        events_pb2.CallAnnounced
        if envelope.event_type == CALL_ANNOUNCED
        else events_pb2.CallAmended
    )
    event = cls.FromString(envelope.payload)
    return terms_of(event.call_id, envelope.stream_version, event.call)


def terms_of(call_id: str, version: int, call: call_pb2.CallDefinition) -> CallTerms:
    """The terms of a call definition, with issue 8's defaults where an older call is silent."""
    m, e = call.methodology, call.eligibility
    return CallTerms(
        call_id=call_id,
        version=version,
        closes_at=call.closes_at.ToDatetime(tzinfo=UTC),
        quota=call.quota,
        methodology=MessageToDict(m, preserving_proto_field_name=True),
        definition=call.SerializeToString(deterministic=True),
        regions=tuple(call.accepted_region_codes),
        eligibility=EligibilityRules(
            min_participants=e.min_participants,
            min_sme_share_percent=e.min_sme_share_percent,
            require_university_or_research=e.require_university_or_research,
            required_document_kinds=tuple(e.required_document_kinds),
        ),
        assignment=AssignmentTerms(
            experts_per_application=m.experts_per_application or 3,
            exclude_same_region_experts=m.exclude_same_region_experts,
            blind_applicants=m.blind_applicants,
            evaluation_days=m.evaluation_days or 14,
        ),
    )


def definition_terms(call_id: str, version: int, definition: bytes) -> CallTerms:
    """The terms of a stored definition (`CallTerms.definition`)."""
    return terms_of(call_id, version, call_pb2.CallDefinition.FromString(definition))


def call_closing(envelope: Envelope) -> CallClosing:
    """CallClosed."""
    event = events_pb2.CallClosed.FromString(envelope.payload)
    return CallClosing(event.call_id, event.closed_at.ToDatetime(tzinfo=UTC))


APPLICATION_EVENTS = (
    APPLICATION_SUBMITTED,
    APPLICATION_AMENDED,
    APPLICATION_WITHDRAWN,
    DOCUMENT_ATTACHED,
)


def learn_application(
    known: KnownApplication | None, envelope: Envelope
) -> KnownApplication | None:
    """The application after one of its intake events, given what scoring knew before
    (None: nothing). None when the event cannot apply: a later event about an application
    scoring never saw submitted, which the stream's order rules out."""
    payload = envelope.payload
    if envelope.event_type == APPLICATION_SUBMITTED:
        event = events_pb2.ApplicationSubmitted.FromString(payload)
        return _facts(
            event.application_id,
            event.call_id,
            event.registration_number,
            envelope.stream_version,
            event.content,
            envelope.occurred_at,
        )
    if known is None:
        return None
    if envelope.event_type == APPLICATION_AMENDED:
        content = events_pb2.ApplicationAmended.FromString(payload).content
        # The amendment's documents replace those of before, attached ones included.
        return _facts(
            known.application_id,
            known.call_id,
            known.registration_number,
            envelope.stream_version,
            content,
            known.submitted_at,
        )
    if envelope.event_type == DOCUMENT_ATTACHED:
        kind = events_pb2.DocumentAttached.FromString(payload).document.kind
        kinds = tuple(dict.fromkeys((*known.document_kinds, kind)))
        return replace(known, version=envelope.stream_version, document_kinds=kinds)
    if envelope.event_type == APPLICATION_WITHDRAWN:
        return replace(known, version=envelope.stream_version, withdrawn=True)
    raise ValueError(f"not an application event: {envelope.event_type}")


def _facts(
    application_id: str,
    call_id: str,
    registration_number: str,
    version: int,
    content: application_pb2.ApplicationContent,
    submitted_at: datetime,
) -> KnownApplication:
    """The facts scoring keeps of one revision of an application's content."""
    return KnownApplication(
        application_id=application_id,
        call_id=call_id,
        registration_number=registration_number,
        region_code=content.cluster.region_code,
        coordinator_bin=content.coordinator.bin,
        participant_bins=tuple(p.bin for p in content.participants),
        content=content.SerializeToString(deterministic=True),
        withdrawn=False,
        submitted_at=submitted_at,
        version=version,
        participant_kinds=tuple(_kind(p.kind) for p in content.participants),
        document_kinds=tuple(dict.fromkeys(d.kind for d in content.documents)),
        primary_oked_code=content.cluster.primary_oked_code,
    )


def _kind(kind: application_pb2.ParticipantKind.ValueType) -> ParticipantKind:
    name = application_pb2.ParticipantKind.Name(kind).removeprefix(_KIND_PREFIX).lower()
    return ParticipantKind(name)


def application_id_of(envelope: Envelope) -> str:
    """The application an application event is about."""
    classes: dict[str, type[Message]] = {
        APPLICATION_SUBMITTED: events_pb2.ApplicationSubmitted,
        APPLICATION_AMENDED: events_pb2.ApplicationAmended,
        APPLICATION_WITHDRAWN: events_pb2.ApplicationWithdrawn,
        DOCUMENT_ATTACHED: events_pb2.DocumentAttached,
    }
    event = classes[envelope.event_type].FromString(envelope.payload)
    return str(getattr(event, "application_id"))  # noqa: B009 (every class has it)
