"""The commission's meeting and appeal deciders under hypothesis (issue 13), as
test_fuzz_deciders.py fuzzes intake's: random sequences of commands from any member, on any
candidate, in any order. Only a `DomainError` escapes `decide`; folding the events rebuilds
the state; and the rules hold: never more carried or selected than the quota, no vote
without quorum, none from the secretary, an absent or a recused member, at most one vote
open, no act of the secretary or the chair by anyone else (another member, a member signed in
as the secretary, the secretary signed in as a member), and the minutes' hash is the same
however often they are built."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from test_commission_domain import CANDIDATES, CHAIR, MEMBERS, NOW, SEC, schedule

from konkurs_commission.domain.acting import Caller, Office
from konkurs_commission.domain.events import (
    DecisionTaken,
    MeetingEvent,
    VoteCast,
    VoteChoice,
)
from konkurs_commission.domain.meeting import (
    ApproveMinutes,
    AttachDissentingOpinion,
    CastVote,
    ChangeAttendance,
    CloseVote,
    DeclareRecusal,
    Meeting,
    MeetingCommand,
    OpenMeeting,
    OpenVote,
    PublishDecision,
    ReplaceWinner,
    TakeDecision,
    meeting_decider,
)
from konkurs_commission.domain.minutes import build_minutes, minutes_sha256
from konkurs_platform.domain import DomainError

IDS = [m.member_id for m in MEMBERS] + ["stranger"]
APPS = [c.application_id for c in CANDIDATES] + ["unknown"]
members = st.sampled_from(IDS)
apps = st.sampled_from(APPS)
# Half the time the meeting's own secretary or chair, so that most histories get somewhere.
callers = st.one_of(
    st.sampled_from([SEC, CHAIR]), st.builds(Caller, members, st.sampled_from(list(Office)))
)


@st.composite
def commands(draw: st.DrawFn) -> MeetingCommand:
    kind = draw(st.integers(0, 12))
    if kind == 0:
        return OpenMeeting(tuple(draw(st.lists(members, unique=True))), NOW, draw(callers))
    if kind == 1:
        return ChangeAttendance(draw(members), draw(st.booleans()), draw(callers))
    if kind == 2:
        return DeclareRecusal(draw(members), draw(apps), draw(st.sampled_from(["", "kin"])))
    if kind == 3:
        return OpenVote(draw(apps), draw(callers))
    if kind in (4, 5, 6):
        return CastVote(draw(members), draw(apps), draw(st.sampled_from(list(VoteChoice))))
    if kind == 7:
        return CloseVote(draw(apps), draw(callers))
    if kind == 8:
        return AttachDissentingOpinion(draw(members), draw(apps), draw(st.sampled_from(["", "x"])))
    if kind == 9:
        rationales = {a: "because" for a in draw(st.lists(apps, unique=True, max_size=3))}
        reserve = tuple(draw(st.lists(apps, max_size=2)))
        return TakeDecision(rationales, reserve, NOW, draw(callers))
    if kind == 10:
        return ApproveMinutes(draw(callers), draw(st.sampled_from(["0" * 64, "current"])))
    if kind == 11:
        return PublishDecision(NOW, draw(callers))
    cause = draw(st.sampled_from(["withdrawn", "x"]))
    return ReplaceWinner(draw(apps), cause, "gone", NOW, draw(callers))


def _check_office(command: MeetingCommand) -> None:
    """A command of the secretary or the chair that changed the meeting was theirs."""
    if isinstance(command, OpenVote | CloseVote | ApproveMinutes):
        assert command.by in (SEC, CHAIR)
    elif isinstance(
        command, OpenMeeting | ChangeAttendance | TakeDecision | PublishDecision | ReplaceWinner
    ):
        assert command.by == SEC


def _check_vote(state: Meeting, event: VoteCast) -> None:
    member = state.member(event.member_id)
    assert member is not None and member.votes
    assert state.quorum_met and event.member_id in state.present
    assert (event.member_id, event.application_id) not in state.recusals
    assert state.open_vote == event.application_id


@hsettings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(1, 3), st.booleans(), st.lists(commands(), max_size=60))
def test_a_meeting_answers_any_commands_with_events_or_a_domain_error_and_keeps_its_rules(
    quota: int, all_present: bool, sequence: Sequence[MeetingCommand]
) -> None:
    # Half the histories open with everyone present, so that most reach the votes.
    opening = [OpenMeeting(tuple(IDS[:-1]), NOW, SEC)] if all_present else []
    sequence = [*opening, *sequence]
    state = meeting_decider.fold(meeting_decider.decide(schedule(quota=quota), Meeting()))
    history: list[MeetingEvent] = list(state.record)
    for command in sequence:
        if isinstance(command, ApproveMinutes) and command.minutes_sha256 == "current":
            digest = state.minutes_sha256() if state.scheduled else ""
            command = ApproveMinutes(command.by, digest)
        try:
            events = list(meeting_decider.decide(command, state))
        except DomainError:
            continue
        if events:
            _check_office(command)
        for event in events:
            if isinstance(event, VoteCast):
                _check_vote(state, event)
            state = meeting_decider.evolve(state, event)
            history.append(event)
        assert len(state.carried) <= quota
        if state.published is not None:
            # However many winners left, never more in office than the quota.
            in_office = {s.application_id for s in state.published.selected}
            in_office |= set(state.from_reserve)
            assert len(in_office - set(state.replaced)) <= quota
    assert meeting_decider.fold(history) == state
    decisions = [e for e in history if isinstance(e, DecisionTaken)]
    assert all(len(d.selected) <= quota for d in decisions) and len(decisions) <= 1
    minutes: Any = build_minutes(state.record, names={})
    assert minutes_sha256(minutes) == minutes_sha256(build_minutes(list(history), names={}))
