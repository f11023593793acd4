"""Protobuf mapping of the intake events (`schemas/konkurs/intake/v1`).

The domain never sees `_pb2` modules: this adapter turns its dataclasses into payloads and
back, field by field.
"""

from __future__ import annotations

from konkurs.intake.v1 import application_pb2, call_pb2, events_pb2
from konkurs.types.v1 import types_pb2
from konkurs_intake.domain.applications import (
    ApplicationAmended,
    ApplicationContent,
    ApplicationEvent,
    ApplicationSubmitted,
    ApplicationWithdrawn,
    Cluster,
    CoFinancing,
    ContactPerson,
    Document,
    DocumentAttached,
    Money,
    Organisation,
    Participant,
    ParticipantKind,
    SupportRequest,
)
from konkurs_intake.domain.calls import (
    REGISTRATION_ORDER,
    Aggregation,
    CallAmended,
    CallAnnounced,
    CallClosed,
    CallDefinition,
    CallEvent,
    CloseReason,
    Criterion,
    CriterionKind,
    EligibilityRules,
    LocalizedText,
    Methodology,
    ScaleStep,
)
from konkurs_intake.domain.regions import RegionSet
from konkurs_platform.envelope import Envelope
from konkurs_platform.eventstore import NewEvent
from konkurs_platform.protobuf import from_timestamp, to_timestamp, type_name

_KINDS = {
    CriterionKind.AUTOMATIC: call_pb2.CRITERION_KIND_AUTOMATIC,
    CriterionKind.EXPERT: call_pb2.CRITERION_KIND_EXPERT,
}
_STEPS = {
    ScaleStep.HALF_POINT: call_pb2.SCALE_STEP_HALF_POINT,
    ScaleStep.WHOLE_POINT: call_pb2.SCALE_STEP_WHOLE_POINT,
}
_AGGREGATIONS = {
    Aggregation.MEAN: call_pb2.AGGREGATION_MEAN,
    Aggregation.MEDIAN: call_pb2.AGGREGATION_MEDIAN,
}
_CLOSE = {
    CloseReason.SCHEDULED: events_pb2.CALL_CLOSE_REASON_SCHEDULED,
    CloseReason.MANUAL: events_pb2.CALL_CLOSE_REASON_MANUAL,
}


def _text(t: LocalizedText) -> types_pb2.LocalizedText:
    return types_pb2.LocalizedText(ru=t.ru, kk=t.kk, en=t.en)


def _untext(t: types_pb2.LocalizedText) -> LocalizedText:
    return LocalizedText(ru=t.ru, kk=t.kk, en=t.en)


def call_to_pb(d: CallDefinition) -> call_pb2.CallDefinition:
    offset = d.opens_at.utcoffset()
    return call_pb2.CallDefinition(
        title=_text(d.title),
        description=_text(d.description),
        programme=d.programme,
        opens_at=to_timestamp(d.opens_at),
        closes_at=to_timestamp(d.closes_at),
        time_zone=d.timezone,
        utc_offset_minutes=int(offset.total_seconds() // 60) if offset is not None else 0,
        quota=d.quota,
        region_set=d.region_set.value,
        accepted_region_codes=list(d.regions),
        eligibility=call_pb2.EligibilityRules(
            min_participants=d.eligibility.min_participants,
            min_sme_share_percent=d.eligibility.min_sme_share_percent,
            require_university_or_research=d.eligibility.require_university_or_research,
            required_document_kinds=list(d.eligibility.required_document_kinds),
        ),
        methodology=call_pb2.Methodology(
            criteria=[
                call_pb2.Criterion(
                    id=c.id,
                    name=_text(c.name),
                    weight_percent=c.weight,
                    scale_min=c.scale_min,
                    scale_max=c.scale_max,
                    kind=_KINDS[c.kind],
                    threshold=c.threshold,
                )
                for c in d.methodology.criteria
            ],
            overall_threshold_percent=d.methodology.overall_threshold,
            experts_per_application=d.methodology.experts_per_application,
            divergence_threshold=d.methodology.divergence_threshold,
            scale_step=_STEPS[d.methodology.scale_step],
            min_comment_chars=d.methodology.min_comment_chars,
            aggregation=_AGGREGATIONS[d.methodology.aggregation],
            blind_applicants=d.methodology.blind_applicants,
            exclude_same_region_experts=d.methodology.exclude_same_region_experts,
            evaluation_days=d.methodology.evaluation_days,
            tie_break=list(d.methodology.tie_break),
        ),
    )


def call_from_pb(m: call_pb2.CallDefinition) -> CallDefinition:
    from datetime import timedelta, timezone

    # The window is stored in UTC with the offset it was announced in, so that it reads back
    # as announced (Astana time for the 2017 call).
    tz = timezone(timedelta(minutes=m.utc_offset_minutes))
    kinds = {v: k for k, v in _KINDS.items()}
    steps = {v: k for k, v in _STEPS.items()}
    aggregations = {v: k for k, v in _AGGREGATIONS.items()}
    return CallDefinition(
        title=_untext(m.title),
        description=_untext(m.description),
        programme=m.programme,
        opens_at=from_timestamp(m.opens_at).astimezone(tz),
        closes_at=from_timestamp(m.closes_at).astimezone(tz),
        timezone=m.time_zone,
        quota=m.quota,
        region_set=RegionSet(m.region_set),
        regions=tuple(m.accepted_region_codes),
        eligibility=EligibilityRules(
            min_participants=m.eligibility.min_participants,
            min_sme_share_percent=m.eligibility.min_sme_share_percent,
            require_university_or_research=m.eligibility.require_university_or_research,
            required_document_kinds=tuple(m.eligibility.required_document_kinds),
        ),
        methodology=Methodology(
            criteria=tuple(
                Criterion(
                    id=c.id,
                    name=_untext(c.name),
                    weight=c.weight_percent,
                    scale_min=c.scale_min,
                    scale_max=c.scale_max,
                    kind=kinds[c.kind],
                    threshold=c.threshold,
                )
                for c in m.methodology.criteria
            ),
            overall_threshold=m.methodology.overall_threshold_percent,
            experts_per_application=m.methodology.experts_per_application,
            divergence_threshold=m.methodology.divergence_threshold,
            # Calls announced before these terms existed read as the defaults.
            scale_step=steps.get(m.methodology.scale_step, ScaleStep.HALF_POINT),
            min_comment_chars=m.methodology.min_comment_chars or 30,
            aggregation=aggregations.get(m.methodology.aggregation, Aggregation.MEAN),
            blind_applicants=m.methodology.blind_applicants,
            exclude_same_region_experts=m.methodology.exclude_same_region_experts,
            evaluation_days=m.methodology.evaluation_days or 14,
            tie_break=tuple(m.methodology.tie_break) or (REGISTRATION_ORDER,),
        ),
    )


CALL_ANNOUNCED = type_name(events_pb2.CallAnnounced)
CALL_AMENDED = type_name(events_pb2.CallAmended)
CALL_CLOSED = type_name(events_pb2.CallClosed)


class CallCodec:
    """`EventCodec` for the call aggregate."""

    def encode(self, event: CallEvent) -> NewEvent:
        match event:
            case CallAnnounced(call_id, definition, illustrative):
                msg = events_pb2.CallAnnounced(
                    call_id=call_id, call=call_to_pb(definition), illustrative=illustrative
                )
                return NewEvent(CALL_ANNOUNCED, msg.SerializeToString(deterministic=True))
            case CallAmended(call_id, definition):
                msg2 = events_pb2.CallAmended(call_id=call_id, call=call_to_pb(definition))
                return NewEvent(CALL_AMENDED, msg2.SerializeToString(deterministic=True))
            case CallClosed(call_id, closed_at, reason):
                msg3 = events_pb2.CallClosed(
                    call_id=call_id, closed_at=to_timestamp(closed_at), reason=_CLOSE[reason]
                )
                return NewEvent(CALL_CLOSED, msg3.SerializeToString(deterministic=True))
        raise TypeError(f"not a call event: {event!r}")

    def decode(self, envelope: Envelope) -> CallEvent:
        if envelope.event_type == CALL_ANNOUNCED:
            a = events_pb2.CallAnnounced.FromString(envelope.payload)
            return CallAnnounced(a.call_id, call_from_pb(a.call), a.illustrative)
        if envelope.event_type == CALL_AMENDED:
            b = events_pb2.CallAmended.FromString(envelope.payload)
            return CallAmended(b.call_id, call_from_pb(b.call))
        if envelope.event_type == CALL_CLOSED:
            c = events_pb2.CallClosed.FromString(envelope.payload)
            reasons = {v: k for k, v in _CLOSE.items()}
            return CallClosed(c.call_id, from_timestamp(c.closed_at), reasons[c.reason])
        raise ValueError(f"not a call event type: {envelope.event_type}")


# Applications -------------------------------------------------------------------------------

PARTICIPANT_KINDS = {
    ParticipantKind.LARGE_ENTERPRISE: application_pb2.PARTICIPANT_KIND_LARGE_ENTERPRISE,
    ParticipantKind.SME: application_pb2.PARTICIPANT_KIND_SME,
    ParticipantKind.UNIVERSITY: application_pb2.PARTICIPANT_KIND_UNIVERSITY,
    ParticipantKind.RESEARCH_ORGANISATION: application_pb2.PARTICIPANT_KIND_RESEARCH_ORGANISATION,
    ParticipantKind.PUBLIC_BODY: application_pb2.PARTICIPANT_KIND_PUBLIC_BODY,
    ParticipantKind.OTHER: application_pb2.PARTICIPANT_KIND_OTHER,
}
_KIND_OF_PB = {v: k for k, v in PARTICIPANT_KINDS.items()}


def _money(m: Money) -> types_pb2.Money:
    return types_pb2.Money(currency=m.currency, minor_units=m.minor_units)


def _unmoney(m: types_pb2.Money) -> Money:
    return Money(m.currency, m.minor_units)


def document_to_pb(d: Document) -> application_pb2.Document:
    return application_pb2.Document(
        kind=d.kind,
        filename=d.filename,
        media_type=d.media_type,
        size_bytes=d.size_bytes,
        sha256=d.sha256,
    )


def document_from_pb(d: application_pb2.Document) -> Document:
    return Document(d.kind, d.filename, d.media_type, d.size_bytes, d.sha256)


def content_to_pb(c: ApplicationContent) -> application_pb2.ApplicationContent:
    return application_pb2.ApplicationContent(
        cluster=application_pb2.Cluster(
            name=c.cluster.name,
            description=c.cluster.description,
            region_code=c.cluster.region_code,
            # Still written for the readers that have not moved to the two fields below.
            specialisation_oked_codes=list(c.cluster.specialisation),
            primary_oked_code=c.cluster.specialisation[0] if c.cluster.specialisation else "",
            related_oked_codes=list(c.cluster.specialisation[1:]),
        ),
        coordinator=application_pb2.Organisation(bin=c.coordinator.bin, name=c.coordinator.name),
        participants=[
            application_pb2.Participant(
                bin=p.bin,
                name=p.name,
                kind=PARTICIPANT_KINDS[p.kind],
                employees=p.employees,
                annual_revenue=_money(p.annual_revenue),
                export_share_percent=p.export_share_percent,
            )
            for p in c.participants
        ],
        strategy_summary=c.strategy_summary,
        requested_support=[
            application_pb2.SupportRequest(
                kind=s.kind, description=s.description, amount=_money(s.amount)
            )
            for s in c.requested_support
        ],
        co_financing=application_pb2.CoFinancing(
            amount=_money(c.co_financing.amount), share_percent=c.co_financing.share_percent
        ),
        contact=application_pb2.ContactPerson(
            name=c.contact.name, phone=c.contact.phone, email=c.contact.email
        ),
        documents=[document_to_pb(d) for d in c.documents],
    )


def content_from_pb(m: application_pb2.ApplicationContent) -> ApplicationContent:
    """The domain content of a recorded event (never of a request: requests are validated
    by the API's models first)."""
    return ApplicationContent(
        cluster=Cluster(
            m.cluster.name,
            m.cluster.description,
            m.cluster.region_code,
            (m.cluster.primary_oked_code, *m.cluster.related_oked_codes)
            if m.cluster.primary_oked_code
            else (),
        ),
        coordinator=Organisation(m.coordinator.bin, m.coordinator.name),
        participants=tuple(
            Participant(
                p.bin,
                p.name,
                _KIND_OF_PB[p.kind],
                p.employees,
                _unmoney(p.annual_revenue),
                p.export_share_percent,
            )
            for p in m.participants
        ),
        strategy_summary=m.strategy_summary,
        requested_support=tuple(
            SupportRequest(s.kind, s.description, _unmoney(s.amount)) for s in m.requested_support
        ),
        co_financing=CoFinancing(_unmoney(m.co_financing.amount), m.co_financing.share_percent),
        contact=ContactPerson(m.contact.name, m.contact.phone, m.contact.email),
        documents=tuple(document_from_pb(d) for d in m.documents),
    )


APPLICATION_SUBMITTED = type_name(events_pb2.ApplicationSubmitted)
APPLICATION_AMENDED = type_name(events_pb2.ApplicationAmended)
APPLICATION_WITHDRAWN = type_name(events_pb2.ApplicationWithdrawn)
DOCUMENT_ATTACHED = type_name(events_pb2.DocumentAttached)


# Schema version 2 of the events that carry ApplicationContent: the cluster's primary and
# related OKED codes (older versions are upcast by konkurs.intake.v1.upcasters).
CONTENT_SCHEMA_VERSION = 2


def _new(event_type: str, msg: object, schema_version: int = 1) -> NewEvent:
    payload = msg.SerializeToString(deterministic=True)  # type: ignore[attr-defined]
    return NewEvent(event_type, payload, schema_version)


class ApplicationCodec:
    """`EventCodec` for the application aggregate."""

    def encode(self, event: ApplicationEvent) -> NewEvent:
        match event:
            case ApplicationSubmitted(application_id, call_id, number, content, illustrative):
                return _new(
                    APPLICATION_SUBMITTED,
                    events_pb2.ApplicationSubmitted(
                        application_id=application_id,
                        call_id=call_id,
                        registration_number=number,
                        content=content_to_pb(content),
                        illustrative=illustrative,
                    ),
                    CONTENT_SCHEMA_VERSION,
                )
            case ApplicationAmended(application_id, revision, content):
                return _new(
                    APPLICATION_AMENDED,
                    events_pb2.ApplicationAmended(
                        application_id=application_id,
                        revision=revision,
                        content=content_to_pb(content),
                    ),
                    CONTENT_SCHEMA_VERSION,
                )
            case ApplicationWithdrawn(application_id, reason):
                return _new(
                    APPLICATION_WITHDRAWN,
                    events_pb2.ApplicationWithdrawn(application_id=application_id, reason=reason),
                )
            case DocumentAttached(application_id, document):
                return _new(
                    DOCUMENT_ATTACHED,
                    events_pb2.DocumentAttached(
                        application_id=application_id, document=document_to_pb(document)
                    ),
                )
        raise TypeError(f"not an application event: {event!r}")

    def decode(self, envelope: Envelope) -> ApplicationEvent:
        t, payload = envelope.event_type, envelope.payload
        if t == APPLICATION_SUBMITTED:
            a = events_pb2.ApplicationSubmitted.FromString(payload)
            return ApplicationSubmitted(
                a.application_id,
                a.call_id,
                a.registration_number,
                content_from_pb(a.content),
                a.illustrative,
            )
        if t == APPLICATION_AMENDED:
            b = events_pb2.ApplicationAmended.FromString(payload)
            return ApplicationAmended(b.application_id, b.revision, content_from_pb(b.content))
        if t == APPLICATION_WITHDRAWN:
            c = events_pb2.ApplicationWithdrawn.FromString(payload)
            return ApplicationWithdrawn(c.application_id, c.reason)
        if t == DOCUMENT_ATTACHED:
            d = events_pb2.DocumentAttached.FromString(payload)
            return DocumentAttached(d.application_id, document_from_pb(d.document))
        raise ValueError(f"not an application event type: {t}")
