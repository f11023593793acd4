"""The analytics feed's facts (konkurs_readside.analytics.facts): what each event becomes,
that a replay gives the same fact, the CloudEvents headers, and that no personal data can
reach the feed: by the contract's shape (reflection over every analytics message), by a
property test that fills every field of every source event with values of its own, and over
the 2017 demo's applications with their contact persons and organisations in clear."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import given, settings
from hypothesis import strategies as st

from konkurs.analytics.v1 import facts_pb2 as fact
from konkurs.commission.v1 import events_pb2 as commission
from konkurs.intake.v1 import application_pb2
from konkurs.intake.v1 import events_pb2 as intake
from konkurs.plans.v1 import events_pb2 as plans
from konkurs.scoring.v1 import evaluation_pb2, ranking_pb2, screening_pb2
from konkurs.types.v1.types_pb2 import Money
from konkurs_intake import demo
from konkurs_intake.adapters.codec import content_to_pb
from konkurs_platform.envelope import Actor, Envelope
from konkurs_readside.analytics.facts import Fact, Memory, event_types, facts_of

NOW = datetime(2017, 6, 20, 10, 30, tzinfo=UTC)
# Every source message a mapped event type names, by full name.
SOURCES: dict[str, type[Message]] = {
    m.DESCRIPTOR.full_name: m
    for module in (intake, commission, plans, screening_pb2, evaluation_pb2, ranking_pb2)
    for m in vars(module).values()
    if isinstance(m, type) and issubclass(m, Message)
}

# Every string field of the analytics contract, with what it holds. None of these can hold
# a person's name, contact or words: ids are opaque, codes and slugs come from the
# programme's configuration, decimals and dates are figures. A new string field fails
# `test_every_string_field_of_the_contract_is_classified` until it is added here, on purpose.
STRING_FIELDS = {
    "Origin.event_id": "opaque id",
    "Origin.event_type": "protobuf name",
    "Amount.currency": "ISO 4217 code",
    "CallAnnounced.call_id": "slug",
    "CallAnnounced.accepted_region_codes": "ISO 3166-2 code",
    "ApplicationReceived.call_id": "slug",
    "ApplicationReceived.application_id": "opaque id",
    "ApplicationReceived.region_code": "ISO 3166-2 code",
    "ApplicationReceived.primary_oked_code": "OKED code",
    "ApplicationReceived.related_oked_codes": "OKED code",
    "RuleOutcome.rule": "slug",
    "EligibilityDetermined.call_id": "slug",
    "EligibilityDetermined.application_id": "opaque id",
    "CriterionScore.criterion_id": "slug",
    "CriterionScore.basis": "slug",
    "EvaluationFinalised.call_id": "slug",
    "EvaluationFinalised.application_id": "opaque id",
    "EvaluationFinalised.failed_thresholds": "slug",
    "RankingPosition.application_id": "opaque id",
    "RankingPosition.failed_thresholds": "slug",
    "RankingPublished.call_id": "slug",
    "DecidedCandidate.application_id": "opaque id",
    "DecisionPublished.call_id": "slug",
    "DecisionPublished.meeting_id": "opaque id",
    "DecisionPublished.reserve_application_ids": "opaque id",
    "ClusterSelected.call_id": "slug",
    "ClusterSelected.application_id": "opaque id",
    "ClusterSelected.cluster_name": "organisation, public by law once selected",
    "ClusterSelected.region_code": "ISO 3166-2 code",
    "ClusterSelected.coordinator_bin": "organisation, public by law once selected",
    "WinnerReplaced.call_id": "slug",
    "WinnerReplaced.meeting_id": "opaque id",
    "WinnerReplaced.withdrawn_application_id": "opaque id",
    "WinnerReplaced.cause": "slug",
    "WinnerReplaced.replacement_application_id": "opaque id",
    "AppealLodged.call_id": "slug",
    "AppealLodged.appeal_id": "opaque id",
    "AppealLodged.application_id": "opaque id",
    "AppealLodged.ground": "slug",
    "AppealDecided.call_id": "slug",
    "AppealDecided.appeal_id": "opaque id",
    "AppealDecided.application_id": "opaque id",
    "PlanApproved.call_id": "slug",
    "PlanApproved.plan_id": "opaque id",
    "IndicatorActual.code": "slug",
    "IndicatorActual.value": "decimal",
    "MilestoneStatus.milestone_id": "slug",
    "MilestoneStatus.status": "slug",
    "MilestoneStatus.met_on": "date",
    "Disbursement.measure_id": "slug",
    "Disbursement.on": "date",
    "Disbursement.amount_kzt": "decimal",
    "ReportAccepted.call_id": "slug",
    "ReportAccepted.plan_id": "opaque id",
    "ReportAccepted.period_id": "slug",
    "MilestoneOverdue.call_id": "slug",
    "MilestoneOverdue.plan_id": "opaque id",
    "MilestoneOverdue.milestone_id": "slug",
    "MilestoneOverdue.due_on": "date",
    "ReportOverdue.call_id": "slug",
    "ReportOverdue.plan_id": "opaque id",
    "ReportOverdue.period_id": "slug",
    "ReportOverdue.due_on": "date",
}
# The source fields whose values a fact may carry, per event type: identifiers, codes and
# figures. Every other string of a source event (names, contacts, BINs of participants,
# free text, members' and experts' ids) must never reach the feed.
CARRIED = {
    "CallAnnounced": {"call_id", "call.accepted_region_codes"},
    "ApplicationSubmitted": {
        "application_id",
        "call_id",
        "content.cluster.region_code",
        "content.cluster.primary_oked_code",
        "content.cluster.related_oked_codes",
        "content.requested_support.amount.currency",
    },
    "EligibilityAssessed": {"application_id", "call_id", "results.rule"},
    "EligibilityOverridden": {"application_id", "call_id"},
    "EvaluationFinalised": {
        "application_id",
        "call_id",
        "scores.criterion_id",
        "failed_thresholds",
    },
    "RankingPublished": {
        "call_id",
        "entries.application_id",
        "entries.failed_thresholds",
    },
    "DecisionPublished": {
        "call_id",
        "meeting_id",
        "selected.application_id",
        "declined.application_id",
        "reserve_application_ids",
    },
    "ClusterSelected": {
        "call_id",
        "application_id",
        "cluster_name",
        "region_code",
        "coordinator_bin",
    },
    "WinnerReplaced": {"meeting_id", "withdrawn_application_id", "replacement_application_id"},
    "AppealLodged": {"call_id", "appeal_id", "application_id"},
    "AppealUpheld": {"appeal_id", "application_id"},
    "AppealRejected": {"appeal_id", "application_id"},
    "PlanApproved": {"plan_id"},
    "ReportAccepted": {"plan_id", "period_id"},
    "MilestoneOverdue": {"plan_id", "milestone_id", "due_on"},
    "ReportOverdue": {"plan_id", "period_id", "due_on"},
}
# What ReportAccepted carries of the report it accepts.
CARRIED_FROM_REPORT = {
    "actuals.code",
    "actuals.value",
    "milestones.milestone_id",
    "milestones.met_on",
    "disbursements.measure_id",
    "disbursements.disbursement.on",
    "disbursements.disbursement.amount",
}
CALL = "call-of-the-remembered-stream"


def envelope(message: Message, *, event_id: uuid.UUID | None = None) -> Envelope:
    return Envelope(
        event_id=event_id or uuid.uuid4(),
        event_type=message.DESCRIPTOR.full_name,
        stream_id="stream-1",
        stream_version=1,
        occurred_at=NOW,
        recorded_at=NOW,
        actor=Actor(subject="Aigerim Nurlanova", role="operator", organisation="160140019005"),
        correlation_id="corr",
        causation_id=None,
        schema_version=2,
        payload=message.SerializeToString(),
    )


def analytics_messages() -> Iterator[Descriptor]:
    yield from fact.DESCRIPTOR.message_types_by_name.values()


def test_every_string_field_of_the_contract_is_classified() -> None:
    found = {
        f"{m.name}.{f.name}"
        for m in analytics_messages()
        for f in m.fields
        if f.type == FieldDescriptor.TYPE_STRING
    }
    assert found == set(STRING_FIELDS)


def test_no_string_field_of_the_contract_is_named_for_personal_data_or_free_text() -> None:
    forbidden = (
        "email", "phone", "contact", "person", "member", "expert", "actor", "subject",
        "reason", "justification", "explanation", "comment", "narrative", "text",
        "description", "summary", "title", "owner", "rationale", "participant_bin",
    )  # fmt: skip
    for m in analytics_messages():
        for f in m.fields:
            if f.type != FieldDescriptor.TYPE_STRING:
                continue  # counts and flags: "experts" is how many, never who
            assert not any(word in f.name for word in forbidden), f"{m.name}.{f.name}"
            # Every name in the feed is an organisation's, public by law (selected clusters).
            if "name" in f.name or f.name.endswith("bin"):
                assert m.name == "ClusterSelected", f"{m.name}.{f.name}"


def test_every_fact_type_is_produced_by_some_event() -> None:
    produced = {type_name(t) for t in event_types()}
    facts = {m.name for m in analytics_messages() if m.fields_by_name.get("origin")}
    assert produced == facts


def type_name(event_type: str) -> str:
    """The fact type an event type becomes (the mapping's table, by its results)."""
    made = made_from(event_type, random.Random(1), Tokens())
    return made[0].message.DESCRIPTOR.name if made else ""


# --- every field of every source filled -----------------------------------------------------


class Tokens:
    """Unique strings, each remembering the source field it was put in."""

    def __init__(self) -> None:
        self.paths: dict[str, str] = {}

    def new(self, path: str) -> str:
        # Unique across every Tokens, so that a token found names one field.
        token = f"tok{uuid.uuid4().hex}"
        self.paths[token] = path
        return token


def fill(
    message: Message, rng: random.Random, tokens: Tokens | None = None, path: str = ""
) -> Message:
    """Every field of `message` set: strings to tokens, numbers and enums to values."""
    for f in message.DESCRIPTOR.fields:
        where = f"{path}{f.name}"
        repeated = f.is_repeated
        for _ in range(rng.randint(1, 3) if repeated else 1):
            if f.type == FieldDescriptor.TYPE_MESSAGE:
                target = getattr(message, f.name).add() if repeated else getattr(message, f.name)
                if f.message_type.full_name == "google.protobuf.Timestamp":
                    target.seconds = rng.randint(1_400_000_000, 1_900_000_000)
                else:
                    fill(target, rng, tokens, f"{where}.")
                continue
            if f.type == FieldDescriptor.TYPE_STRING:
                value: object = tokens.new(where) if tokens else f"s{rng.getrandbits(32)}"
            elif f.type == FieldDescriptor.TYPE_ENUM:
                value = rng.choice([v.number for v in f.enum_type.values if v.number])
            elif f.type == FieldDescriptor.TYPE_BOOL:
                value = rng.random() < 0.5
            elif f.type == FieldDescriptor.TYPE_BYTES:
                value = rng.randbytes(8)
            else:
                value = rng.randint(1, 1000)
            if repeated:
                getattr(message, f.name).append(value)
            else:
                setattr(message, f.name, value)
    return message


def filled(
    message_type: type[Message], rng: random.Random, tokens: Tokens | None = None
) -> Message:
    return fill(message_type(), rng, tokens)


def primed_memory(source: Message | None = None, report: Message | None = None) -> Memory:
    """A memory that has seen the opening event of `source`'s plan, appeal or meeting (and
    the report an acceptance accepts)."""
    memory = Memory()
    plan_id = getattr(source, "plan_id", "plan")
    memory.call_of_plan[plan_id] = CALL
    memory.call_of_appeal[getattr(source, "appeal_id", "appeal")] = CALL
    memory.call_of_meeting[getattr(source, "meeting_id", "meeting")] = CALL
    if report is not None:
        memory.reports[(plan_id, getattr(source, "period_id", ""))] = report  # type: ignore[assignment]
    return memory


def made_from(event_type: str, rng: random.Random, tokens: Tokens) -> list[Fact]:
    """The facts of an event of `event_type` with every field filled (tokens for strings),
    after the events its stream opened with (and the report an acceptance accepts, its
    tokens' paths marked "report:")."""
    source = filled(SOURCES[event_type], rng, tokens)
    report = None
    if event_type == plans.ReportAccepted.DESCRIPTOR.full_name:
        report_tokens = Tokens()
        report = filled(plans.ReportSubmitted, rng, report_tokens)
        tokens.paths.update({t: f"report:{p}" for t, p in report_tokens.paths.items()})
    return facts_of(envelope(source), primed_memory(source, report))


def carried(fact_: Fact, tokens: Tokens) -> set[str]:
    """The source fields whose tokens are in the fact's record (bytes, key or headers)."""
    record = b"".join([fact_.value(), fact_.key(), *(v for _, v in fact_.headers())])
    return {path for token, path in tokens.paths.items() if token.encode() in record}


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    event_type=st.sampled_from(sorted(event_types())),
)
def test_no_field_of_any_source_event_reaches_the_feed_unless_it_is_public(
    seed: int, event_type: str
) -> None:
    """Every string of the source event (and of the report an acceptance accepts) is a
    distinct value, standing for the personal data or free text it may hold: only the
    fields listed in CARRIED may be found in the fact."""
    tokens = Tokens()
    made = made_from(event_type, random.Random(seed), tokens)
    assert made, f"{event_type} made no fact"
    allowed = CARRIED[event_type.rsplit(".", 1)[1]] | {f"report:{p}" for p in CARRIED_FROM_REPORT}
    for f in made:
        leaked = carried(f, tokens) - allowed
        assert not leaked, f"{event_type} carries {sorted(leaked)} into {f.type}"


def test_the_demo_applications_reach_the_feed_without_who_applied() -> None:
    """The 2017 demo's 21 applications, contacts in clear (as an event holds them before
    sealing): no person, organisation, BIN or free text of theirs is in any fact."""
    for n, sketch in enumerate(demo.SKETCHES):
        content = content_to_pb(demo.content(n, sketch))
        submitted = intake.ApplicationSubmitted(
            application_id=demo.application_id(n),
            call_id=demo.CALL_ID,
            registration_number=f"KZ-75-2017-{n + 1:04d}",
            content=content,
            illustrative=True,
        )
        (received,) = facts_of(envelope(submitted), Memory())
        record = b"".join([received.value(), received.key(), *(v for _, v in received.headers())])
        secrets = [
            content.contact.name,
            content.contact.phone,
            content.contact.email,
            content.coordinator.name,
            content.coordinator.bin,
            content.cluster.name,
            content.cluster.description,
            content.strategy_summary,
            submitted.registration_number,
            *(p.name for p in content.participants),
            *(p.bin for p in content.participants),
            *(r.description for r in content.requested_support),
        ]
        assert all(s and s.encode() not in record for s in secrets), n
        assert received.call_id == demo.CALL_ID


# --- what the facts say ---------------------------------------------------------------------


def participant(kind: int, employees: int = 10) -> application_pb2.Participant:
    return application_pb2.Participant(
        bin="170140000001", name="ТОО «Секрет»", kind=kind, employees=employees
    )


def test_an_application_received_counts_its_participants_and_sums_its_support() -> None:
    kinds = application_pb2
    submitted = intake.ApplicationSubmitted(
        application_id="app-1",
        call_id="kz-clusters-2027",
        content=application_pb2.ApplicationContent(
            cluster=application_pb2.Cluster(
                region_code="KZ-75", primary_oked_code="31090", related_oked_codes=["16100"]
            ),
            participants=[
                participant(kinds.PARTICIPANT_KIND_SME, 40),
                participant(kinds.PARTICIPANT_KIND_SME, 60),
                participant(kinds.PARTICIPANT_KIND_LARGE_ENTERPRISE, 900),
                participant(kinds.PARTICIPANT_KIND_UNIVERSITY, 0),
                participant(kinds.PARTICIPANT_KIND_PUBLIC_BODY, 0),
                participant(kinds.PARTICIPANT_KIND_OTHER, 0),
            ],
            requested_support=[
                application_pb2.SupportRequest(kind="consulting", amount=kzt(300)),
                application_pb2.SupportRequest(kind="training", amount=kzt(150)),
            ],
            co_financing=application_pb2.CoFinancing(amount=kzt(100), share_percent=25),
        ),
    )
    (received,) = facts_of(envelope(submitted), Memory())
    m = received.message
    assert isinstance(m, fact.ApplicationReceived)
    assert (m.call_id, m.application_id, m.region_code) == ("kz-clusters-2027", "app-1", "KZ-75")
    assert list(m.related_oked_codes) == ["16100"]
    assert m.participants == fact.ParticipantCounts(
        total=6, sme=2, large_enterprise=1, university=1, public_body=1, other=1
    )
    # 2 of 6, rounded down, as the eligibility rule has it.
    assert m.sme_share_percent == 33
    assert m.employees == 1000
    assert list(m.requested_support) == [fact.Amount(currency="KZT", minor_units=450)]
    assert m.co_financing_share_percent == 25


def kzt(minor_units: int) -> Money:
    return Money(currency="KZT", minor_units=minor_units)


def test_a_replayed_event_gives_the_same_fact_id_and_bytes_and_another_event_another_id() -> None:
    assessed = screening_pb2.EligibilityAssessed(
        application_id="app-1", call_id="c", eligible=False,
        results=[screening_pb2.RuleResult(rule="min_participants", passed=False, found="2")],
    )  # fmt: skip
    event_id = uuid.uuid4()
    first = facts_of(envelope(assessed, event_id=event_id), Memory())
    again = facts_of(envelope(assessed, event_id=event_id), Memory())
    other = facts_of(envelope(assessed), Memory())
    assert [(f.id, f.key(), f.value(), f.headers()) for f in first] == [
        (f.id, f.key(), f.value(), f.headers()) for f in again
    ]
    assert first[0].id != other[0].id


def test_a_fact_travels_with_cloudevents_binary_mode_headers_keyed_by_its_call() -> None:
    announced = intake.CallAnnounced(call_id="kz-clusters-2017")
    source = envelope(announced)
    (announced_fact,) = facts_of(source, Memory())
    headers = dict(announced_fact.headers())
    assert headers == {
        "ce_specversion": b"1.0",
        "ce_id": str(announced_fact.id).encode(),
        "ce_source": b"/konkurs/intake",
        "ce_type": b"konkurs.analytics.v1.CallAnnounced",
        "ce_time": b"2017-06-20T10:30:00Z",
        "ce_subject": b"kz-clusters-2017",
        "content-type": b"application/protobuf",
    }
    assert announced_fact.key() == b"kz-clusters-2017"
    decoded = fact.CallAnnounced.FromString(announced_fact.value())
    assert decoded.origin.event_id == str(source.event_id)
    assert decoded.origin.event_type == "konkurs.intake.v1.CallAnnounced"


def test_an_appeal_decision_is_keyed_by_the_call_its_lodging_named_and_left_out_without_it() -> (
    None
):
    lodged = commission.AppealLodged(
        appeal_id="ap-1", call_id="c-1", application_id="app-1", applicant_bin="170140000001",
        ground=commission.APPEAL_GROUND_QUORUM_OR_COUNT, explanation="Мы не согласны",
    )  # fmt: skip
    upheld = commission.AppealUpheld(appeal_id="ap-1", application_id="app-1", reasons="x")
    memory = Memory()
    (lodged_fact,) = facts_of(envelope(lodged), memory)
    assert fact.AppealLodged.FromString(lodged_fact.value()).ground == "quorum_or_count"
    (decided,) = facts_of(envelope(upheld), memory)
    assert decided.call_id == "c-1"
    assert fact.AppealDecided.FromString(decided.value()).upheld
    assert facts_of(envelope(upheld), Memory()) == []


def test_a_replaced_winner_is_keyed_by_the_call_its_meeting_was_scheduled_for() -> None:
    memory = Memory()
    scheduled = commission.MeetingScheduled(meeting_id="m-1", call_id="c-1", venue="Астана")
    replaced = commission.WinnerReplaced(
        meeting_id="m-1", withdrawn_application_id="app-1", cause="по собственному желанию",
        reason="Письмо директора", replacement_application_id="app-7",
    )  # fmt: skip
    assert facts_of(envelope(scheduled), memory) == []
    (fact_,) = facts_of(envelope(replaced), memory)
    m = fact.WinnerReplaced.FromString(fact_.value())
    assert (fact_.call_id, m.withdrawn_application_id, m.replacement_application_id) == (
        "c-1",
        "app-1",
        "app-7",
    )
    # A cause that is not one of the contract's codes may be words: it is not passed on.
    assert m.cause == "other"


def test_an_accepted_report_carries_the_figures_of_its_last_submission() -> None:
    memory = Memory()
    opened = plans.PlanOpened(plan_id="app-1", call_id="c-1", coordinator_bin="170140000001")
    first = plans.ReportSubmitted(
        plan_id="app-1", period_id="2018-Q1", plan_version=1,
        actuals=[plans.IndicatorActual(code="members", value="9")], narrative="Первый",
    )  # fmt: skip
    second = plans.ReportSubmitted(
        plan_id="app-1", period_id="2018-Q1", plan_version=1,
        actuals=[plans.IndicatorActual(code="members", value="11")],
        milestones=[plans.MilestoneTransition(milestone_id="m1",
                    status=plans.MILESTONE_STATUS_PARTLY_MET, met_on="2018-03-30")],
        disbursements=[plans.DisbursementMade(measure_id="s1",
                       disbursement=plans.Disbursement(on="2018-02-01", amount="1250000.00"))],
    )  # fmt: skip
    for event in (opened, first, second):
        assert facts_of(envelope(event), memory) == []
    (accepted,) = facts_of(
        envelope(plans.ReportAccepted(plan_id="app-1", period_id="2018-Q1")), memory
    )
    m = fact.ReportAccepted.FromString(accepted.value())
    assert accepted.call_id == m.call_id == "c-1"
    assert [(a.code, a.value) for a in m.actuals] == [("members", "11")]
    assert [(s.milestone_id, s.status, s.met_on) for s in m.milestones] == [
        ("m1", "partly_met", "2018-03-30")
    ]
    assert [(d.measure_id, d.on, d.amount_kzt) for d in m.disbursements] == [
        ("s1", "2018-02-01", "1250000.00")
    ]


@pytest.mark.parametrize("payload", [b"\xff\xff\xff", b"\x0a\x05ab"])
def test_a_payload_that_does_not_parse_is_refused_with_a_value_error(payload: bytes) -> None:
    broken = envelope(intake.CallAnnounced(call_id="c"))
    broken = Envelope(**{**broken.__dict__, "payload": payload})
    with pytest.raises(ValueError):
        facts_of(broken, Memory())
