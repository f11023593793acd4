"""The 2017 commission as demo data (after scoring's demo, `konkurs up`).

The commission learns the 2017 call, its applications and scoring's ranking from their
events alone, so the demo first waits, with a deadline, until the worker has learned the
ranking and every application on it. Then, at August and September 2017 times and through
the same handlers the API calls:

- a commission of nine illustrative members (names invented and marked so): a chair, a
  secretary who does not vote, seven members; one member's organisation takes part in the
  third-placed cluster, so the opening recuses them for it automatically;
- a meeting on the ranking, eight of nine present (quorum: six);
- votes in ranking order until six carried: the sixth-placed cluster's vote fails (its
  co-financing was not confirmed), so the seventh is selected, a departure from the ranking
  recorded with its rationale; one member attaches a dissenting opinion on it;
- the decision with a reserve list, the minutes approved by the chair and the secretary,
  the decision published;
- the sixth-placed applicant appeals on procedure, and the chair rejects the appeal with
  reasons; the appeal window closes at its 2017 end.

It all happens in one transaction, checked first: a load that finds the meeting recorded
changes nothing, and an interrupted load leaves nothing behind. Every command is imported
history, so the appeal window's timer is set and cancelled within the load, never fired now.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import asyncpg

from konkurs_commission.app.commission import Commission, appeal_stream, meeting_stream
from konkurs_commission.bootstrap import build
from konkurs_commission.domain.acting import Caller, Office
from konkurs_commission.domain.appeal import DecideAppeal, LodgeAppeal
from konkurs_commission.domain.composition import ComposeCommission
from konkurs_commission.domain.events import AppealGround, Member, MemberRole, Rules, VoteChoice
from konkurs_commission.domain.meeting import (
    ApproveMinutes,
    AttachDissentingOpinion,
    CastVote,
    CloseAppealWindow,
    CloseVote,
    Meeting,
    MeetingCommand,
    OpenMeeting,
    OpenVote,
    PublishDecision,
    TakeDecision,
    rationale_required,
)
from konkurs_platform.db import Connection, create_pool
from konkurs_platform.envelope import Actor
from konkurs_platform.eventstore import Metadata
from konkurs_platform.settings import Settings

CALL_ID = "kz-clusters-2017"
MEETING_ID = "kz-clusters-2017-meeting-1"
APPEAL_ID = "kz-clusters-2017-appeal-1"
# How long to wait for the worker to learn the ranking and its applications.
WAIT_SECONDS = 300.0

ASTANA = timezone(timedelta(hours=6))
COMPOSED_AT = datetime(2017, 8, 1, 10, tzinfo=ASTANA)
SCHEDULED_AT = datetime(2017, 8, 7, 10, tzinfo=ASTANA)
MEETS_AT = datetime(2017, 8, 15, 10, tzinfo=ASTANA)
PUBLISHED_AT = datetime(2017, 8, 18, 12, tzinfo=ASTANA)
LODGED_AT = datetime(2017, 8, 28, 16, tzinfo=ASTANA)
REJECTED_AT = datetime(2017, 9, 8, 11, tzinfo=ASTANA)

CHAIR, SECRETARY = "member-2017-chair", "member-2017-secretary"
VOTERS = tuple(f"member-2017-{n:02d}" for n in range(1, 8))
ABSENT = VOTERS[-1]
# Their organisation takes part in the third-placed cluster.
AFFILIATED = VOTERS[2]
# Votes against the sixth-placed cluster (a majority of the eight present).
AGAINST_SIXTH = frozenset(VOTERS[:4])
DISSENTER = VOTERS[4]
RATIONALE = (
    "The sixth-placed cluster did not confirm its co-financing at the meeting; the "
    "seventh-placed cluster has signed co-financing agreements and is the only candidate from "
    "its region, which the programme's regional balance favours (illustrative)."
)
DISSENT = (
    "I would have kept to the ranking: the co-financing letters were due only at the "
    "agreement stage (illustrative)."
)
APPEAL = (
    "The commission weighed our co-financing, which the call's methodology does not ask "
    "for at this stage (illustrative)."
)
REJECTION = (
    "Co-financing is a condition of the call (section 4); the commission asked every "
    "candidate the same question and recorded the answers; no breach of procedure "
    "(illustrative)."
)
SECRETARY_ACTOR = Actor(subject=SECRETARY, role="commission_secretary")
# The first composition is the operator's to record (the ministry's order constitutes it).
OPERATOR_ACTOR = Actor(subject="operator-2017", role="operator")
OPERATOR_CALLER = Caller(OPERATOR_ACTOR.subject, Office.OPERATOR)
# The secretary and the chair as the meeting's rules see them.
BY_SECRETARY = Caller(SECRETARY, Office.SECRETARY)
BY_CHAIR = Caller(CHAIR, Office.MEMBER)


class Moment:
    """The 2017 time the store records, moved by the load: a minute per command."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now

    def at(self, when: datetime) -> datetime:
        self.now = when
        return when


def _meta(actor: Actor = SECRETARY_ACTOR) -> Metadata:
    return Metadata(actor=actor, correlation_id=f"demo-load:{CALL_ID}", imported=True)


def _member(member_id: str) -> Actor:
    return Actor(subject=member_id, role="commission_member")


def composition() -> ComposeCommission:
    """The nine illustrative members of 2017 (invented, marked so), with the call's rules."""
    members = (
        Member(CHAIR, MemberRole.CHAIR, "Vice Minister for Investment and Development"),
        Member(SECRETARY, MemberRole.SECRETARY, "Director, Department of Industrial Policy"),
        *(
            Member(m, MemberRole.MEMBER, f"Member of the commission, seat {n}")
            for n, m in enumerate(VOTERS, start=1)
        ),
    )
    names = {CHAIR: "Председатель (вымышленный)", SECRETARY: "Секретарь (вымышленный)"}
    names |= {m: f"Член комиссии {n} (вымышленный)" for n, m in enumerate(VOTERS, start=1)}
    return ComposeCommission(CALL_ID, members, names, "", Rules(), OPERATOR_CALLER)


async def wait_for_ranking(pool: asyncpg.Pool, commission: Commission) -> None:
    """Wait until the worker has learned the call, scoring's ranking and every application on
    it; says how far it got every few seconds and gives up at the deadline (is `konkurs
    worker commission` running?)."""
    deadline = time.monotonic() + WAIT_SECONDS
    said = 0.0
    book = commission.book
    while True:
        async with pool.acquire() as conn:
            call = await book.call(conn, CALL_ID)
            ranking = await book.ranking(conn, CALL_ID)
            known = 0
            if ranking is not None:
                for e in ranking.entries:
                    known += await book.application(conn, e.application_id) is not None
        if call is not None and ranking is not None and known == len(ranking.entries):
            return
        now = time.monotonic()
        if now >= deadline:
            raise TimeoutError(
                f"the commission's worker has not learned the ranking of {CALL_ID} and its "
                f"applications in {WAIT_SECONDS:.0f} s: is `konkurs worker commission` running?"
            )
        if now - said >= 5:
            print(
                f"waiting for the commission's worker to learn the {CALL_ID} ranking",
                file=sys.stderr,
            )
            said = now
        await asyncio.sleep(0.5)


async def load(settings: Settings) -> None:
    """Hold the 2017 meeting, publish its decision and reject its appeal, once."""
    pool = await create_pool(settings, max_size=2)
    try:
        clock = Moment(COMPOSED_AT)
        commission = build(pool, settings, clock)
        await wait_for_ranking(pool, commission)
        async with pool.acquire() as conn, conn.transaction():
            # The stream's lock is the meeting's: a second load waits, then finds it.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", MEETING_ID)
            loaded = await commission.meetings.load(meeting_stream(MEETING_ID), conn=conn)
            if loaded.version:
                return
            await _hold(conn, commission, clock)
    finally:
        await pool.close()


async def _hold(conn: Connection, commission: Commission, clock: Moment) -> None:
    clock.at(COMPOSED_AT)
    _, version = await commission.composition(conn, CALL_ID)
    if version == 0:
        command = composition()
        # The affiliated member's organisation: the third-placed cluster's coordinator.
        ranking = await commission.book.ranking(conn, CALL_ID)
        assert ranking is not None
        third = await commission.book.application(conn, ranking.entries[2].application_id)
        assert third is not None
        members = tuple(
            Member(m.member_id, m.role, m.position, (third.coordinator_bin,))
            if m.member_id == AFFILIATED
            else m
            for m in command.members
        )
        command = replace(command, members=members)
        await commission.compose(conn, command, _meta(OPERATOR_ACTOR))
    clock.at(SCHEDULED_AT)
    schedule = await commission.schedule_command(
        conn,
        meeting_id=MEETING_ID,
        call_id=CALL_ID,
        scheduled_for=MEETS_AT,
        venue="Astana, House of Ministries, room 1204",
        ranking_version=None,
        by=BY_SECRETARY,
    )
    await commission.schedule(conn, schedule, _meta())
    stream = meeting_stream(MEETING_ID)

    async def act(command: MeetingCommand, actor: Actor = SECRETARY_ACTOR) -> Meeting:
        outcome = await commission.meetings.execute(stream, command, _meta(actor), conn=conn)
        return outcome.state

    present = (CHAIR, SECRETARY, *(v for v in VOTERS if v != ABSENT))
    state = await act(OpenMeeting(present, clock.at(MEETS_AT), BY_SECRETARY))
    candidates = schedule.candidates
    for place, candidate in enumerate(candidates, start=1):
        if len(state.carried) >= schedule.quota:
            break
        application_id = candidate.application_id
        await act(OpenVote(application_id, BY_CHAIR), _member(CHAIR))
        for voter in (CHAIR, *VOTERS):
            if voter not in state.present or (voter, application_id) in state.recusals:
                continue
            against = place == 6 and voter in AGAINST_SIXTH
            choice = VoteChoice.AGAINST if against else VoteChoice.FOR
            await act(CastVote(voter, application_id, choice), _member(voter))
        state = await act(CloseVote(application_id, BY_CHAIR), _member(CHAIR))
    carried = set(state.carried)
    seventh = candidates[6].application_id
    await act(AttachDissentingOpinion(DISSENTER, seventh, DISSENT), _member(DISSENTER))
    rationales = {
        c.application_id: RATIONALE
        for c in candidates
        if c.application_id in carried and rationale_required(candidates, carried, c)
    }
    reserve = tuple(c.application_id for c in candidates if c.application_id not in carried)[:2]
    state = await act(TakeDecision(rationales, reserve, clock(), BY_SECRETARY))
    digest = state.minutes_sha256()
    await act(ApproveMinutes(BY_CHAIR, digest), _member(CHAIR))
    await act(ApproveMinutes(BY_SECRETARY, digest))
    state = await act(PublishDecision(clock.at(PUBLISHED_AT), BY_SECRETARY))
    sixth = candidates[5]
    decision = await commission.published_decision(conn, MEETING_ID)
    applicant = Actor(
        subject="applicant-2017", role="applicant", organisation=sixth.coordinator_bin
    )
    lodge = LodgeAppeal(
        APPEAL_ID,
        sixth.application_id,
        sixth.coordinator_bin,
        AppealGround.METHODOLOGY_NOT_FOLLOWED,
        APPEAL,
        decision,
        clock.at(LODGED_AT),
    )
    await commission.appeals.start(appeal_stream(APPEAL_ID), lodge, _meta(applicant), conn=conn)
    reject = DecideAppeal(False, REJECTION, CHAIR, CHAIR, clock.at(REJECTED_AT))
    await commission.appeals.execute(
        appeal_stream(APPEAL_ID), reject, _meta(_member(CHAIR)), conn=conn
    )
    assert state.published is not None
    closes = state.published.appeals_close_at
    clock.at(closes)
    await act(CloseAppealWindow(closes), Actor(subject="system:commission-clock", role="system"))
