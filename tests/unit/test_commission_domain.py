"""The commission's deciders: given events, when a command, then events or a refusal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from konkurs_commission.domain.acting import Caller, Office
from konkurs_commission.domain.appeal import (
    DecideAppeal,
    LodgeAppeal,
    NamePanel,
    PublishedDecision,
    appeal_decider,
)
from konkurs_commission.domain.composition import ComposeCommission, composition_decider
from konkurs_commission.domain.events import (
    AppealGround,
    AppealUpheld,
    Candidate,
    ClusterSelected,
    DecisionPublished,
    DecisionRule,
    DecisionTaken,
    MeetingEvent,
    MeetingOpened,
    Member,
    MemberRecused,
    MemberRole,
    MinutesApproved,
    ReevaluationRequested,
    Rules,
    VoteCast,
    VoteChoice,
    VoteClosed,
    WinnerReplaced,
)
from konkurs_commission.domain.meeting import (
    ApproveMinutes,
    AttachDissentingOpinion,
    CastVote,
    ChangeAttendance,
    CloseAppealWindow,
    CloseVote,
    DeclareRecusal,
    Meeting,
    MeetingCommand,
    OpenMeeting,
    OpenVote,
    PublishDecision,
    ReplaceWinner,
    ScheduleMeeting,
    TakeDecision,
    appeals_close_at,
    meeting_decider,
)
from konkurs_commission.domain.minutes import (
    build_minutes,
    canonical_json,
    minutes_sha256,
    redacted_for,
)
from konkurs_platform.domain import Conflict, DomainError, Forbidden, NotFound

NOW = datetime(2017, 6, 15, 8, 0, tzinfo=UTC)
MEMBERS = (
    Member("chair", MemberRole.CHAIR, "Vice Minister"),
    Member("sec", MemberRole.SECRETARY, "Director"),
    Member("m1", MemberRole.MEMBER, "Member 1", ("100140000001",)),
    Member("m2", MemberRole.MEMBER, "Member 2"),
    Member("m3", MemberRole.MEMBER, "Member 3"),
    Member("m4", MemberRole.MEMBER, "Member 4"),
)
NAMES = {m.member_id: f"Name of {m.member_id}" for m in MEMBERS}
# The meeting's secretary and chair, signed in as such.
SEC = Caller("sec", Office.SECRETARY)
CHAIR = Caller("chair", Office.MEMBER)


def candidate(rank: int, *, fundable: bool = True, bins: Sequence[str] = ()) -> Candidate:
    return Candidate(
        application_id=f"app-{rank}",
        registration_number=f"KZ-75-2017-{rank:04d}",
        rank=rank,
        fundable=fundable,
        failed_thresholds=() if fundable else ("overall",),
        overall=f"{90 - rank}/1",
        cluster_name=f"Cluster {rank}",
        region_code="KZ-ALA",
        participant_bins=(f"99014000000{rank}", *bins),
        coordinator_bin=f"99014000000{rank}",
    )


CANDIDATES = (
    candidate(1, bins=("100140000001",)),
    candidate(2),
    candidate(3),
    candidate(4, fundable=False),
)


def schedule(quota: int = 2, rules: Rules | None = None) -> ScheduleMeeting:
    return ScheduleMeeting(
        meeting_id="meet-1",
        call_id="clusters-2017",
        scheduled_for=NOW,
        venue="Astana, House of Ministries",
        ranking_event_id="rank-event",
        ranking_version=1,
        ranking_content_hash="abc",
        candidates=CANDIDATES,
        quota=quota,
        composition_version=1,
        members=MEMBERS,
        reconsidered=(),
        time_zone="Asia/Almaty",
        rules=rules or Rules(),
    )


def run(
    commands: Sequence[MeetingCommand], state: Meeting | None = None
) -> tuple[Meeting, list[MeetingEvent]]:
    """Decide and fold each command in turn; every event, in order."""
    state = state or meeting_decider.initial
    events: list[MeetingEvent] = []
    for command in commands:
        new = list(meeting_decider.decide(command, state))
        state = meeting_decider.fold(new, state)
        events += new
    return state, events


ALL = ("chair", "sec", "m1", "m2", "m3", "m4")


def vote(application_id: str, choices: dict[str, VoteChoice]) -> list[MeetingCommand]:
    cast: list[MeetingCommand] = [CastVote(m, application_id, c) for m, c in choices.items()]
    return [OpenVote(application_id, CHAIR), *cast, CloseVote(application_id, SEC)]


FOR, AGAINST, ABSTAIN = VoteChoice.FOR, VoteChoice.AGAINST, VoteChoice.ABSTAIN


def test_quorum_is_two_thirds_of_the_members_rounded_up_by_default() -> None:
    _, events = run([schedule(), OpenMeeting(("chair", "sec", "m1", "m2"), NOW, SEC)])
    opened = events[1]
    assert isinstance(opened, MeetingOpened)
    assert (opened.quorum_required, opened.quorum_met) == (4, True)


def test_no_vote_without_quorum_and_the_refusal_says_how_many_are_missing() -> None:
    state, _ = run([schedule(), OpenMeeting(("chair", "m2", "m3"), NOW, SEC)])
    with pytest.raises(Conflict) as refused:
        meeting_decider.decide(OpenVote("app-2", CHAIR), state)
    assert refused.value.code == "no_quorum"
    assert "1 missing" in refused.value.detail


def test_a_member_affiliated_with_a_participant_is_recused_automatically_and_cannot_vote() -> None:
    state, events = run([schedule(), OpenMeeting(ALL, NOW, SEC), OpenVote("app-1", CHAIR)])
    recusals = [e for e in events if isinstance(e, MemberRecused)]
    assert [(r.member_id, r.application_id, r.automatic, r.matching_bins) for r in recusals] == [
        ("m1", "app-1", True, ("100140000001",))
    ]
    with pytest.raises(Forbidden):
        meeting_decider.decide(CastVote("m1", "app-1", FOR), state)


def test_a_declared_recusal_needs_a_reason_and_is_refused_after_the_members_vote() -> None:
    state, _ = run([schedule(), OpenMeeting(ALL, NOW, SEC)])
    with pytest.raises(DomainError):
        meeting_decider.decide(DeclareRecusal("m2", "app-2", " "), state)
    state, _ = run([OpenVote("app-2", CHAIR), CastVote("m2", "app-2", FOR)], state)
    with pytest.raises(Conflict):
        meeting_decider.decide(DeclareRecusal("m2", "app-2", "my brother works there"), state)


def test_a_changed_vote_replaces_the_first_and_both_are_recorded() -> None:
    _, events = run(
        [
            schedule(),
            OpenMeeting(ALL, NOW, SEC),
            OpenVote("app-2", CHAIR),
            CastVote("m2", "app-2", FOR),
            CastVote("m2", "app-2", AGAINST),
            CastVote("m2", "app-2", AGAINST),
            CloseVote("app-2", SEC),
        ]
    )
    cast = [e for e in events if isinstance(e, VoteCast)]
    assert [(c.choice, c.replaces) for c in cast] == [(FOR, None), (AGAINST, FOR)]
    closed = events[-1]
    assert isinstance(closed, VoteClosed)
    assert (closed.tally.votes_for, closed.tally.votes_against, closed.tally.not_voted) == (0, 1, 4)


def test_the_secretary_does_not_vote() -> None:
    state, _ = run([schedule(), OpenMeeting(ALL, NOW, SEC), OpenVote("app-2", CHAIR)])
    with pytest.raises(Forbidden):
        meeting_decider.decide(CastVote("sec", "app-2", FOR), state)


def test_the_chairs_casting_vote_breaks_a_tie() -> None:
    choices = {"chair": FOR, "m2": FOR, "m3": AGAINST, "m4": AGAINST}
    _, events = run([schedule(), OpenMeeting(ALL, NOW, SEC), *vote("app-2", choices)])
    closed = events[-1]
    assert isinstance(closed, VoteClosed)
    assert closed.carried and closed.tally.casting_vote_used
    against = {**choices, "chair": AGAINST, "m2": FOR, "m3": FOR}
    _, events = run([schedule(), OpenMeeting(ALL, NOW, SEC), *vote("app-2", against)])
    closed = events[-1]
    assert isinstance(closed, VoteClosed)
    assert not closed.carried and closed.tally.casting_vote_used


def test_without_a_casting_vote_a_tie_is_not_carried() -> None:
    rules = Rules(casting_vote=False)
    choices = {"chair": FOR, "m2": FOR, "m3": AGAINST, "m4": AGAINST}
    _, events = run([schedule(rules=rules), OpenMeeting(ALL, NOW, SEC), *vote("app-2", choices)])
    closed = events[-1]
    assert isinstance(closed, VoteClosed)
    assert not closed.carried and not closed.tally.casting_vote_used


def test_majority_of_present_counts_abstentions_against() -> None:
    rules = Rules(decision_rule=DecisionRule.MAJORITY_OF_PRESENT)
    choices = {"chair": FOR, "m2": FOR, "m3": ABSTAIN, "m4": ABSTAIN, "m1": AGAINST}
    _, events = run([schedule(rules=rules), OpenMeeting(ALL, NOW, SEC), *vote("app-2", choices)])
    closed = events[-1]
    assert isinstance(closed, VoteClosed) and not closed.carried


def test_no_vote_opens_once_the_quota_is_filled_and_only_one_vote_is_open_at_a_time() -> None:
    yes = {"chair": FOR, "m2": FOR, "m3": FOR}
    state, _ = run([schedule(quota=2), OpenMeeting(ALL, NOW, SEC), OpenVote("app-1", CHAIR)])
    with pytest.raises(Conflict, match="still open"):
        meeting_decider.decide(OpenVote("app-2", CHAIR), state)
    state, _ = run([CloseVote("app-1", SEC), *vote("app-2", yes), *vote("app-3", yes)], state)
    with pytest.raises(Conflict) as refused:
        meeting_decider.decide(OpenVote("app-4", CHAIR), state)
    assert refused.value.code == "quota_filled"


def decided(rationales: dict[str, str]) -> tuple[Meeting, list[MeetingEvent]]:
    yes = {"chair": FOR, "m2": FOR, "m3": FOR}
    no = {"chair": AGAINST, "m2": AGAINST, "m3": AGAINST}
    return run(
        [
            schedule(quota=2),
            OpenMeeting(ALL, NOW, SEC),
            *vote("app-1", no),
            *vote("app-2", yes),
            *vote("app-3", yes),
            TakeDecision(rationales, ("app-1",), NOW, SEC),
        ]
    )


def test_selecting_below_a_fundable_unselected_candidate_requires_a_rationale() -> None:
    with pytest.raises(DomainError) as refused:
        decided({})
    pointers = [e.pointer for e in refused.value.errors]
    assert pointers == ["/rationales/app-2", "/rationales/app-3"]
    _, events = decided({"app-2": "Stronger export plan.", "app-3": "Regional balance."})
    decision = events[-1]
    assert isinstance(decision, DecisionTaken)
    assert [s.application_id for s in decision.selected] == ["app-2", "app-3"]
    assert [(d.application_id, d.reason[:11]) for d in decision.declined] == [
        ("app-1", "not carried"),
        ("app-4", "quota fille"),
    ]


def test_selecting_a_candidate_that_failed_a_threshold_requires_a_rationale() -> None:
    yes = {"chair": FOR, "m2": FOR, "m3": FOR}
    state, _ = run([schedule(quota=4), OpenMeeting(ALL, NOW, SEC), *vote("app-4", yes)])
    with pytest.raises(DomainError) as refused:
        meeting_decider.decide(TakeDecision({}, (), NOW, SEC), state)
    assert [e.pointer for e in refused.value.errors] == ["/rationales/app-4"]


def test_the_reserve_list_holds_declined_candidates_once_each() -> None:
    with pytest.raises(DomainError) as refused:
        run(
            [
                schedule(quota=2),
                OpenMeeting(ALL, NOW, SEC),
                *vote("app-2", {"chair": FOR, "m2": FOR}),
                TakeDecision({"app-2": "Export plan."}, ("app-2", "app-4", "app-4"), NOW, SEC),
            ]
        )
    assert [(e.pointer, e.reason) for e in refused.value.errors] == [
        ("/reserve_application_ids/0", "not a declined candidate"),
        ("/reserve_application_ids/2", "listed twice"),
    ]


def published(at: datetime = NOW) -> Meeting:
    state, _ = decided({"app-2": "Stronger export plan.", "app-3": "Regional balance."})
    digest = state.minutes_sha256()
    state, _ = run(
        [ApproveMinutes(CHAIR, digest), ApproveMinutes(SEC, digest), PublishDecision(at, SEC)],
        state,
    )
    return state


def test_publication_needs_the_chairs_and_the_secretarys_approval_of_these_minutes() -> None:
    state, _ = decided({"app-2": "Stronger export plan.", "app-3": "Regional balance."})
    with pytest.raises(Conflict, match="await"):
        meeting_decider.decide(PublishDecision(NOW, SEC), state)
    with pytest.raises(Conflict) as refused:
        meeting_decider.decide(ApproveMinutes(CHAIR, "0" * 64), state)
    assert refused.value.code == "minutes_changed"
    with pytest.raises(Forbidden):
        meeting_decider.decide(
            ApproveMinutes(Caller("m2", Office.MEMBER), state.minutes_sha256()), state
        )
    state, _ = run([ApproveMinutes(CHAIR, state.minutes_sha256())], state)
    with pytest.raises(Conflict, match="secretary"):
        meeting_decider.decide(PublishDecision(NOW, SEC), state)


def test_publication_selects_the_winners_and_declines_the_rest_with_the_reserve_position() -> None:
    state, _ = decided({"app-2": "Stronger export plan.", "app-3": "Regional balance."})
    digest = state.minutes_sha256()
    _, events = run(
        [ApproveMinutes(CHAIR, digest), ApproveMinutes(SEC, digest), PublishDecision(NOW, SEC)],
        state,
    )
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "MinutesApproved",
        "MinutesApproved",
        "DecisionPublished",
        "ClusterSelected",
        "ClusterSelected",
        "ApplicationDeclined",
        "ApplicationDeclined",
    ]
    selected = [e for e in events if isinstance(e, ClusterSelected)]
    assert [(s.application_id, s.coordinator_bin) for s in selected] == [
        ("app-2", "990140000002"),
        ("app-3", "990140000003"),
    ]
    reserve = [getattr(e, "reserve_position", None) for e in events[-2:]]
    assert reserve == [1, 0]


def test_the_appeal_window_ends_at_midnight_in_the_calls_time_zone_after_its_days() -> None:
    # 15 June 2017 23:30 in Almaty (UTC+6) is 17:30 UTC: the published day is the 15th there.
    at = datetime(2017, 6, 15, 17, 30, tzinfo=UTC)
    assert appeals_close_at(at, "Asia/Almaty", 30) == datetime(2017, 7, 15, 18, 0, tzinfo=UTC)
    state = published(at)
    assert state.published is not None
    assert state.published.appeals_close_at == datetime(2017, 7, 15, 18, 0, tzinfo=UTC)


def lodge(state: Meeting, now: datetime, bin_: str = "990140000001") -> LodgeAppeal:
    assert state.scheduled is not None and state.published is not None
    return LodgeAppeal(
        appeal_id="appeal-1",
        application_id="app-1",
        applicant_bin=bin_,
        ground=AppealGround.CONFLICT_OF_INTEREST,
        explanation="A member sat on our competitor's board.",
        decision=PublishedDecision(
            meeting_id="meet-1",
            call_id="clusters-2017",
            coordinators=tuple((c.application_id, c.coordinator_bin) for c in CANDIDATES),
            appeals_close_at=state.published.appeals_close_at,
            window_closed=state.window_closed,
            members=tuple((m.member_id, m.role) for m in MEMBERS),
        ),
        now=now,
    )


def test_an_appeal_one_second_before_the_window_closes_is_lodged_and_one_second_after_refused() -> (
    None
):
    state = published(datetime(2017, 6, 15, 17, 30, tzinfo=UTC))
    closes = datetime(2017, 7, 15, 18, 0, tzinfo=UTC)
    lodged = appeal_decider.decide(
        lodge(state, closes - timedelta(seconds=1)), appeal_decider.initial
    )
    assert len(lodged) == 1
    for late in (closes, closes + timedelta(seconds=1)):
        with pytest.raises(Conflict) as refused:
            appeal_decider.decide(lodge(state, late), appeal_decider.initial)
        assert refused.value.code == "appeal_window_closed"
        assert "2017-07-15T18:00:00+00:00" in refused.value.detail


def test_the_window_timer_closes_the_window_only_when_due_and_then_appeals_are_refused() -> None:
    state = published(datetime(2017, 6, 15, 17, 30, tzinfo=UTC))
    closes = datetime(2017, 7, 15, 18, 0, tzinfo=UTC)
    with pytest.raises(Conflict):
        meeting_decider.decide(CloseAppealWindow(closes - timedelta(seconds=1)), state)
    state, events = run([CloseAppealWindow(closes)], state)
    assert len(events) == 1 and state.window_closed
    with pytest.raises(Conflict):
        appeal_decider.decide(lodge(state, closes - timedelta(days=1)), appeal_decider.initial)


def test_an_applicant_appeals_only_on_its_own_application() -> None:
    state = published()
    with pytest.raises(Forbidden):
        appeal_decider.decide(lodge(state, NOW, bin_="990140000002"), appeal_decider.initial)


def test_an_upheld_appeal_asks_scoring_to_evaluate_again_and_only_the_chair_or_panel_decides() -> (
    None
):
    state = published()
    appeal = appeal_decider.fold(appeal_decider.decide(lodge(state, NOW), appeal_decider.initial))
    with pytest.raises(Forbidden):
        appeal_decider.decide(DecideAppeal(True, "Conflict shown.", "m2", "chair", NOW), appeal)
    events = appeal_decider.decide(
        DecideAppeal(True, "Conflict shown.", "chair", "chair", NOW), appeal
    )
    assert isinstance(events[0], AppealUpheld)
    request = events[1]
    assert isinstance(request, ReevaluationRequested)
    assert (request.call_id, request.application_id, request.appeal_id) == (
        "clusters-2017",
        "app-1",
        "appeal-1",
    )


def meeting_events() -> list[MeetingEvent]:
    _, events = decided({"app-2": "Stronger export plan.", "app-3": "Regional balance."})
    state = meeting_decider.fold(events)
    _, more = run(
        [
            ApproveMinutes(CHAIR, state.minutes_sha256()),
            ApproveMinutes(SEC, state.minutes_sha256()),
            PublishDecision(NOW, SEC),
        ],
        state,
    )
    return events + more


def test_replaying_the_events_rebuilds_the_same_minutes_byte_for_byte() -> None:
    events = meeting_events()
    first = canonical_json(build_minutes(events, names=NAMES))
    again = canonical_json(build_minutes(list(events), names=dict(NAMES)))
    assert first == again
    minutes = build_minutes(events, names=NAMES)
    assert minutes.attendance is not None and minutes.attendance.quorum_met
    assert [a.role for a in minutes.approvals] == ["chair", "secretary"]
    assert [(r.member_id, r.automatic) for r in minutes.recusals] == [("m1", True)]
    app2 = next(c for c in minutes.candidates if c.application_id == "app-2")
    assert [(v.member_id, v.choice) for v in app2.votes] == [
        ("chair", "for"),
        ("m2", "for"),
        ("m3", "for"),
    ]


def test_the_approved_hash_recomputes_after_a_members_name_is_erased() -> None:
    events = meeting_events()
    published_event = next(e for e in events if isinstance(e, DecisionPublished))
    erased = {**NAMES, "m2": "[erased]"}
    assert minutes_sha256(build_minutes(events, names=erased)) == published_event.minutes_sha256


def test_an_applicant_sees_the_minutes_without_other_applicants_confidential_content() -> None:
    state, _ = decided({"app-2": "Stronger export plan.", "app-3": "Regional balance."})
    state, _ = run(
        [
            AttachDissentingOpinion("m3", "app-3", "Its budget is thin."),
            AttachDissentingOpinion("m4", "app-1", "It deserved more."),
        ],
        state,
    )
    minutes = redacted_for(build_minutes(state.record, names=NAMES), "app-1")
    assert [d.application_id for d in minutes.dissenting_opinions] == ["app-1"]
    bins = {c.application_id: c.participant_bins for c in minutes.candidates}
    assert bins["app-1"] and not bins["app-2"] and not bins["app-3"]
    assert next(v.member_name for v in minutes.candidates[1].votes) == "Name of chair"


def test_the_minutes_hash_is_the_same_for_an_instant_written_with_another_offset() -> None:
    events = meeting_events()
    almaty = timezone(timedelta(hours=6))
    shifted = [
        replace(e, decided_at=e.decided_at.astimezone(almaty))
        if isinstance(e, DecisionTaken)
        else e
        for e in events
    ]
    assert minutes_sha256(build_minutes(shifted, names=NAMES)) == minutes_sha256(
        build_minutes(events, names=NAMES)
    )


def test_a_withdrawn_winners_place_goes_to_the_next_on_the_reserve_list_once() -> None:
    state = published()
    with pytest.raises(NotFound):
        meeting_decider.decide(ReplaceWinner("app-1", "withdrawn", "Left.", NOW, SEC), state)
    with pytest.raises(DomainError):
        meeting_decider.decide(ReplaceWinner("app-2", "bored", "Left.", NOW, SEC), state)
    state, events = run(
        [ReplaceWinner("app-2", "withdrawn", "The cluster dissolved.", NOW, SEC)], state
    )
    replaced, selected = events
    assert isinstance(replaced, WinnerReplaced) and replaced.replacement_application_id == "app-1"
    assert isinstance(selected, ClusterSelected) and selected.from_reserve
    # The reserve list is exhausted: the next place stays empty.
    _, events = run([ReplaceWinner("app-1", "disqualified", "False statements.", NOW, SEC)], state)
    assert len(events) == 1 and isinstance(events[0], WinnerReplaced)
    assert events[0].replacement_application_id == ""
    with pytest.raises(Conflict):
        meeting_decider.decide(ReplaceWinner("app-2", "withdrawn", "Again.", NOW, SEC), state)


# Who acts: the offices of the composition the act belongs to ---------------------------------

ANOTHER_CALLS_SECRETARY = Caller("sec-2", Office.SECRETARY)
A_MEMBER = Caller("m2", Office.MEMBER)


def test_only_the_meetings_own_secretary_runs_it_and_the_refusal_says_so() -> None:
    state, _ = run([schedule()])
    for stranger in (ANOTHER_CALLS_SECRETARY, CHAIR, Caller("sec", Office.MEMBER)):
        with pytest.raises(Forbidden) as refused:
            meeting_decider.decide(OpenMeeting(ALL, NOW, stranger), state)
        assert refused.value.code == "not_the_secretary"
        assert refused.value.detail == (
            f"{stranger.subject} is not the secretary of this meeting's commission."
        )
    state, _ = run([OpenMeeting(ALL, NOW, SEC), *vote("app-2", {"chair": FOR, "m2": FOR})], state)
    refused_acts: list[MeetingCommand] = [
        ChangeAttendance("m4", False, ANOTHER_CALLS_SECRETARY),
        TakeDecision({}, (), NOW, ANOTHER_CALLS_SECRETARY),
    ]
    for command in refused_acts:
        with pytest.raises(Forbidden, match="not the secretary"):
            meeting_decider.decide(command, state)
    state = published()
    for command in (
        PublishDecision(NOW, CHAIR),
        ReplaceWinner("app-2", "withdrawn", "Left.", NOW, ANOTHER_CALLS_SECRETARY),
    ):
        with pytest.raises(Forbidden, match="not the secretary"):
            meeting_decider.decide(command, state)


def test_only_the_chair_or_the_secretary_opens_and_closes_votes_and_approves_the_minutes() -> None:
    state, _ = run([schedule(), OpenMeeting(ALL, NOW, SEC)])
    # A member acting as the chair, the chair signed in as the secretary, another call's
    # secretary: none holds the office in this meeting's commission.
    for stranger in (A_MEMBER, Caller("chair", Office.SECRETARY), ANOTHER_CALLS_SECRETARY):
        with pytest.raises(Forbidden) as refused:
            meeting_decider.decide(OpenVote("app-2", stranger), state)
        assert refused.value.code == "not_the_chair_or_secretary"
        assert f"{stranger.subject} is neither the chair nor the secretary" in refused.value.detail
    state, _ = run([OpenVote("app-2", SEC)], state)
    with pytest.raises(Forbidden):
        meeting_decider.decide(CloseVote("app-2", A_MEMBER), state)
    state, events = run([CloseVote("app-2", CHAIR)], state)
    assert isinstance(events[0], VoteClosed)
    state, _ = decided({"app-2": "Stronger export plan.", "app-3": "Regional balance."})
    with pytest.raises(Forbidden):
        meeting_decider.decide(ApproveMinutes(A_MEMBER, state.minutes_sha256()), state)
    _, events = run([ApproveMinutes(CHAIR, state.minutes_sha256())], state)
    assert [(e.member_id, e.role) for e in events if isinstance(e, MinutesApproved)] == [
        ("chair", MemberRole.CHAIR)
    ]


OPERATOR = Caller("operator-1", Office.OPERATOR)


def compose(by: Caller, secretary: str = "sec", reason: str = "") -> ComposeCommission:
    members = tuple(
        replace(m, member_id=secretary) if m.role is MemberRole.SECRETARY else m for m in MEMBERS
    )
    return ComposeCommission(
        "clusters-2017", members, {m.member_id: "A Name" for m in members}, reason, Rules(), by
    )


def test_the_operator_records_the_first_composition_and_its_secretary_the_later_ones() -> None:
    first = composition_decider.initial
    for secretary in (SEC, ANOTHER_CALLS_SECRETARY):
        with pytest.raises(Forbidden) as refused:
            composition_decider.decide(compose(secretary), first)
        assert refused.value.code == "not_the_operator"
    state = composition_decider.fold(composition_decider.decide(compose(OPERATOR), first))
    assert state.version == 1
    # Then the operator no more, nor another call's secretary, nor the chair.
    for stranger in (OPERATOR, ANOTHER_CALLS_SECRETARY, Caller("chair", Office.SECRETARY)):
        with pytest.raises(Forbidden, match="not the secretary of the commission of clusters"):
            composition_decider.decide(compose(stranger, reason="Changed."), state)
    # The secretary hands over to a new one, who alone composes from then on.
    handed = compose(SEC, secretary="sec-3", reason="The secretary moved on.")
    state = composition_decider.fold(composition_decider.decide(handed, state), state)
    assert state.version == 2
    with pytest.raises(Forbidden):
        composition_decider.decide(compose(SEC, reason="Back."), state)
    again = compose(Caller("sec-3", Office.SECRETARY), secretary="sec-3", reason="Same.")
    assert composition_decider.decide(again, state) == []


def test_an_appeals_panel_is_named_by_the_secretary_of_the_calls_commission_as_it_stands() -> None:
    state = published()
    appeal = appeal_decider.fold(appeal_decider.decide(lodge(state, NOW), appeal_decider.initial))
    decision = lodge(state, NOW).decision
    # The meeting's secretary has handed over since: the new one names the panel.
    now_sitting = tuple(
        replace(m, member_id="sec-3") if m.role is MemberRole.SECRETARY else m for m in MEMBERS
    )
    for stranger in (SEC, ANOTHER_CALLS_SECRETARY, CHAIR):
        with pytest.raises(Forbidden, match="not the secretary of the commission of clusters"):
            appeal_decider.decide(NamePanel(("m2",), decision, stranger, now_sitting), appeal)
    named = NamePanel(("m2",), decision, Caller("sec-3", Office.SECRETARY), now_sitting)
    assert [type(e).__name__ for e in appeal_decider.decide(named, appeal)] == ["AppealPanelNamed"]
