"""Protobuf mapping of scoring's screening, expert and assignment events
(`schemas/konkurs/scoring/v1/{screening,experts,assignment}.proto`)."""

from __future__ import annotations

from konkurs.scoring.v1 import assignment_pb2, experts_pb2, screening_pb2
from konkurs_platform.envelope import Envelope
from konkurs_platform.eventstore import NewEvent
from konkurs_platform.protobuf import from_timestamp, new_event, to_timestamp, type_name
from konkurs_scoring.domain.assignment import (
    AssignmentCompleted,
    AssignmentEvent,
    AssignmentMode,
    AssignmentOverdue,
    ConflictDeclared,
    ExpertAssigned,
    ExpertUnassigned,
    NoConflictDeclared,
    UnassignmentCause,
)
from konkurs_scoring.domain.experts import (
    ExpertDeactivated,
    ExpertEvent,
    ExpertProfile,
    ExpertRegistered,
    ExpertUpdated,
)
from konkurs_scoring.domain.screening import (
    EligibilityAssessed,
    EligibilityOverridden,
    RuleResult,
    ScreeningEvent,
)

_MODES = {
    AssignmentMode.AUTOMATIC: assignment_pb2.ASSIGNMENT_MODE_AUTOMATIC,
    AssignmentMode.MANUAL: assignment_pb2.ASSIGNMENT_MODE_MANUAL,
    AssignmentMode.REPLACEMENT: assignment_pb2.ASSIGNMENT_MODE_REPLACEMENT,
}
_CAUSES = {
    UnassignmentCause.MANUAL: assignment_pb2.UNASSIGNMENT_CAUSE_MANUAL,
    UnassignmentCause.CONFLICT: assignment_pb2.UNASSIGNMENT_CAUSE_CONFLICT,
    UnassignmentCause.OVERDUE: assignment_pb2.UNASSIGNMENT_CAUSE_OVERDUE,
    UnassignmentCause.APPLICATION_OUT: assignment_pb2.UNASSIGNMENT_CAUSE_APPLICATION_OUT,
}
_MODE_OF = {v: k for k, v in _MODES.items()}
_CAUSE_OF = {v: k for k, v in _CAUSES.items()}


ELIGIBILITY_ASSESSED = type_name(screening_pb2.EligibilityAssessed)
ELIGIBILITY_OVERRIDDEN = type_name(screening_pb2.EligibilityOverridden)


class ScreeningCodec:
    """Screening events <-> `konkurs.scoring.v1` screening messages."""

    def encode(self, event: ScreeningEvent) -> NewEvent:
        match event:
            case EligibilityAssessed():
                return new_event(
                    screening_pb2.EligibilityAssessed(
                        application_id=event.application_id,
                        call_id=event.call_id,
                        application_version=event.application_version,
                        call_version=event.call_version,
                        eligible=event.eligible,
                        results=[
                            screening_pb2.RuleResult(
                                rule=r.rule, passed=r.passed, required=r.required, found=r.found
                            )
                            for r in event.results
                        ],
                    )
                )
            case EligibilityOverridden():
                return new_event(
                    screening_pb2.EligibilityOverridden(
                        application_id=event.application_id,
                        call_id=event.call_id,
                        eligible=event.eligible,
                        justification=event.justification,
                        overrides_version=event.overrides_version,
                    )
                )
        raise AssertionError(f"unknown event {event!r}")

    def decode(self, envelope: Envelope) -> ScreeningEvent:
        if envelope.event_type == ELIGIBILITY_ASSESSED:
            a = screening_pb2.EligibilityAssessed.FromString(envelope.payload)
            return EligibilityAssessed(
                a.application_id,
                a.call_id,
                a.application_version,
                a.call_version,
                a.eligible,
                tuple(RuleResult(r.rule, r.passed, r.required, r.found) for r in a.results),
            )
        if envelope.event_type == ELIGIBILITY_OVERRIDDEN:
            o = screening_pb2.EligibilityOverridden.FromString(envelope.payload)
            return EligibilityOverridden(
                o.application_id, o.call_id, o.eligible, o.justification, o.overrides_version
            )
        raise ValueError(f"not a screening event: {envelope.event_type}")


def _profile_pb(p: ExpertProfile) -> experts_pb2.ExpertProfile:
    return experts_pb2.ExpertProfile(
        name=p.name,
        affiliation_bins=list(p.affiliation_bins),
        region_codes=list(p.region_codes),
        oked_sections=list(p.oked_sections),
        languages=list(p.languages),
    )


def _profile(m: experts_pb2.ExpertProfile) -> ExpertProfile:
    return ExpertProfile(
        m.name,
        tuple(m.affiliation_bins),
        tuple(m.region_codes),
        tuple(m.oked_sections),
        tuple(m.languages),
    )


EXPERT_REGISTERED = type_name(experts_pb2.ExpertRegistered)
EXPERT_UPDATED = type_name(experts_pb2.ExpertUpdated)
EXPERT_DEACTIVATED = type_name(experts_pb2.ExpertDeactivated)


class ExpertCodec:
    """Expert events <-> `konkurs.scoring.v1` expert messages (the name is sealed by the
    store, not here: see `SealingEventStore`)."""

    def encode(self, event: ExpertEvent) -> NewEvent:
        match event:
            case ExpertRegistered():
                return new_event(
                    experts_pb2.ExpertRegistered(
                        expert_id=event.expert_id, profile=_profile_pb(event.profile)
                    )
                )
            case ExpertUpdated():
                return new_event(
                    experts_pb2.ExpertUpdated(
                        expert_id=event.expert_id, profile=_profile_pb(event.profile)
                    )
                )
            case ExpertDeactivated():
                return new_event(
                    experts_pb2.ExpertDeactivated(expert_id=event.expert_id, reason=event.reason)
                )
        raise AssertionError(f"unknown event {event!r}")

    def decode(self, envelope: Envelope) -> ExpertEvent:
        match envelope.event_type:
            case t if t == EXPERT_REGISTERED:
                r = experts_pb2.ExpertRegistered.FromString(envelope.payload)
                return ExpertRegistered(r.expert_id, _profile(r.profile))
            case t if t == EXPERT_UPDATED:
                u = experts_pb2.ExpertUpdated.FromString(envelope.payload)
                return ExpertUpdated(u.expert_id, _profile(u.profile))
            case t if t == EXPERT_DEACTIVATED:
                d = experts_pb2.ExpertDeactivated.FromString(envelope.payload)
                return ExpertDeactivated(d.expert_id, d.reason)
        raise ValueError(f"not an expert event: {envelope.event_type}")


EXPERT_ASSIGNED = type_name(assignment_pb2.ExpertAssigned)
EXPERT_UNASSIGNED = type_name(assignment_pb2.ExpertUnassigned)
CONFLICT_DECLARED = type_name(assignment_pb2.ConflictDeclared)
NO_CONFLICT_DECLARED = type_name(assignment_pb2.NoConflictDeclared)
ASSIGNMENT_OVERDUE = type_name(assignment_pb2.AssignmentOverdue)
ASSIGNMENT_COMPLETED = type_name(assignment_pb2.AssignmentCompleted)


class AssignmentCodec:
    """Assignment events <-> `konkurs.scoring.v1` assignment messages."""

    def encode(self, event: AssignmentEvent) -> NewEvent:
        match event:
            case ExpertAssigned():
                return new_event(
                    assignment_pb2.ExpertAssigned(
                        application_id=event.application_id,
                        call_id=event.call_id,
                        expert_id=event.expert_id,
                        mode=_MODES[event.mode],
                        reason=event.reason,
                        assigned_at=to_timestamp(event.assigned_at),
                        due_at=to_timestamp(event.due_at),
                    )
                )
            case ExpertUnassigned():
                return new_event(
                    assignment_pb2.ExpertUnassigned(
                        application_id=event.application_id,
                        expert_id=event.expert_id,
                        cause=_CAUSES[event.cause],
                        reason=event.reason,
                    )
                )
            case ConflictDeclared():
                return new_event(
                    assignment_pb2.ConflictDeclared(
                        application_id=event.application_id,
                        expert_id=event.expert_id,
                        nature=event.nature,
                    )
                )
            case NoConflictDeclared():
                return new_event(
                    assignment_pb2.NoConflictDeclared(
                        application_id=event.application_id, expert_id=event.expert_id
                    )
                )
            case AssignmentOverdue():
                return new_event(
                    assignment_pb2.AssignmentOverdue(
                        application_id=event.application_id,
                        expert_id=event.expert_id,
                        due_at=to_timestamp(event.due_at),
                    )
                )
            case AssignmentCompleted():
                return new_event(
                    assignment_pb2.AssignmentCompleted(
                        application_id=event.application_id,
                        expert_id=event.expert_id,
                        round=event.round,
                        completed_at=to_timestamp(event.completed_at),
                    )
                )
        raise AssertionError(f"unknown event {event!r}")

    def decode(self, envelope: Envelope) -> AssignmentEvent:
        payload = envelope.payload
        match envelope.event_type:
            case t if t == EXPERT_ASSIGNED:
                a = assignment_pb2.ExpertAssigned.FromString(payload)
                return ExpertAssigned(
                    a.application_id,
                    a.call_id,
                    a.expert_id,
                    _MODE_OF[a.mode],
                    a.reason,
                    from_timestamp(a.assigned_at),
                    from_timestamp(a.due_at),
                )
            case t if t == EXPERT_UNASSIGNED:
                u = assignment_pb2.ExpertUnassigned.FromString(payload)
                return ExpertUnassigned(u.application_id, u.expert_id, _CAUSE_OF[u.cause], u.reason)
            case t if t == CONFLICT_DECLARED:
                c = assignment_pb2.ConflictDeclared.FromString(payload)
                return ConflictDeclared(c.application_id, c.expert_id, c.nature)
            case t if t == NO_CONFLICT_DECLARED:
                n = assignment_pb2.NoConflictDeclared.FromString(payload)
                return NoConflictDeclared(n.application_id, n.expert_id)
            case t if t == ASSIGNMENT_OVERDUE:
                o = assignment_pb2.AssignmentOverdue.FromString(payload)
                return AssignmentOverdue(o.application_id, o.expert_id, from_timestamp(o.due_at))
            case t if t == ASSIGNMENT_COMPLETED:
                done = assignment_pb2.AssignmentCompleted.FromString(payload)
                return AssignmentCompleted(
                    done.application_id,
                    done.expert_id,
                    done.round,
                    from_timestamp(done.completed_at),
                )
        raise ValueError(f"not an assignment event: {envelope.event_type}")
