"""Protobuf mapping of the intake events (`schemas/konkurs/intake/v1`).

The domain never sees `_pb2` modules: this adapter turns its dataclasses into payloads and
back, field by field.
"""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from konkurs.intake.v1 import call_pb2, events_pb2
from konkurs.types.v1 import types_pb2
from konkurs_platform.envelope import Envelope
from konkurs_platform.eventstore import NewEvent

from konkurs_intake.domain.calls import (
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
)
from konkurs_intake.domain.regions import RegionSet

_KINDS = {
    CriterionKind.AUTOMATIC: call_pb2.CRITERION_KIND_AUTOMATIC,
    CriterionKind.EXPERT: call_pb2.CRITERION_KIND_EXPERT,
}
_CLOSE = {
    CloseReason.SCHEDULED: events_pb2.CALL_CLOSE_REASON_SCHEDULED,
    CloseReason.MANUAL: events_pb2.CALL_CLOSE_REASON_MANUAL,
}


def _ts(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value.astimezone(UTC))
    return ts


def _dt(ts: Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


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
        opens_at=_ts(d.opens_at),
        closes_at=_ts(d.closes_at),
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
        ),
    )


def call_from_pb(m: call_pb2.CallDefinition) -> CallDefinition:
    from datetime import timedelta, timezone

    # The window is stored in UTC with the offset it was announced in, so that it reads back
    # as announced (Astana time for the 2017 call).
    tz = timezone(timedelta(minutes=m.utc_offset_minutes))
    kinds = {v: k for k, v in _KINDS.items()}
    return CallDefinition(
        title=_untext(m.title),
        description=_untext(m.description),
        programme=m.programme,
        opens_at=_dt(m.opens_at).astimezone(tz),
        closes_at=_dt(m.closes_at).astimezone(tz),
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
        ),
    )


def _type(message: type) -> str:
    return str(message.DESCRIPTOR.full_name)  # type: ignore[attr-defined]


CALL_ANNOUNCED = _type(events_pb2.CallAnnounced)
CALL_AMENDED = _type(events_pb2.CallAmended)
CALL_CLOSED = _type(events_pb2.CallClosed)


class CallCodec:
    """`EventCodec` for the call aggregate."""

    def encode(self, event: CallEvent) -> NewEvent:
        match event:
            case CallAnnounced(call_id, definition):
                msg = events_pb2.CallAnnounced(call_id=call_id, call=call_to_pb(definition))
                return NewEvent(CALL_ANNOUNCED, msg.SerializeToString(deterministic=True))
            case CallAmended(call_id, definition):
                msg2 = events_pb2.CallAmended(call_id=call_id, call=call_to_pb(definition))
                return NewEvent(CALL_AMENDED, msg2.SerializeToString(deterministic=True))
            case CallClosed(call_id, closed_at, reason):
                msg3 = events_pb2.CallClosed(
                    call_id=call_id, closed_at=_ts(closed_at), reason=_CLOSE[reason]
                )
                return NewEvent(CALL_CLOSED, msg3.SerializeToString(deterministic=True))
        raise TypeError(f"not a call event: {event!r}")

    def decode(self, envelope: Envelope) -> CallEvent:
        if envelope.event_type == CALL_ANNOUNCED:
            a = events_pb2.CallAnnounced.FromString(envelope.payload)
            return CallAnnounced(a.call_id, call_from_pb(a.call))
        if envelope.event_type == CALL_AMENDED:
            b = events_pb2.CallAmended.FromString(envelope.payload)
            return CallAmended(b.call_id, call_from_pb(b.call))
        if envelope.event_type == CALL_CLOSED:
            c = events_pb2.CallClosed.FromString(envelope.payload)
            reasons = {v: k for k, v in _CLOSE.items()}
            return CallClosed(c.call_id, _dt(c.closed_at), reasons[c.reason])
        raise ValueError(f"not a call event type: {envelope.event_type}")
