"""Protobuf mapping of the plan events (`schemas/konkurs/plans/v1/events.proto`).

Dates travel as ISO 8601 strings (calendar dates in the call's time zone) and amounts and
values as exact decimal strings, so nothing passes through a float.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from konkurs.plans.v1 import events_pb2 as pb
from konkurs_plans.domain.plans import (
    Direction,
    Disbursement,
    DisbursementMade,
    Indicator,
    IndicatorActual,
    Milestone,
    MilestoneOverdue,
    MilestoneStatus,
    MilestoneTransition,
    PlanApproved,
    PlanContent,
    PlanDrafted,
    PlanEvent,
    PlanOpened,
    PlanReturned,
    PlanSubmitted,
    ReportAccepted,
    ReportOverdue,
    ReportReturned,
    ReportSubmitted,
    SupportMeasure,
    Target,
)
from konkurs_plans.domain.programme import Period, Phase
from konkurs_platform.envelope import Envelope
from konkurs_platform.eventstore import NewEvent
from konkurs_platform.protobuf import from_timestamp, new_event, to_timestamp, type_name

PLAN_OPENED = type_name(pb.PlanOpened)
PLAN_DRAFTED = type_name(pb.PlanDrafted)
PLAN_SUBMITTED = type_name(pb.PlanSubmitted)
PLAN_RETURNED = type_name(pb.PlanReturned)
PLAN_APPROVED = type_name(pb.PlanApproved)
REPORT_SUBMITTED = type_name(pb.ReportSubmitted)
REPORT_RETURNED = type_name(pb.ReportReturned)
REPORT_ACCEPTED = type_name(pb.ReportAccepted)
MILESTONE_OVERDUE = type_name(pb.MilestoneOverdue)
REPORT_OVERDUE = type_name(pb.ReportOverdue)

_STATUS = {
    MilestoneStatus.SCHEDULED: pb.MILESTONE_STATUS_SCHEDULED,
    MilestoneStatus.MET: pb.MILESTONE_STATUS_MET,
    MilestoneStatus.PARTLY_MET: pb.MILESTONE_STATUS_PARTLY_MET,
    MilestoneStatus.NOT_MET: pb.MILESTONE_STATUS_NOT_MET,
    MilestoneStatus.CANCELLED: pb.MILESTONE_STATUS_CANCELLED,
}
_STATUS_OF_PB = {v: k for k, v in _STATUS.items()}
_DIRECTION = {
    Direction.INCREASING: pb.DIRECTION_INCREASING,
    Direction.DECREASING: pb.DIRECTION_DECREASING,
}
_DIRECTION_OF_PB = {v: k for k, v in _DIRECTION.items()}


def _day(value: str) -> date:
    return date.fromisoformat(value)


def _maybe_day(value: str) -> date | None:
    return date.fromisoformat(value) if value else None


def _disbursement(d: Disbursement) -> pb.Disbursement:
    return pb.Disbursement(on=d.on.isoformat(), amount=str(d.amount))


def _undisbursement(d: Any) -> Disbursement:
    return Disbursement(_day(d.on), Decimal(d.amount))


def encode_content(content: PlanContent) -> pb.PlanContent:
    """A plan's content as its protobuf message."""
    return pb.PlanContent(
        milestones=[
            pb.Milestone(
                milestone_id=m.milestone_id,
                title=m.title,
                phase_id=m.phase_id,
                owner=m.owner,
                due_on=m.due_on.isoformat(),
                status=_STATUS[m.status],
                met_on=m.met_on.isoformat() if m.met_on else "",
            )
            for m in content.milestones
        ],
        indicators=[
            pb.Indicator(
                code=x.code,
                name=x.name,
                unit=x.unit,
                direction=_DIRECTION[x.direction],
                baseline_year=x.baseline_year,
                baseline_value=str(x.baseline_value),
                targets=[pb.Target(period_id=t.period_id, value=str(t.value)) for t in x.targets],
            )
            for x in content.indicators
        ],
        support_measures=[
            pb.SupportMeasure(
                measure_id=s.measure_id,
                kind=s.kind,
                amount=str(s.amount),
                budget_source=s.budget_source,
                planned=[_disbursement(d) for d in s.planned],
            )
            for s in content.support_measures
        ],
        summary=content.summary,
    )


def decode_content(c: pb.PlanContent) -> PlanContent:
    """A plan's content from its protobuf message."""
    return PlanContent(
        milestones=tuple(
            Milestone(
                m.milestone_id,
                m.title,
                m.phase_id,
                m.owner,
                _day(m.due_on),
                _STATUS_OF_PB[m.status],
                _maybe_day(m.met_on),
            )
            for m in c.milestones
        ),
        indicators=tuple(
            Indicator(
                x.code,
                x.name,
                x.unit,
                _DIRECTION_OF_PB[x.direction],
                x.baseline_year,
                Decimal(x.baseline_value),
                tuple(Target(t.period_id, Decimal(t.value)) for t in x.targets),
            )
            for x in c.indicators
        ),
        support_measures=tuple(
            SupportMeasure(
                s.measure_id,
                s.kind,
                Decimal(s.amount),
                s.budget_source,
                tuple(_undisbursement(d) for d in s.planned),
            )
            for s in c.support_measures
        ),
        summary=c.summary,
    )


def _phases(phases: Iterable[Phase]) -> list[pb.Phase]:
    return [
        pb.Phase(
            phase_id=p.phase_id,
            name_ru=p.name_ru,
            name_kk=p.name_kk,
            name_en=p.name_en,
            starts_on=p.starts_on.isoformat(),
            ends_on=p.ends_on.isoformat(),
        )
        for p in phases
    ]


def _periods(periods: Iterable[Period]) -> list[pb.ReportingPeriod]:
    return [
        pb.ReportingPeriod(
            period_id=p.period_id,
            starts_on=p.starts_on.isoformat(),
            ends_on=p.ends_on.isoformat(),
            report_due_on=p.report_due_on.isoformat(),
        )
        for p in periods
    ]


class PlanCodec:
    """`EventCodec` for the plan aggregate."""

    def encode(self, event: PlanEvent) -> NewEvent:
        match event:
            case PlanOpened():
                return new_event(
                    pb.PlanOpened(
                        plan_id=event.plan_id,
                        call_id=event.call_id,
                        registration_number=event.registration_number,
                        cluster_name=event.cluster_name,
                        region_code=event.region_code,
                        coordinator_bin=event.coordinator_bin,
                        phases=_phases(event.phases),
                        periods=_periods(event.periods),
                        time_zone=event.time_zone,
                        selection_event_id=event.selection_event_id,
                    )
                )
            case PlanDrafted():
                return new_event(
                    pb.PlanDrafted(
                        plan_id=event.plan_id,
                        version=event.version,
                        content=encode_content(event.content),
                        reason=event.reason,
                    )
                )
            case PlanSubmitted():
                return new_event(pb.PlanSubmitted(plan_id=event.plan_id, version=event.version))
            case PlanReturned():
                return new_event(
                    pb.PlanReturned(
                        plan_id=event.plan_id, version=event.version, comments=event.comments
                    )
                )
            case PlanApproved():
                return new_event(
                    pb.PlanApproved(
                        plan_id=event.plan_id,
                        version=event.version,
                        effective_from=to_timestamp(event.effective_from),
                    )
                )
            case ReportSubmitted():
                return new_event(
                    pb.ReportSubmitted(
                        plan_id=event.plan_id,
                        period_id=event.period_id,
                        plan_version=event.plan_version,
                        actuals=[
                            pb.IndicatorActual(
                                code=a.code,
                                value=str(a.value),
                                evidence_sha256=a.evidence_sha256,
                            )
                            for a in event.actuals
                        ],
                        milestones=[
                            pb.MilestoneTransition(
                                milestone_id=t.milestone_id,
                                status=_STATUS[t.status],
                                met_on=t.met_on.isoformat() if t.met_on else "",
                            )
                            for t in event.milestones
                        ],
                        disbursements=[
                            pb.DisbursementMade(
                                measure_id=d.measure_id,
                                disbursement=_disbursement(d.disbursement),
                            )
                            for d in event.disbursements
                        ],
                        narrative=event.narrative,
                    )
                )
            case ReportReturned():
                return new_event(
                    pb.ReportReturned(
                        plan_id=event.plan_id, period_id=event.period_id, comments=event.comments
                    )
                )
            case ReportAccepted():
                return new_event(
                    pb.ReportAccepted(plan_id=event.plan_id, period_id=event.period_id)
                )
            case MilestoneOverdue():
                return new_event(
                    pb.MilestoneOverdue(
                        plan_id=event.plan_id,
                        milestone_id=event.milestone_id,
                        due_on=event.due_on.isoformat(),
                    )
                )
            case ReportOverdue():
                return new_event(
                    pb.ReportOverdue(
                        plan_id=event.plan_id,
                        period_id=event.period_id,
                        due_on=event.due_on.isoformat(),
                    )
                )
        raise TypeError(f"not a plan event: {event!r}")

    def decode(self, envelope: Envelope) -> PlanEvent:
        t, data = envelope.event_type, envelope.payload
        if t == PLAN_OPENED:
            o = pb.PlanOpened.FromString(data)
            return PlanOpened(
                o.plan_id,
                o.call_id,
                o.registration_number,
                o.cluster_name,
                o.region_code,
                o.coordinator_bin,
                tuple(
                    Phase(
                        p.phase_id,
                        p.name_ru,
                        p.name_kk,
                        p.name_en,
                        _day(p.starts_on),
                        _day(p.ends_on),
                    )
                    for p in o.phases
                ),
                tuple(
                    Period(p.period_id, _day(p.starts_on), _day(p.ends_on), _day(p.report_due_on))
                    for p in o.periods
                ),
                o.time_zone,
                o.selection_event_id,
            )
        if t == PLAN_DRAFTED:
            d = pb.PlanDrafted.FromString(data)
            return PlanDrafted(d.plan_id, d.version, decode_content(d.content), d.reason)
        if t == PLAN_SUBMITTED:
            s = pb.PlanSubmitted.FromString(data)
            return PlanSubmitted(s.plan_id, s.version)
        if t == PLAN_RETURNED:
            r = pb.PlanReturned.FromString(data)
            return PlanReturned(r.plan_id, r.version, r.comments)
        if t == PLAN_APPROVED:
            a = pb.PlanApproved.FromString(data)
            return PlanApproved(a.plan_id, a.version, from_timestamp(a.effective_from))
        if t == REPORT_SUBMITTED:
            s2 = pb.ReportSubmitted.FromString(data)
            return ReportSubmitted(
                s2.plan_id,
                s2.period_id,
                s2.plan_version,
                tuple(
                    IndicatorActual(a.code, Decimal(a.value), tuple(a.evidence_sha256))
                    for a in s2.actuals
                ),
                tuple(
                    MilestoneTransition(
                        m.milestone_id, _STATUS_OF_PB[m.status], _maybe_day(m.met_on)
                    )
                    for m in s2.milestones
                ),
                tuple(
                    DisbursementMade(d.measure_id, _undisbursement(d.disbursement))
                    for d in s2.disbursements
                ),
                s2.narrative,
            )
        if t == REPORT_RETURNED:
            rr = pb.ReportReturned.FromString(data)
            return ReportReturned(rr.plan_id, rr.period_id, rr.comments)
        if t == REPORT_ACCEPTED:
            ra = pb.ReportAccepted.FromString(data)
            return ReportAccepted(ra.plan_id, ra.period_id)
        if t == MILESTONE_OVERDUE:
            mo = pb.MilestoneOverdue.FromString(data)
            return MilestoneOverdue(mo.plan_id, mo.milestone_id, _day(mo.due_on))
        if t == REPORT_OVERDUE:
            ro = pb.ReportOverdue.FromString(data)
            return ReportOverdue(ro.plan_id, ro.period_id, _day(ro.due_on))
        raise TypeError(f"not a plan event: {t}")
