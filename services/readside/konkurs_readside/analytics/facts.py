"""Every service's events as analytics facts (`konkurs.analytics.v1`): the mapping, and the
Kafka record each fact travels in.

A fact's id is derived from its source event's id (and its place among the facts of that
event), and its bytes from the event alone (plus what earlier events of the same stream
said, see `Memory`): replaying or redelivering an event gives the same record, so a consumer
that deduplicates by `ce_id` sees each fact once.

What stays out, by construction: every free text (names, descriptions, reasons, comments,
narratives: any may name a person), every person (members, experts and actors appear
neither by name nor by id) and every organisation's identity, except the coordinator of a
selected cluster, published by law with the commission's decision. The messages of
`konkurs.analytics.v1` have no field that could hold any of these.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from fractions import Fraction
from typing import TypeVar

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from konkurs.analytics.v1 import facts_pb2 as fact
from konkurs.commission.v1 import events_pb2 as commission
from konkurs.intake.v1 import application_pb2
from konkurs.intake.v1 import events_pb2 as intake
from konkurs.plans.v1 import events_pb2 as plans
from konkurs.scoring.v1 import evaluation_pb2, ranking_pb2, screening_pb2
from konkurs_platform.envelope import Envelope, derive_event_id

# The "consumer" part of derived fact ids (`derive_event_id`): never to change, or every
# fact would get a new id and a deduplicating consumer would count them twice.
FEED = "analytics"
CONTENT_TYPE = "application/protobuf"
SPEC_VERSION = "1.0"

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class Fact:
    """One fact and what its record needs: id, key (the call), headers and bytes."""

    id: uuid.UUID
    call_id: str
    message: Message
    source: Envelope

    @property
    def type(self) -> str:
        """The CloudEvents type: the full protobuf name of the message."""
        return str(self.message.DESCRIPTOR.full_name)

    def key(self) -> bytes:
        """The call: Kafka keeps one key's records in order, so each call's facts stay in
        the order they were produced."""
        return self.call_id.encode()

    def value(self) -> bytes:
        """The message, serialised deterministically: a replay writes the same bytes."""
        return self.message.SerializeToString(deterministic=True)

    def headers(self) -> Headers:
        """CloudEvents 1.0 attributes in the Kafka protocol binding's binary mode."""
        service = self.source.event_type.split(".")[1]
        time = self.source.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return [
            ("ce_specversion", SPEC_VERSION.encode()),
            ("ce_id", str(self.id).encode()),
            ("ce_source", f"/konkurs/{service}".encode()),
            ("ce_type", self.type.encode()),
            ("ce_time", time.encode()),
            ("ce_subject", self.call_id.encode()),
            ("content-type", CONTENT_TYPE.encode()),
        ]


@dataclass
class Memory:
    """What a fact needs from an earlier event of its own stream: the call of a plan, an
    appeal or a meeting, and the report an acceptance accepts.

    A stream's events share one partition and arrive in order, so the owner of a partition
    has seen the earlier event before the later one; after a restart it relearns them by
    reading its partitions of the topics in `LEARNED_FROM` from the beginning (`learn`).
    """

    call_of_plan: dict[str, str] = field(default_factory=dict)
    call_of_appeal: dict[str, str] = field(default_factory=dict)
    call_of_meeting: dict[str, str] = field(default_factory=dict)
    reports: dict[tuple[str, str], plans.ReportSubmitted] = field(default_factory=dict)

    def learn(self, envelope: Envelope) -> None:
        """Remember what later events of `envelope`'s stream will need."""
        t = envelope.event_type
        if t == plans.PlanOpened.DESCRIPTOR.full_name:
            opened = _parse(plans.PlanOpened, envelope)
            self.call_of_plan[opened.plan_id] = opened.call_id
        elif t == commission.MeetingScheduled.DESCRIPTOR.full_name:
            scheduled = _parse(commission.MeetingScheduled, envelope)
            self.call_of_meeting[scheduled.meeting_id] = scheduled.call_id
        elif t == commission.AppealLodged.DESCRIPTOR.full_name:
            lodged = _parse(commission.AppealLodged, envelope)
            self.call_of_appeal[lodged.appeal_id] = lodged.call_id
        elif t == plans.ReportSubmitted.DESCRIPTOR.full_name:
            report = _parse(plans.ReportSubmitted, envelope)
            # A report resubmitted after a return replaces the earlier submission.
            self.reports[(report.plan_id, report.period_id)] = report


# The contexts whose events `Memory` learns from (the services publishing them).
LEARNED_FROM = ("commission", "plans")


def facts_of(envelope: Envelope, memory: Memory) -> list[Fact]:
    """The facts of one (upcast) event, in order; none for an event the feed leaves out.

    Raises `ValueError` for a payload that does not parse as its event type."""
    memory.learn(envelope)
    mapper = _MAPPERS.get(envelope.event_type)
    if mapper is None:
        return []
    return [
        Fact(derive_event_id(envelope.event_id, FEED, index), call_id, message, envelope)
        for index, (call_id, message) in enumerate(mapper(envelope, memory))
        # A plan, appeal or meeting whose opening event is not in the log has no call to key
        # by.
        if call_id
    ]


def event_types() -> frozenset[str]:
    """The event types that become facts."""
    return frozenset(_MAPPERS)


# --- mapping -------------------------------------------------------------------------------

Keyed = tuple[str, Message]
Mapper = Callable[[Envelope, Memory], Iterable[Keyed]]


M = TypeVar("M", bound=Message)


def _parse(message_type: type[M], envelope: Envelope) -> M:
    message = message_type()
    try:
        message.ParseFromString(envelope.payload)
    except Exception as exc:  # protobuf's DecodeError and its relatives
        raise ValueError(f"{envelope.event_type} payload does not parse: {exc}") from exc
    return message


def _origin(envelope: Envelope) -> fact.Origin:
    occurred_at = Timestamp()
    occurred_at.FromDatetime(envelope.occurred_at.astimezone(UTC))
    return fact.Origin(
        event_id=str(envelope.event_id),
        event_type=envelope.event_type,
        occurred_at=occurred_at,
        imported=envelope.imported,
    )


def _score(numerator: int, denominator: int) -> fact.Score:
    value = float(Fraction(numerator, denominator)) if denominator else 0.0
    return fact.Score(numerator=numerator, denominator=denominator, value=value)


_KINDS = {
    application_pb2.PARTICIPANT_KIND_SME: "sme",
    application_pb2.PARTICIPANT_KIND_LARGE_ENTERPRISE: "large_enterprise",
    application_pb2.PARTICIPANT_KIND_UNIVERSITY: "university",
    application_pb2.PARTICIPANT_KIND_RESEARCH_ORGANISATION: "research_organisation",
    application_pb2.PARTICIPANT_KIND_PUBLIC_BODY: "public_body",
}


def _participant_counts(
    participants: Sequence[application_pb2.Participant],
) -> fact.ParticipantCounts:
    counts = fact.ParticipantCounts(total=len(participants))
    for p in participants:
        name = _KINDS.get(p.kind, "other")
        setattr(counts, name, getattr(counts, name) + 1)
    return counts


def _call_announced(e: Envelope, _: Memory) -> Iterable[Keyed]:
    m = _parse(intake.CallAnnounced, e)
    yield (
        m.call_id,
        fact.CallAnnounced(
            call_id=m.call_id,
            origin=_origin(e),
            opens_at=m.call.opens_at,
            closes_at=m.call.closes_at,
            quota=m.call.quota,
            accepted_region_codes=m.call.accepted_region_codes,
            illustrative=m.illustrative,
        ),
    )


def _application_received(e: Envelope, _: Memory) -> Iterable[Keyed]:
    m = _parse(intake.ApplicationSubmitted, e)
    content = m.content
    counts = _participant_counts(content.participants)
    support: dict[str, int] = {}
    for request in content.requested_support:
        currency = request.amount.currency
        support[currency] = support.get(currency, 0) + request.amount.minor_units
    yield (
        m.call_id,
        fact.ApplicationReceived(
            call_id=m.call_id,
            origin=_origin(e),
            application_id=m.application_id,
            region_code=content.cluster.region_code,
            primary_oked_code=content.cluster.primary_oked_code,
            related_oked_codes=content.cluster.related_oked_codes,
            participants=counts,
            # As the eligibility rule computes it: whole percent, rounded down.
            sme_share_percent=(100 * counts.sme) // counts.total if counts.total else 0,
            employees=sum(p.employees for p in content.participants),
            requested_support=[
                fact.Amount(currency=c, minor_units=support[c]) for c in sorted(support)
            ],
            co_financing_share_percent=content.co_financing.share_percent,
            illustrative=m.illustrative,
        ),
    )


def _eligibility_assessed(e: Envelope, _: Memory) -> Iterable[Keyed]:
    m = _parse(screening_pb2.EligibilityAssessed, e)
    yield (
        m.call_id,
        fact.EligibilityDetermined(
            call_id=m.call_id,
            origin=_origin(e),
            application_id=m.application_id,
            eligible=m.eligible,
            rules=[fact.RuleOutcome(rule=r.rule, passed=r.passed) for r in m.results],
        ),
    )


def _eligibility_overridden(e: Envelope, _: Memory) -> Iterable[Keyed]:
    m = _parse(screening_pb2.EligibilityOverridden, e)
    yield (
        m.call_id,
        fact.EligibilityDetermined(
            call_id=m.call_id,
            origin=_origin(e),
            application_id=m.application_id,
            eligible=m.eligible,
            overridden=True,
        ),
    )


_BASES = {
    evaluation_pb2.SCORE_BASIS_AUTOMATIC: "automatic",
    evaluation_pb2.SCORE_BASIS_EXPERTS: "experts",
    evaluation_pb2.SCORE_BASIS_CONSENSUS: "consensus",
}


def _evaluation_finalised(e: Envelope, _: Memory) -> Iterable[Keyed]:
    m = _parse(evaluation_pb2.EvaluationFinalised, e)
    yield (
        m.call_id,
        fact.EvaluationFinalised(
            call_id=m.call_id,
            origin=_origin(e),
            application_id=m.application_id,
            round=m.round,
            criteria=[
                fact.CriterionScore(
                    criterion_id=s.criterion_id,
                    score=_score(s.score.numerator, s.score.denominator),
                    basis=_BASES.get(s.basis, ""),
                )
                for s in m.scores
            ],
            overall=_score(m.overall.numerator, m.overall.denominator),
            fundable=m.fundable,
            failed_thresholds=m.failed_thresholds,
            experts=len(m.expert_ids),
        ),
    )


def _ranking_published(e: Envelope, _: Memory) -> Iterable[Keyed]:
    m = _parse(ranking_pb2.RankingPublished, e)
    yield (
        m.call_id,
        fact.RankingPublished(
            call_id=m.call_id,
            origin=_origin(e),
            ranking_version=m.ranking_version,
            positions=[
                fact.RankingPosition(
                    rank=entry.rank,
                    application_id=entry.application_id,
                    overall=_score(entry.overall.numerator, entry.overall.denominator),
                    fundable=entry.fundable,
                    failed_thresholds=entry.failed_thresholds,
                )
                for entry in m.entries
            ],
        ),
    )


def _decided(candidates: Iterable[commission.DecidedCandidate]) -> list[fact.DecidedCandidate]:
    out = []
    for c in candidates:
        decided = fact.DecidedCandidate(
            application_id=c.application_id,
            rank=c.rank,
            departs_from_ranking=bool(c.rationale),
        )
        if c.HasField("tally"):
            t = c.tally
            decided.tally.CopyFrom(
                fact.Tally(
                    votes_for=t.votes_for,
                    votes_against=t.votes_against,
                    abstentions=t.abstentions,
                    recused=t.recused,
                    not_voted=t.not_voted,
                    casting_vote_used=t.casting_vote_used,
                )
            )
        out.append(decided)
    return out


def _decision_published(e: Envelope, _: Memory) -> Iterable[Keyed]:
    m = _parse(commission.DecisionPublished, e)
    yield (
        m.call_id,
        fact.DecisionPublished(
            call_id=m.call_id,
            origin=_origin(e),
            meeting_id=m.meeting_id,
            selected=_decided(m.selected),
            declined=_decided(m.declined),
            reserve_application_ids=m.reserve_application_ids,
            appeals_close_at=m.appeals_close_at,
        ),
    )


def _cluster_selected(e: Envelope, _: Memory) -> Iterable[Keyed]:
    m = _parse(commission.ClusterSelected, e)
    yield (
        m.call_id,
        fact.ClusterSelected(
            call_id=m.call_id,
            origin=_origin(e),
            application_id=m.application_id,
            cluster_name=m.cluster_name,
            region_code=m.region_code,
            coordinator_bin=m.coordinator_bin,
            rank=m.rank,
            from_reserve=m.from_reserve,
        ),
    )


_CAUSES = frozenset({"withdrawn", "disqualified"})


def _winner_replaced(e: Envelope, memory: Memory) -> Iterable[Keyed]:
    m = _parse(commission.WinnerReplaced, e)
    call_id = memory.call_of_meeting.get(m.meeting_id, "")
    yield (
        call_id,
        fact.WinnerReplaced(
            call_id=call_id,
            origin=_origin(e),
            meeting_id=m.meeting_id,
            withdrawn_application_id=m.withdrawn_application_id,
            # A code by contract; anything else, which might be words, is not passed on.
            cause=m.cause if m.cause in _CAUSES else "other",
            replacement_application_id=m.replacement_application_id,
        ),
    )


def _enum_slug(enum_prefix: str, name: str) -> str:
    """`APPEAL_GROUND_CONFLICT_OF_INTEREST` as `conflict_of_interest`."""
    return name.removeprefix(enum_prefix).lower()


def _appeal_lodged(e: Envelope, _: Memory) -> Iterable[Keyed]:
    m = _parse(commission.AppealLodged, e)
    yield (
        m.call_id,
        fact.AppealLodged(
            call_id=m.call_id,
            origin=_origin(e),
            appeal_id=m.appeal_id,
            application_id=m.application_id,
            ground=_enum_slug("APPEAL_GROUND_", commission.AppealGround.Name(m.ground)),
        ),
    )


def _appeal_decided(upheld: bool) -> Mapper:
    message_type: type[commission.AppealUpheld | commission.AppealRejected] = (
        commission.AppealUpheld if upheld else commission.AppealRejected
    )

    def mapper(e: Envelope, memory: Memory) -> Iterable[Keyed]:
        m = _parse(message_type, e)
        call_id = memory.call_of_appeal.get(m.appeal_id, "")
        yield (
            call_id,
            fact.AppealDecided(
                call_id=call_id,
                origin=_origin(e),
                appeal_id=m.appeal_id,
                application_id=m.application_id,
                upheld=upheld,
            ),
        )

    return mapper


def _plan_approved(e: Envelope, memory: Memory) -> Iterable[Keyed]:
    m = _parse(plans.PlanApproved, e)
    call_id = memory.call_of_plan.get(m.plan_id, "")
    yield (
        call_id,
        fact.PlanApproved(
            call_id=call_id,
            origin=_origin(e),
            plan_id=m.plan_id,
            version=m.version,
            effective_from=m.effective_from,
        ),
    )


def _report_accepted(e: Envelope, memory: Memory) -> Iterable[Keyed]:
    m = _parse(plans.ReportAccepted, e)
    call_id = memory.call_of_plan.get(m.plan_id, "")
    report = memory.reports.get((m.plan_id, m.period_id))
    if report is None:
        return
    yield (
        call_id,
        fact.ReportAccepted(
            call_id=call_id,
            origin=_origin(e),
            plan_id=m.plan_id,
            period_id=m.period_id,
            plan_version=report.plan_version,
            actuals=[fact.IndicatorActual(code=a.code, value=a.value) for a in report.actuals],
            milestones=[
                fact.MilestoneStatus(
                    milestone_id=t.milestone_id,
                    status=_enum_slug("MILESTONE_STATUS_", plans.MilestoneStatus.Name(t.status)),
                    met_on=t.met_on,
                )
                for t in report.milestones
            ],
            disbursements=[
                fact.Disbursement(
                    measure_id=d.measure_id,
                    on=d.disbursement.on,
                    amount_kzt=d.disbursement.amount,
                )
                for d in report.disbursements
            ],
        ),
    )


def _milestone_overdue(e: Envelope, memory: Memory) -> Iterable[Keyed]:
    m = _parse(plans.MilestoneOverdue, e)
    call_id = memory.call_of_plan.get(m.plan_id, "")
    yield (
        call_id,
        fact.MilestoneOverdue(
            call_id=call_id,
            origin=_origin(e),
            plan_id=m.plan_id,
            milestone_id=m.milestone_id,
            due_on=m.due_on,
        ),
    )


def _report_overdue(e: Envelope, memory: Memory) -> Iterable[Keyed]:
    m = _parse(plans.ReportOverdue, e)
    call_id = memory.call_of_plan.get(m.plan_id, "")
    yield (
        call_id,
        fact.ReportOverdue(
            call_id=call_id,
            origin=_origin(e),
            plan_id=m.plan_id,
            period_id=m.period_id,
            due_on=m.due_on,
        ),
    )


_MAPPERS: dict[str, Mapper] = {
    intake.CallAnnounced.DESCRIPTOR.full_name: _call_announced,
    intake.ApplicationSubmitted.DESCRIPTOR.full_name: _application_received,
    screening_pb2.EligibilityAssessed.DESCRIPTOR.full_name: _eligibility_assessed,
    screening_pb2.EligibilityOverridden.DESCRIPTOR.full_name: _eligibility_overridden,
    evaluation_pb2.EvaluationFinalised.DESCRIPTOR.full_name: _evaluation_finalised,
    ranking_pb2.RankingPublished.DESCRIPTOR.full_name: _ranking_published,
    commission.DecisionPublished.DESCRIPTOR.full_name: _decision_published,
    commission.ClusterSelected.DESCRIPTOR.full_name: _cluster_selected,
    commission.WinnerReplaced.DESCRIPTOR.full_name: _winner_replaced,
    commission.AppealLodged.DESCRIPTOR.full_name: _appeal_lodged,
    commission.AppealUpheld.DESCRIPTOR.full_name: _appeal_decided(upheld=True),
    commission.AppealRejected.DESCRIPTOR.full_name: _appeal_decided(upheld=False),
    plans.PlanApproved.DESCRIPTOR.full_name: _plan_approved,
    plans.ReportAccepted.DESCRIPTOR.full_name: _report_accepted,
    plans.MilestoneOverdue.DESCRIPTOR.full_name: _milestone_overdue,
    plans.ReportOverdue.DESCRIPTOR.full_name: _report_overdue,
}
