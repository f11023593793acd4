"""Intake's deciders under hypothesis: random sequences of commands, valid, nearly valid and
absurd, at times that move forward as a server's clock does.

Whatever the sequence, nothing but a `DomainError` (or one of its kinds) escapes `decide`,
`evolve` takes every event `decide` returns, and the rules that make the record trustworthy
hold: an aggregate's version grows by exactly the events returned, a refused or repeated
command changes nothing, a closed call stays closed and takes no new definition, a call
accepts applications only within its window, a withdrawn application never changes again,
and an application keeps its call, number, region and coordinator for life. (Scoring's and
privacy's deciders are fuzzed in test_fuzz_scoring_deciders.py, with this file's helpers.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from konkurs_intake.domain.applications import (
    AmendApplication,
    Application,
    ApplicationAmended,
    ApplicationContent,
    ApplicationState,
    ApplicationStatus,
    ApplicationSubmitted,
    ApplicationWithdrawn,
    AttachDocument,
    Cluster,
    CoFinancing,
    ContactPerson,
    Document,
    DocumentAttached,
    Money,
    NoApplication,
    Organisation,
    Participant,
    ParticipantKind,
    SubmitApplication,
    WithdrawApplication,
    application_decider,
    check_content,
)
from konkurs_intake.domain.calls import (
    AmendCall,
    AnnounceCall,
    AnnouncedCall,
    CallAmended,
    CallAnnounced,
    CallClosed,
    CallDefinition,
    CallState,
    CloseCall,
    ClosedCall,
    CloseReason,
    Criterion,
    CriterionKind,
    EligibilityRules,
    LocalizedText,
    Methodology,
    NoCall,
    call_decider,
)
from konkurs_intake.domain.identifiers import with_check_digit
from konkurs_intake.domain.regions import RegionSet, region_codes
from konkurs_platform.domain import Conflict, DomainError

EPOCH = datetime(2017, 1, 1, tzinfo=UTC)
FUZZ = hsettings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _valid_bins() -> list[str]:
    bins = []
    for serial in range(40):
        try:
            bins.append(with_check_digit(f"170440{serial:05d}"))
        except ValueError:
            continue
    return bins


VALID_BINS = _valid_bins()[:8]
# A wrong check digit, a month 13, too short, not digits, a NUL, empty.
BAD_BINS = ["170440000001", "171340000001", "1704400", "17044000000a", "17044000000\x00", ""]
REGIONS = ["KZ-75", "KZ-11", "KZ-51", "KZ-79", "KZ-00", "", "kz-75"]
OKED = ["62010", "16100", "31090", "00100", "6201", "62.01", "", "62010\x00"]
TEXT = st.text(max_size=12)  # any code point: the decider must not care

# Time, in hours from EPOCH; the clock of a sequence only moves forward.
STEP = st.integers(0, 24 * 10).map(lambda h: timedelta(hours=h))
AT = st.integers(-24 * 30, 24 * 200).map(lambda h: EPOCH + timedelta(hours=h))


# Calls --------------------------------------------------------------------------------------

HOURS = st.integers(1, 24 * 60).map(lambda h: timedelta(hours=h))


def _mostly_valid(draw: st.DrawFn, value: Any, breakers: Sequence[Callable[[Any], Any]]) -> Any:
    """`value`, or (one time in three) `value` broken by one of `breakers`: most sequences
    must get past the rules to reach the states worth checking."""
    if draw(st.integers(0, 2)):
        return value
    return draw(st.sampled_from(breakers))(value)


@st.composite
def methodologies(draw: st.DrawFn) -> Methodology:
    count = draw(st.integers(1, 4))
    cuts = sorted(draw(st.sets(st.integers(1, 99), min_size=count - 1, max_size=count - 1)))
    weights = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
    criteria = tuple(
        Criterion(
            f"c{i}",
            LocalizedText(en=draw(TEXT)),
            weight,
            0,
            5,
            draw(st.sampled_from(CriterionKind)),
            draw(st.integers(0, 5)),
        )
        for i, weight in enumerate(weights)
    )
    methodology = Methodology(criteria, draw(st.integers(0, 100)))
    first = criteria[0]
    return _mostly_valid(
        draw,
        methodology,
        [
            lambda m: replace(m, criteria=()),
            lambda m: replace(m, criteria=(*m.criteria, first)),  # listed twice, sum > 100
            lambda m: replace(m, criteria=(replace(first, weight=0), *m.criteria[1:])),
            lambda m: replace(m, criteria=(replace(first, scale_max=-1), *m.criteria[1:])),
            lambda m: replace(m, criteria=(replace(first, threshold=9), *m.criteria[1:])),
            lambda m: replace(m, overall_threshold=101),
            lambda m: replace(m, experts_per_application=0),
            lambda m: replace(m, divergence_threshold=-1),
        ],
    )


@st.composite
def definitions(draw: st.DrawFn, now: datetime) -> CallDefinition:
    opens = now + draw(st.integers(-48, 24 * 20).map(lambda h: timedelta(hours=h)))
    closes = max(opens, now) + draw(HOURS)
    region_set = draw(st.sampled_from(RegionSet))
    known = sorted(region_codes(region_set))
    definition = CallDefinition(
        title=LocalizedText(ru=draw(TEXT), en=draw(TEXT)),
        description=LocalizedText(),
        programme=draw(TEXT),
        opens_at=opens,
        closes_at=closes,
        timezone="Asia/Almaty",
        quota=draw(st.integers(1, 10)),
        region_set=region_set,
        regions=tuple(draw(st.lists(st.sampled_from(known), min_size=1, max_size=4, unique=True))),
        eligibility=EligibilityRules(
            draw(st.integers(1, 10)), draw(st.integers(0, 100)), draw(st.booleans()), ()
        ),
        methodology=draw(methodologies()),
    )
    return _mostly_valid(
        draw,
        definition,
        [
            lambda d: replace(d, closes_at=d.opens_at),
            lambda d: replace(d, closes_at=now - timedelta(hours=1)),
            lambda d: replace(d, quota=0),
            lambda d: replace(d, regions=()),
            lambda d: replace(d, regions=(*d.regions, d.regions[0])),
            lambda d: replace(d, regions=(*d.regions, draw(st.sampled_from(REGIONS)))),
            lambda d: replace(d, eligibility=replace(d.eligibility, min_participants=0)),
            lambda d: replace(d, eligibility=replace(d.eligibility, min_sme_share_percent=101)),
        ],
    )


CALL_IDS = st.sampled_from(["kz-2017", "kz-2017", "other"])


@st.composite
def call_commands(draw: st.DrawFn, now: datetime) -> AnnounceCall | AmendCall | CloseCall:
    call_id = draw(CALL_IDS)
    match draw(st.integers(0, 2)):
        case 0:
            return AnnounceCall(call_id, draw(definitions(now)), now, draw(st.booleans()))
        case 1:
            return AmendCall(call_id, draw(definitions(now)), now)
        case _:
            return CloseCall(call_id, now, draw(st.sampled_from(CloseReason)))


@st.composite
def call_histories(draw: st.DrawFn) -> list[AnnounceCall | AmendCall | CloseCall]:
    now = draw(AT)
    # Most histories begin by announcing the call they are about.
    commands = [AnnounceCall("kz-2017", draw(definitions(now)), now)]
    for _ in range(draw(st.integers(0, 12))):
        now += draw(STEP)
        commands.append(draw(call_commands(now)))
    return commands[draw(st.sampled_from([0, 0, 0, 1])) :] or commands


def _decided(decide: Callable[[Any, Any], Sequence[Any]], command: Any, state: Any) -> Any:
    """The events, or the refusal; anything else raised fails the test."""
    try:
        return list(decide(command, state))
    except DomainError as refusal:
        for issue in refusal.errors:
            assert issue.pointer.startswith("/"), issue
        return refusal


@FUZZ
@given(call_histories())
def test_a_call_answers_any_commands_with_events_or_a_domain_error_and_keeps_its_rules(
    commands: list[AnnounceCall | AmendCall | CloseCall],
) -> None:
    # One stream, as the handler keeps one per call id: the first id named is this call's.
    stream_id = commands[0].call_id
    history: list[CallAnnounced | CallAmended | CallClosed] = []
    state: CallState = NoCall()
    for command in commands:
        if command.call_id != stream_id:
            continue
        outcome = _decided(call_decider.decide, command, state)
        # Pure: the same command on the same state gets the same answer.
        assert repr(_decided(call_decider.decide, command, state)) == repr(outcome)
        if isinstance(outcome, DomainError):
            continue
        before = state
        for event in outcome:
            assert event.call_id == stream_id
            state = call_decider.evolve(state, event)
        history += outcome
        assert call_decider.fold(history) == state  # version = len(history), rebuilt alike
        if isinstance(before, ClosedCall):
            assert outcome == [] and state == before, "a closed call never changes"
        if any(isinstance(e, CallAmended) for e in outcome):
            assert isinstance(before, AnnouncedCall)
            assert command.now < before.definition.opens_at, "amended only before it opens"
        for event in outcome:
            if isinstance(event, CallClosed) and event.reason is CloseReason.SCHEDULED:
                assert isinstance(before, AnnouncedCall)
                assert event.closed_at == before.definition.closes_at <= command.now
        if isinstance(command, AnnounceCall):
            assert isinstance(before, NoCall), "a call is announced once"


@FUZZ
@given(call_histories(), call_commands(EPOCH + timedelta(days=400)))
def test_a_closed_call_refuses_every_new_definition_and_closing_again_changes_nothing(
    commands: list[AnnounceCall | AmendCall | CloseCall],
    late: AnnounceCall | AmendCall | CloseCall,
) -> None:
    definition = replace(
        DEFINITION_2017, opens_at=EPOCH, closes_at=EPOCH + timedelta(days=60), regions=("KZ-75",)
    )
    state: CallState = ClosedCall("kz-2017", definition, EPOCH + timedelta(days=60))
    for command in [*commands, late]:
        outcome = _decided(call_decider.decide, replace(command, call_id="kz-2017"), state)
        if isinstance(command, CloseCall):
            assert outcome == []
        else:
            assert isinstance(outcome, Conflict), outcome


# Applications -------------------------------------------------------------------------------

DEFINITION_2017 = CallDefinition(
    title=LocalizedText(en="Clusters"),
    description=LocalizedText(),
    programme="clusters",
    opens_at=EPOCH + timedelta(days=10),
    closes_at=EPOCH + timedelta(days=70),
    timezone="Asia/Almaty",
    quota=6,
    region_set=RegionSet.Y2017,
    regions=("KZ-75", "KZ-11", "KZ-51"),
    eligibility=EligibilityRules(3, 50, True, ()),
    methodology=Methodology(
        (Criterion("strategy", LocalizedText(en="s"), 100, 0, 5, CriterionKind.EXPERT, 3),), 60
    ),
)


@st.composite
def documents(draw: st.DrawFn) -> Document:
    sha = draw(st.sampled_from(["a" * 64, "b" * 64, "c" * 64, "a" * 63, "g" * 64]))
    return Document(
        draw(st.sampled_from(["charter", "strategy"])),
        draw(TEXT),
        "application/pdf",
        draw(st.integers(-1, 10**9)),
        sha,
    )


@st.composite
def contents(draw: st.DrawFn) -> ApplicationContent:
    """Valid content in one of two regions for one of two coordinators (so amendments often
    keep both), or content broken in one place."""
    bins = draw(st.lists(st.sampled_from(VALID_BINS), min_size=1, max_size=4, unique=True))
    participants = tuple(
        Participant(
            b,
            draw(TEXT),
            draw(st.sampled_from(ParticipantKind)),
            draw(st.integers(0, 10**6)),
            Money("KZT", draw(st.integers(0, 10**15))),
            draw(st.integers(0, 100)),
        )
        for b in bins
    )
    content = ApplicationContent(
        cluster=Cluster(
            draw(TEXT),
            draw(TEXT),
            draw(st.sampled_from(["KZ-75", "KZ-11"])),
            tuple(draw(st.lists(st.sampled_from(OKED[:3]), min_size=1, max_size=3, unique=True))),
        ),
        coordinator=Organisation(draw(st.sampled_from(VALID_BINS[:2])), "c"),
        participants=participants,
        strategy_summary=draw(TEXT),
        requested_support=(),
        co_financing=CoFinancing(Money("KZT", draw(st.integers(0, 10**12))), 30),
        contact=ContactPerson(draw(TEXT), "+7 701 000 0000", "a@example.kz"),
        documents=tuple(draw(st.lists(documents(), max_size=2, unique_by=lambda d: d.sha256))),
    )
    p = participants[0]
    return _mostly_valid(
        draw,
        content,
        [
            lambda c: replace(c, participants=()),
            lambda c: replace(c, participants=(*c.participants, p)),
            lambda c: replace(c, participants=(replace(p, bin=draw(st.sampled_from(BAD_BINS))),)),
            lambda c: replace(c, participants=(replace(p, employees=-1),)),
            lambda c: replace(c, participants=(replace(p, export_share_percent=101),)),
            lambda c: replace(c, participants=(replace(p, annual_revenue=Money("KZT", -1)),)),
            lambda c: replace(
                c, cluster=replace(c.cluster, region_code=draw(st.sampled_from(REGIONS)))
            ),
            lambda c: replace(
                c, cluster=replace(c.cluster, specialisation=(draw(st.sampled_from(OKED)),) * 2)
            ),
            lambda c: replace(c, coordinator=Organisation(draw(st.sampled_from(BAD_BINS)), "c")),
            lambda c: replace(c, co_financing=CoFinancing(Money("KZT", -5), 130)),
            lambda c: replace(c, documents=(replace(draw(documents()), sha256="A" * 64),)),
        ],
    )


@dataclass(frozen=True)
class CallTimeline:
    """The call as the handler would read it at any moment: absent, or announced and
    perhaps closed early by hand."""

    definition: CallDefinition
    closed_early_at: datetime | None
    exists: bool

    def at(self, now: datetime) -> CallState:
        if not self.exists:
            return NoCall()
        d = self.definition
        closing = min(d.closes_at, self.closed_early_at or d.closes_at)
        if now >= closing:
            return ClosedCall("kz-2017", d, closing)
        return AnnouncedCall("kz-2017", d)

    def accepts(self, now: datetime) -> bool:
        state = self.at(now)
        return isinstance(state, AnnouncedCall) and self.definition.opens_at <= now


@st.composite
def timelines(draw: st.DrawFn) -> CallTimeline:
    early = draw(st.none() | st.integers(0, 24 * 80).map(lambda h: EPOCH + timedelta(hours=h)))
    return CallTimeline(DEFINITION_2017, early, draw(st.integers(0, 9).map(bool)))


APP = "7d0c2d1e-8b7a-4c3d-9e2f-1a6b4c8d7e90"


@st.composite
def application_histories(draw: st.DrawFn) -> tuple[CallTimeline, list[Any]]:
    timeline = draw(timelines())
    now = EPOCH + draw(st.integers(0, 24 * 50).map(lambda h: timedelta(hours=h)))
    commands: list[Any] = []
    for n in range(draw(st.integers(1, 10))):
        now += draw(st.integers(0, 24 * 10).map(lambda h: timedelta(hours=h)))
        call = timeline.at(now)
        # Most histories begin with a submission: without one every command is refused.
        match 0 if n == 0 and draw(st.integers(0, 3)) else draw(st.integers(0, 3)):
            case 0:
                commands.append(
                    SubmitApplication(
                        APP, "kz-2017", call, draw(contents()), "KZ-75-2017-0001", now
                    )
                )
            case 1:
                commands.append(AmendApplication(APP, call, draw(contents()), now))
            case 2:
                commands.append(WithdrawApplication(APP, call, draw(TEXT), now))
            case _:
                commands.append(AttachDocument(APP, call, draw(documents()), now))
    return timeline, commands


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(application_histories())
def test_an_application_answers_any_commands_with_events_or_a_domain_error_and_keeps_its_rules(
    case: tuple[CallTimeline, list[Any]],
) -> None:
    timeline, commands = case
    history: list[Any] = []
    state: ApplicationState = NoApplication()
    for command in commands:
        outcome = _decided(application_decider.decide, command, state)
        assert repr(_decided(application_decider.decide, command, state)) == repr(outcome)
        if isinstance(outcome, DomainError):
            continue
        before = state
        for event in outcome:
            assert event.application_id == APP
            state = application_decider.evolve(state, event)
        history += outcome
        assert application_decider.fold(history) == state
        if outcome:
            # Nothing new is recorded outside the call's window.
            assert timeline.accepts(command.now), (command.now, timeline)
        if isinstance(before, Application):
            assert isinstance(state, Application)
            if before.status is ApplicationStatus.WITHDRAWN:
                assert outcome == [] and state == before, "a withdrawn application never changes"
            kept = (
                state.call_id,
                state.registration_number,
                state.content.cluster.region_code,
                state.content.coordinator.bin,
            )
            assert kept == (
                before.call_id,
                before.registration_number,
                before.content.cluster.region_code,
                before.content.coordinator.bin,
            )
            amended = [e for e in outcome if isinstance(e, ApplicationAmended)]
            assert state.revision == before.revision + len(amended)
        for event in outcome:
            if isinstance(event, ApplicationSubmitted | ApplicationAmended):
                assert check_content(event.content, DEFINITION_2017.regions) == []
            if isinstance(event, DocumentAttached):
                assert event.document.sha256 not in [
                    d.sha256
                    for d in before.documents  # type: ignore[union-attr]
                ]
            if isinstance(event, ApplicationWithdrawn):
                assert isinstance(before, Application)
                assert before.status is ApplicationStatus.SUBMITTED
