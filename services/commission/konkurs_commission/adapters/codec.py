"""Protobuf mapping of the commission's events (`schemas/konkurs/commission/v1/events.proto`).

One codec serves every stream of the service: a codec encodes by the event's class and
decodes by the envelope's type, and the streams never share an event type.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from konkurs.commission.v1 import events_pb2 as pb
from konkurs_commission.domain import events as ev
from konkurs_platform.envelope import Envelope
from konkurs_platform.eventstore import NewEvent
from konkurs_platform.protobuf import from_timestamp, new_event, to_timestamp, type_name

_ROLES = {
    ev.MemberRole.CHAIR: pb.MEMBER_ROLE_CHAIR,
    ev.MemberRole.SECRETARY: pb.MEMBER_ROLE_SECRETARY,
    ev.MemberRole.MEMBER: pb.MEMBER_ROLE_MEMBER,
}
_CHOICES = {
    ev.VoteChoice.FOR: pb.VOTE_CHOICE_FOR,
    ev.VoteChoice.AGAINST: pb.VOTE_CHOICE_AGAINST,
    ev.VoteChoice.ABSTAIN: pb.VOTE_CHOICE_ABSTAIN,
}
_RULES = {
    ev.DecisionRule.SIMPLE_MAJORITY: pb.DECISION_RULE_SIMPLE_MAJORITY,
    ev.DecisionRule.MAJORITY_OF_PRESENT: pb.DECISION_RULE_MAJORITY_OF_PRESENT,
}
_GROUNDS = {
    ev.AppealGround.CONFLICT_OF_INTEREST: pb.APPEAL_GROUND_CONFLICT_OF_INTEREST,
    ev.AppealGround.QUORUM_OR_COUNT: pb.APPEAL_GROUND_QUORUM_OR_COUNT,
    ev.AppealGround.METHODOLOGY_NOT_FOLLOWED: pb.APPEAL_GROUND_METHODOLOGY_NOT_FOLLOWED,
    ev.AppealGround.DOCUMENTS_IGNORED: pb.APPEAL_GROUND_DOCUMENTS_IGNORED,
    ev.AppealGround.DEADLINE_OR_NOTICE: pb.APPEAL_GROUND_DEADLINE_OR_NOTICE,
    ev.AppealGround.OTHER_PROCEDURE: pb.APPEAL_GROUND_OTHER_PROCEDURE,
}
_ROLE_OF = {v: k for k, v in _ROLES.items()}
_CHOICE_OF = {v: k for k, v in _CHOICES.items()}
_RULE_OF = {v: k for k, v in _RULES.items()}
_GROUND_OF = {v: k for k, v in _GROUNDS.items()}


def _rules(r: ev.Rules) -> pb.Rules:
    return pb.Rules(
        quorum_numerator=r.quorum_numerator,
        quorum_denominator=r.quorum_denominator,
        decision_rule=_RULES[r.decision_rule],
        casting_vote=r.casting_vote,
        appeal_window_days=r.appeal_window_days,
    )


def _rules_of(r: pb.Rules) -> ev.Rules:
    return ev.Rules(
        quorum_numerator=r.quorum_numerator,
        quorum_denominator=r.quorum_denominator,
        decision_rule=_RULE_OF[r.decision_rule],
        casting_vote=r.casting_vote,
        appeal_window_days=r.appeal_window_days,
    )


def _member(m: ev.Member) -> pb.Member:
    # The name is never here: it travels sealed in MemberNamed (see the schema).
    return pb.Member(
        member_id=m.member_id,
        role=_ROLES[m.role],
        position=m.position,
        affiliation_bins=m.affiliation_bins,
    )


def _member_of(m: pb.Member) -> ev.Member:
    return ev.Member(m.member_id, _ROLE_OF[m.role], m.position, tuple(m.affiliation_bins))


def _candidate(c: ev.Candidate) -> pb.Candidate:
    return pb.Candidate(
        application_id=c.application_id,
        registration_number=c.registration_number,
        rank=c.rank,
        fundable=c.fundable,
        failed_thresholds=c.failed_thresholds,
        overall=c.overall,
        cluster_name=c.cluster_name,
        region_code=c.region_code,
        participant_bins=c.participant_bins,
        coordinator_bin=c.coordinator_bin,
    )


def _candidate_of(c: pb.Candidate) -> ev.Candidate:
    return ev.Candidate(
        c.application_id,
        c.registration_number,
        c.rank,
        c.fundable,
        tuple(c.failed_thresholds),
        c.overall,
        c.cluster_name,
        c.region_code,
        tuple(c.participant_bins),
        c.coordinator_bin,
    )


def _tally(t: ev.Tally) -> pb.Tally:
    return pb.Tally(
        votes_for=t.votes_for,
        votes_against=t.votes_against,
        abstentions=t.abstentions,
        recused=t.recused,
        not_voted=t.not_voted,
        casting_vote_used=t.casting_vote_used,
    )


def _tally_of(t: pb.Tally) -> ev.Tally:
    return ev.Tally(
        t.votes_for, t.votes_against, t.abstentions, t.recused, t.not_voted, t.casting_vote_used
    )


def _decided(d: ev.DecidedCandidate) -> pb.DecidedCandidate:
    out = pb.DecidedCandidate(
        application_id=d.application_id,
        registration_number=d.registration_number,
        rank=d.rank,
        rationale=d.rationale,
        reason=d.reason,
    )
    if d.tally is not None:
        out.tally.CopyFrom(_tally(d.tally))
    return out


def _decided_of(d: pb.DecidedCandidate) -> ev.DecidedCandidate:
    return ev.DecidedCandidate(
        d.application_id,
        d.registration_number,
        d.rank,
        _tally_of(d.tally) if d.HasField("tally") else None,
        d.rationale,
        d.reason,
    )


def to_message(event: object) -> Message:
    """The protobuf message of a domain event."""
    match event:
        case ev.CommissionComposed():
            return pb.CommissionComposed(
                call_id=event.call_id,
                composition_version=event.composition_version,
                members=[_member(m) for m in event.members],
                reason=event.reason,
                rules=_rules(event.rules),
            )
        case ev.MemberNamed():
            return pb.MemberNamed(call_id=event.call_id, member_id=event.member_id, name=event.name)
        case ev.MeetingScheduled():
            return pb.MeetingScheduled(
                meeting_id=event.meeting_id,
                call_id=event.call_id,
                scheduled_for=to_timestamp(event.scheduled_for),
                venue=event.venue,
                ranking_event_id=event.ranking_event_id,
                ranking_version=event.ranking_version,
                ranking_content_hash=event.ranking_content_hash,
                candidates=[_candidate(c) for c in event.candidates],
                quota=event.quota,
                composition_version=event.composition_version,
                members=[_member(m) for m in event.members],
                reconsidered=event.reconsidered,
                time_zone=event.time_zone,
                rules=_rules(event.rules),
            )
        case ev.MeetingOpened():
            return pb.MeetingOpened(
                meeting_id=event.meeting_id,
                present_member_ids=event.present_member_ids,
                quorum_required=event.quorum_required,
                quorum_met=event.quorum_met,
                opened_at=to_timestamp(event.opened_at),
            )
        case ev.AttendanceChanged():
            return pb.AttendanceChanged(
                meeting_id=event.meeting_id,
                member_id=event.member_id,
                present=event.present,
                quorum_met=event.quorum_met,
            )
        case ev.MemberRecused():
            return pb.MemberRecused(
                meeting_id=event.meeting_id,
                member_id=event.member_id,
                application_id=event.application_id,
                automatic=event.automatic,
                matching_bins=event.matching_bins,
                reason=event.reason,
            )
        case ev.VoteOpened():
            return pb.VoteOpened(meeting_id=event.meeting_id, application_id=event.application_id)
        case ev.VoteCast():
            return pb.VoteCast(
                meeting_id=event.meeting_id,
                application_id=event.application_id,
                member_id=event.member_id,
                choice=_CHOICES[event.choice],
                replaces=(
                    pb.VOTE_CHOICE_UNSPECIFIED
                    if event.replaces is None
                    else _CHOICES[event.replaces]
                ),
            )
        case ev.VoteClosed():
            return pb.VoteClosed(
                meeting_id=event.meeting_id,
                application_id=event.application_id,
                tally=_tally(event.tally),
                carried=event.carried,
            )
        case ev.DissentingOpinionAttached():
            return pb.DissentingOpinionAttached(
                meeting_id=event.meeting_id,
                member_id=event.member_id,
                application_id=event.application_id,
                text=event.text,
            )
        case ev.DecisionTaken():
            return pb.DecisionTaken(
                meeting_id=event.meeting_id,
                call_id=event.call_id,
                selected=[_decided(d) for d in event.selected],
                declined=[_decided(d) for d in event.declined],
                reserve_application_ids=event.reserve_application_ids,
                decided_at=to_timestamp(event.decided_at),
            )
        case ev.MinutesApproved():
            return pb.MinutesApproved(
                meeting_id=event.meeting_id,
                member_id=event.member_id,
                role=_ROLES[event.role],
                minutes_sha256=event.minutes_sha256,
            )
        case ev.DecisionPublished():
            return pb.DecisionPublished(
                meeting_id=event.meeting_id,
                call_id=event.call_id,
                selected=[_decided(d) for d in event.selected],
                declined=[_decided(d) for d in event.declined],
                reserve_application_ids=event.reserve_application_ids,
                minutes_sha256=event.minutes_sha256,
                published_at=to_timestamp(event.published_at),
                appeals_close_at=to_timestamp(event.appeals_close_at),
            )
        case ev.ClusterSelected():
            return pb.ClusterSelected(
                call_id=event.call_id,
                application_id=event.application_id,
                registration_number=event.registration_number,
                cluster_name=event.cluster_name,
                region_code=event.region_code,
                coordinator_bin=event.coordinator_bin,
                rank=event.rank,
                meeting_id=event.meeting_id,
                selected_at=to_timestamp(event.selected_at),
                from_reserve=event.from_reserve,
            )
        case ev.ApplicationDeclined():
            return pb.ApplicationDeclined(
                call_id=event.call_id,
                application_id=event.application_id,
                registration_number=event.registration_number,
                reason=event.reason,
                meeting_id=event.meeting_id,
                reserve_position=event.reserve_position,
            )
        case ev.WinnerReplaced():
            return pb.WinnerReplaced(
                meeting_id=event.meeting_id,
                withdrawn_application_id=event.withdrawn_application_id,
                cause=event.cause,
                reason=event.reason,
                replacement_application_id=event.replacement_application_id,
            )
        case ev.AppealWindowClosed():
            return pb.AppealWindowClosed(
                meeting_id=event.meeting_id, closed_at=to_timestamp(event.closed_at)
            )
        case ev.AppealLodged():
            return pb.AppealLodged(
                appeal_id=event.appeal_id,
                call_id=event.call_id,
                application_id=event.application_id,
                meeting_id=event.meeting_id,
                applicant_bin=event.applicant_bin,
                ground=_GROUNDS[event.ground],
                explanation=event.explanation,
                lodged_at=to_timestamp(event.lodged_at),
            )
        case ev.AppealPanelNamed():
            return pb.AppealPanelNamed(appeal_id=event.appeal_id, member_ids=event.member_ids)
        case ev.AppealRejected():
            return pb.AppealRejected(
                appeal_id=event.appeal_id,
                application_id=event.application_id,
                reasons=event.reasons,
                decided_by=event.decided_by,
                decided_at=to_timestamp(event.decided_at),
            )
        case ev.AppealUpheld():
            return pb.AppealUpheld(
                appeal_id=event.appeal_id,
                application_id=event.application_id,
                reasons=event.reasons,
                decided_by=event.decided_by,
                decided_at=to_timestamp(event.decided_at),
            )
        case ev.ReevaluationRequested():
            return pb.ReevaluationRequested(
                call_id=event.call_id,
                application_id=event.application_id,
                appeal_id=event.appeal_id,
                reason=event.reason,
                decided_at=to_timestamp(event.decided_at),
            )
    raise TypeError(f"not a commission event: {type(event).__name__}")


def _from(message: Message) -> Any:
    m: Any = message
    match message:
        case pb.CommissionComposed():
            return ev.CommissionComposed(
                m.call_id,
                m.composition_version,
                tuple(_member_of(x) for x in m.members),
                m.reason,
                _rules_of(m.rules),
            )
        case pb.MemberNamed():
            return ev.MemberNamed(m.call_id, m.member_id, m.name)
        case pb.MeetingScheduled():
            return ev.MeetingScheduled(
                m.meeting_id,
                m.call_id,
                from_timestamp(m.scheduled_for),
                m.venue,
                m.ranking_event_id,
                m.ranking_version,
                m.ranking_content_hash,
                tuple(_candidate_of(c) for c in m.candidates),
                m.quota,
                m.composition_version,
                tuple(_member_of(x) for x in m.members),
                tuple(m.reconsidered),
                m.time_zone,
                _rules_of(m.rules),
            )
        case pb.MeetingOpened():
            return ev.MeetingOpened(
                m.meeting_id,
                tuple(m.present_member_ids),
                m.quorum_required,
                m.quorum_met,
                from_timestamp(m.opened_at),
            )
        case pb.AttendanceChanged():
            return ev.AttendanceChanged(m.meeting_id, m.member_id, m.present, m.quorum_met)
        case pb.MemberRecused():
            return ev.MemberRecused(
                m.meeting_id,
                m.member_id,
                m.application_id,
                m.automatic,
                tuple(m.matching_bins),
                m.reason,
            )
        case pb.VoteOpened():
            return ev.VoteOpened(m.meeting_id, m.application_id)
        case pb.VoteCast():
            return ev.VoteCast(
                m.meeting_id,
                m.application_id,
                m.member_id,
                _CHOICE_OF[m.choice],
                _CHOICE_OF.get(m.replaces),
            )
        case pb.VoteClosed():
            return ev.VoteClosed(m.meeting_id, m.application_id, _tally_of(m.tally), m.carried)
        case pb.DissentingOpinionAttached():
            return ev.DissentingOpinionAttached(m.meeting_id, m.member_id, m.application_id, m.text)
        case pb.DecisionTaken():
            return ev.DecisionTaken(
                m.meeting_id,
                m.call_id,
                tuple(_decided_of(d) for d in m.selected),
                tuple(_decided_of(d) for d in m.declined),
                tuple(m.reserve_application_ids),
                from_timestamp(m.decided_at),
            )
        case pb.MinutesApproved():
            return ev.MinutesApproved(m.meeting_id, m.member_id, _ROLE_OF[m.role], m.minutes_sha256)
        case pb.DecisionPublished():
            return ev.DecisionPublished(
                m.meeting_id,
                m.call_id,
                tuple(_decided_of(d) for d in m.selected),
                tuple(_decided_of(d) for d in m.declined),
                tuple(m.reserve_application_ids),
                m.minutes_sha256,
                from_timestamp(m.published_at),
                from_timestamp(m.appeals_close_at),
            )
        case pb.ClusterSelected():
            return ev.ClusterSelected(
                m.call_id,
                m.application_id,
                m.registration_number,
                m.cluster_name,
                m.region_code,
                m.coordinator_bin,
                m.rank,
                m.meeting_id,
                from_timestamp(m.selected_at),
                m.from_reserve,
            )
        case pb.ApplicationDeclined():
            return ev.ApplicationDeclined(
                m.call_id,
                m.application_id,
                m.registration_number,
                m.reason,
                m.meeting_id,
                m.reserve_position,
            )
        case pb.WinnerReplaced():
            return ev.WinnerReplaced(
                m.meeting_id,
                m.withdrawn_application_id,
                m.cause,
                m.reason,
                m.replacement_application_id,
            )
        case pb.AppealWindowClosed():
            return ev.AppealWindowClosed(m.meeting_id, from_timestamp(m.closed_at))
        case pb.AppealLodged():
            return ev.AppealLodged(
                m.appeal_id,
                m.call_id,
                m.application_id,
                m.meeting_id,
                m.applicant_bin,
                _GROUND_OF[m.ground],
                m.explanation,
                from_timestamp(m.lodged_at),
            )
        case pb.AppealPanelNamed():
            return ev.AppealPanelNamed(m.appeal_id, tuple(m.member_ids))
        case pb.AppealRejected():
            return ev.AppealRejected(
                m.appeal_id, m.application_id, m.reasons, m.decided_by, from_timestamp(m.decided_at)
            )
        case pb.AppealUpheld():
            return ev.AppealUpheld(
                m.appeal_id, m.application_id, m.reasons, m.decided_by, from_timestamp(m.decided_at)
            )
        case pb.ReevaluationRequested():
            return ev.ReevaluationRequested(
                m.call_id, m.application_id, m.appeal_id, m.reason, from_timestamp(m.decided_at)
            )
    raise TypeError(f"not a commission event: {type(message).__name__}")


_CLASSES: dict[str, type[Message]] = {
    type_name(cls): cls
    for cls in (
        pb.CommissionComposed,
        pb.MemberNamed,
        pb.MeetingScheduled,
        pb.MeetingOpened,
        pb.AttendanceChanged,
        pb.MemberRecused,
        pb.VoteOpened,
        pb.VoteCast,
        pb.VoteClosed,
        pb.DissentingOpinionAttached,
        pb.DecisionTaken,
        pb.MinutesApproved,
        pb.DecisionPublished,
        pb.ClusterSelected,
        pb.ApplicationDeclined,
        pb.WinnerReplaced,
        pb.AppealWindowClosed,
        pb.AppealLodged,
        pb.AppealPanelNamed,
        pb.AppealRejected,
        pb.AppealUpheld,
        pb.ReevaluationRequested,
    )
}
EVENT_TYPES = tuple(_CLASSES)


def decode_event(event_type: str, payload: bytes) -> Any:
    """The domain event of a payload of `event_type`."""
    return _from(_CLASSES[event_type].FromString(payload))


class CommissionCodec:
    """Every commission event <-> its `konkurs.commission.v1` message."""

    def encode(self, event: Any) -> NewEvent:
        return new_event(to_message(event))

    def decode(self, envelope: Envelope) -> Any:
        return decode_event(envelope.event_type, envelope.payload)
