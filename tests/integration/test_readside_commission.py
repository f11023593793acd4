"""The commission's read models on the readside, from real encoded commission events on the
broker: the composition with names opened from their sealed form, meetings with their agenda,
attendance and quorum, recusals, votes with the ones they replaced, tallies with a casting
vote, the decision (a departure from the ranking with its rationale, reasons, the reserve
list and a winner replaced from it), the minutes' approvals, publication and appeals; a
redelivery changes nothing; an erased member shows erased, live and after a rebuild that
equals the live rows. `CommissionStory` builds the events (as the commission's codec would)
for the API tests too."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from helpers import running
from readside_support import Events, new_world, projector, publish, table_rows
from readside_support import wait_caught_up as wait_projected

from konkurs.commission.v1 import events_pb2 as pb
from konkurs.privacy.v1 import events_pb2 as privacy_pb2
from konkurs_platform.envelope import Actor
from konkurs_platform.eventstore import NewEvent
from konkurs_platform.personal.keystore import KeyStore
from konkurs_platform.personal.sealing import ERASED, SEALED_PREFIX
from konkurs_platform.personal.store import seal_payloads
from konkurs_platform.protobuf import to_timestamp
from konkurs_platform.settings import Settings
from konkurs_readside.projections import PROJECTIONS
from konkurs_readside.rebuild import rebuild

pytestmark = pytest.mark.integration

COMMISSION_PROJECTIONS = [n for n in PROJECTIONS if n.startswith("commission")]
COMMISSION_TABLES = [t for n in COMMISSION_PROJECTIONS for t in PROJECTIONS[n].tables]
# The story's members: short id -> (name, role, position).
MEMBERS = {
    "chair": ("Асет Исекешев", pb.MEMBER_ROLE_CHAIR, "Министр по инвестициям и развитию"),
    "secretary": ("Dana Nurpeisova", pb.MEMBER_ROLE_SECRETARY, "Secretary of the commission"),
    "m3": ("Ерлан Сагадиев", pb.MEMBER_ROLE_MEMBER, "Вице-министр национальной экономики"),
    "m4": ("Marat Omarov", pb.MEMBER_ROLE_MEMBER, "Chairman, NCE Atameken"),
    "m5": ("Гульнара Абдыкаликова", pb.MEMBER_ROLE_MEMBER, "Director, Kazakh Invest"),
}
# A participant of the second candidate that member m5's organisation is: m5 is recused.
SHARED_BIN = "990540000014"
RATIONALE = "The tourism cluster of the region carries the regional programme for 2018-2020."
# Which service publishes a stream, by the stream id's prefix.
_SERVICES = {"call": "intake", "application": "intake", "erasure": "privacy"}


def service_of(stream_id: str) -> str:
    """The service whose topic a stream's events travel on."""
    return _SERVICES.get(stream_id.split("-", 1)[0], "commission")


@dataclass
class CommissionStory:
    """A call's commission through a meeting and its appeals, as the commission's events:

    - five members (chair, secretary who does not vote, m3, m4, m5; m5 affiliated with
      SHARED_BIN); candidates A1..A5 ranked 1..5, quota 3, A3 fails a threshold;
    - the meeting opens with four present (quorum 4 of 5, met); m4 arrives later;
    - m5 is recused automatically for A2; m3 recuses for A4 with a reason;
    - A1 carried 4-0 (m3 voted against, then for); A2 tied 1-1 with one abstention and
      carried by the chair's casting vote; A3 carried 3-1 though below a threshold (a
      rationale), m3 dissents; A4 not carried; A5 not voted on (quota filled);
    - the decision: A1, A2, A3 selected; A4 and A5 declined, on the reserve list in that
      order; the chair and the secretary approve the minutes; published;
    - A2 withdraws and A4 takes its place from the reserve;
    - A5's coordinator appeals (conflict of interest): a panel, rejected; A4's appeals too:
      upheld, a re-evaluation requested; the appeal window closes;
    - a second meeting on the new ranking, with A5 reconsidered: decided, not published.
    """

    call_id: str
    events: Events = field(default_factory=Events)
    apps: list[str] = field(default_factory=list)
    coordinators: list[str] = field(default_factory=list)
    meeting_id: str = field(default_factory=lambda: f"mt-{uuid.uuid4().hex[:10]}")
    second_meeting_id: str = field(default_factory=lambda: f"mt-{uuid.uuid4().hex[:10]}")
    appeals: list[str] = field(
        default_factory=lambda: [f"ap-{uuid.uuid4().hex[:10]}" for _ in range(2)]
    )
    clock: datetime = datetime(2017, 7, 12, 4, 0, tzinfo=UTC)

    def at(self) -> datetime:
        self.clock += timedelta(minutes=3)
        return self.clock

    def emit(self, stream_id: str, message: object, actor: Actor | None = None) -> None:
        self.events.emit(stream_id, message, actor or self.member("secretary"))

    def member(self, short: str) -> Actor:
        role = "commission_secretary" if short == "secretary" else "commission_member"
        return Actor(subject=self.member_id(short), role=role)

    def member_id(self, short: str) -> str:
        """Member ids of this story alone: the key store is shared by every test."""
        return f"{self.call_id}-{short}"

    def name_stream(self, short: str) -> str:
        return f"commission-{self.call_id}-member-{self.member_id(short)}"

    @property
    def meeting(self) -> str:
        return f"meeting-{self.meeting_id}"

    def members(self) -> list[pb.Member]:
        return [
            pb.Member(
                member_id=self.member_id(short),
                role=role,
                position=position,
                affiliation_bins=[SHARED_BIN] if short == "m5" else [],
            )
            for short, (_, role, position) in MEMBERS.items()
        ]

    async def compose(self, pool: asyncpg.Pool) -> None:
        """The composition, then each name sealed on its own stream, as the commission's
        SealingEventStore stores it."""
        self.emit(
            f"commission-{self.call_id}",
            pb.CommissionComposed(
                call_id=self.call_id, composition_version=1, members=self.members()
            ),
        )
        for short, (name, _, _) in MEMBERS.items():
            clear = pb.MemberNamed(call_id=self.call_id, member_id=self.member_id(short), name=name)
            new = NewEvent(clear.DESCRIPTOR.full_name, clear.SerializeToString())
            async with pool.acquire() as conn, conn.transaction():
                ((_, _, (sealed,)),) = await seal_payloads(
                    conn, KeyStore(), [(self.name_stream(short), 0, [new])]
                )
            message = pb.MemberNamed.FromString(sealed.payload)
            assert message.name.startswith(SEALED_PREFIX)
            self.emit(self.name_stream(short), message)

    def candidates(self) -> list[pb.Candidate]:
        return [
            pb.Candidate(
                application_id=app,
                registration_number=f"KZ-75-2017-{n:04d}",
                rank=n,
                fundable=n != 3,
                failed_thresholds=["overall"] if n == 3 else [],
                overall=f"{90 - n * 5}/1",
                cluster_name=f"Cluster {n}",
                region_code="KZ-75",
                participant_bins=[coordinator, SHARED_BIN] if n == 2 else [coordinator],
            )
            for n, (app, coordinator) in enumerate(
                zip(self.apps, self.coordinators, strict=True), start=1
            )
        ]

    def schedule(self, meeting_id: str, reconsidered: list[str], ranking_version: int) -> None:
        self.emit(
            f"meeting-{meeting_id}",
            pb.MeetingScheduled(
                meeting_id=meeting_id,
                call_id=self.call_id,
                scheduled_for=to_timestamp(self.at()),
                venue="Astana, House of Ministries, room 1204",
                ranking_event_id=str(uuid.uuid4()),
                ranking_version=ranking_version,
                ranking_content_hash=f"{ranking_version:064x}",
                candidates=self.candidates(),
                quota=3,
                composition_version=1,
                members=self.members(),
                reconsidered=reconsidered,
                time_zone="Asia/Almaty",
            ),
        )

    def vote(self, app: str, choices: dict[str, int], tally: pb.Tally, carried: bool) -> None:
        chair = self.member("chair")
        self.emit(
            self.meeting, pb.VoteOpened(meeting_id=self.meeting_id, application_id=app), chair
        )
        for short, choice in choices.items():
            self.cast(app, short, choice)
        self.emit(
            self.meeting,
            pb.VoteClosed(
                meeting_id=self.meeting_id, application_id=app, tally=tally, carried=carried
            ),
            chair,
        )

    def cast(self, app: str, short: str, choice: int, replaces: int = 0) -> None:
        self.emit(
            self.meeting,
            pb.VoteCast(
                meeting_id=self.meeting_id,
                application_id=app,
                member_id=self.member_id(short),
                choice=choice,
                replaces=replaces,
            ),
            self.member(short),
        )

    def decided(
        self, app: str, rank: int, tally: pb.Tally | None, **texts: str
    ) -> pb.DecidedCandidate:
        return pb.DecidedCandidate(
            application_id=app,
            registration_number=f"KZ-75-2017-{rank:04d}",
            rank=rank,
            tally=tally,
            **texts,
        )

    async def tell(self, pool: asyncpg.Pool) -> None:
        """Every event of the story, in an order each stream keeps."""
        self.events.announce(self.call_id)
        for n in range(1, 6):
            coordinator = f"{uuid.uuid4().int % 10**12:012d}"
            self.coordinators.append(coordinator)
            self.apps.append(self.events.submit(self.call_id, n, "KZ-75", coordinator=coordinator))
        a1, a2, a3, a4, a5 = self.apps
        await self.compose(pool)
        self.schedule(self.meeting_id, [], 1)
        ids = [self.member_id(s) for s in ("chair", "secretary", "m3", "m5")]
        self.emit(
            self.meeting,
            pb.MeetingOpened(
                meeting_id=self.meeting_id,
                present_member_ids=ids,
                quorum_required=4,
                quorum_met=True,
                opened_at=to_timestamp(self.at()),
            ),
        )
        self.emit(
            self.meeting,
            pb.MemberRecused(
                meeting_id=self.meeting_id,
                member_id=self.member_id("m5"),
                application_id=a2,
                automatic=True,
                matching_bins=[SHARED_BIN],
                reason="An affiliation of the member takes part in the candidate.",
            ),
        )
        self.emit(
            self.meeting,
            pb.AttendanceChanged(
                meeting_id=self.meeting_id,
                member_id=self.member_id("m4"),
                present=True,
                quorum_met=True,
            ),
        )
        self.emit(
            self.meeting,
            pb.MemberRecused(
                meeting_id=self.meeting_id,
                member_id=self.member_id("m3"),
                application_id=a4,
                reason="My brother chairs the coordinator's board.",
            ),
            self.member("m3"),
        )
        chair = self.member("chair")
        self.emit(self.meeting, pb.VoteOpened(meeting_id=self.meeting_id, application_id=a1), chair)
        self.cast(a1, "m3", pb.VOTE_CHOICE_AGAINST)
        for short in ("chair", "m4", "m5"):
            self.cast(a1, short, pb.VOTE_CHOICE_FOR)
        self.cast(a1, "m3", pb.VOTE_CHOICE_FOR, replaces=pb.VOTE_CHOICE_AGAINST)
        self.emit(
            self.meeting,
            pb.VoteClosed(
                meeting_id=self.meeting_id,
                application_id=a1,
                tally=pb.Tally(votes_for=4),
                carried=True,
            ),
            chair,
        )
        self.vote(
            a2,
            {
                "chair": pb.VOTE_CHOICE_FOR,
                "m3": pb.VOTE_CHOICE_AGAINST,
                "m4": pb.VOTE_CHOICE_ABSTAIN,
            },
            pb.Tally(
                votes_for=1, votes_against=1, abstentions=1, recused=1, casting_vote_used=True
            ),
            True,
        )
        self.vote(
            a3,
            {
                "chair": pb.VOTE_CHOICE_FOR,
                "m3": pb.VOTE_CHOICE_AGAINST,
                "m4": pb.VOTE_CHOICE_FOR,
                "m5": pb.VOTE_CHOICE_FOR,
            },
            pb.Tally(votes_for=3, votes_against=1),
            True,
        )
        self.emit(
            self.meeting,
            pb.DissentingOpinionAttached(
                meeting_id=self.meeting_id,
                member_id=self.member_id("m3"),
                application_id=a3,
                text="A cluster below the overall threshold should not be funded.",
            ),
            self.member("m3"),
        )
        self.vote(
            a4,
            {
                "chair": pb.VOTE_CHOICE_AGAINST,
                "m4": pb.VOTE_CHOICE_AGAINST,
                "m5": pb.VOTE_CHOICE_FOR,
            },
            pb.Tally(votes_for=1, votes_against=2, recused=1),
            False,
        )
        t1, t2, t3 = (
            pb.Tally(votes_for=4),
            pb.Tally(
                votes_for=1, votes_against=1, abstentions=1, recused=1, casting_vote_used=True
            ),
            pb.Tally(votes_for=3, votes_against=1),
        )
        t4 = pb.Tally(votes_for=1, votes_against=2, recused=1)
        selected = [
            self.decided(a1, 1, t1),
            self.decided(a2, 2, t2),
            self.decided(a3, 3, t3, rationale=RATIONALE),
        ]
        declined = [
            self.decided(a4, 4, t4, reason="not carried"),
            self.decided(a5, 5, None, reason="quota filled"),
        ]
        self.emit(
            self.meeting,
            pb.DecisionTaken(
                meeting_id=self.meeting_id,
                call_id=self.call_id,
                selected=selected,
                declined=declined,
                reserve_application_ids=[a4, a5],
                decided_at=to_timestamp(self.at()),
            ),
            chair,
        )
        for short, role in (
            ("chair", pb.MEMBER_ROLE_CHAIR),
            ("secretary", pb.MEMBER_ROLE_SECRETARY),
        ):
            self.emit(
                self.meeting,
                pb.MinutesApproved(
                    meeting_id=self.meeting_id,
                    member_id=self.member_id(short),
                    role=role,
                    minutes_sha256="ab" * 32,
                ),
                self.member(short),
            )
        published_at = self.at()
        self.emit(
            self.meeting,
            pb.DecisionPublished(
                meeting_id=self.meeting_id,
                call_id=self.call_id,
                selected=selected,
                declined=declined,
                reserve_application_ids=[a4, a5],
                minutes_sha256="ab" * 32,
                published_at=to_timestamp(published_at),
                appeals_close_at=to_timestamp(published_at + timedelta(days=31)),
            ),
        )
        self.emit(
            self.meeting,
            pb.WinnerReplaced(
                meeting_id=self.meeting_id,
                withdrawn_application_id=a2,
                cause="withdrawn",
                reason="The coordinator withdrew the application.",
                replacement_application_id=a4,
            ),
        )
        self.appeal(0, a5, self.coordinators[4], pb.APPEAL_GROUND_CONFLICT_OF_INTEREST)
        self.emit(
            f"appeal-{self.appeals[0]}",
            pb.AppealPanelNamed(
                appeal_id=self.appeals[0],
                member_ids=[self.member_id("chair"), self.member_id("m4")],
            ),
            chair,
        )
        self.emit(
            f"appeal-{self.appeals[0]}",
            pb.AppealRejected(
                appeal_id=self.appeals[0],
                application_id=a5,
                reasons="The recused member took no part in the vote on the candidate.",
                decided_by=self.member_id("chair"),
                decided_at=to_timestamp(self.at()),
            ),
            chair,
        )
        self.appeal(1, a4, self.coordinators[3], pb.APPEAL_GROUND_METHODOLOGY_NOT_FOLLOWED)
        self.emit(
            f"appeal-{self.appeals[1]}",
            pb.AppealUpheld(
                appeal_id=self.appeals[1],
                application_id=a4,
                reasons="The experts did not score the export criterion as published.",
                decided_by=self.member_id("chair"),
                decided_at=to_timestamp(self.at()),
            ),
            chair,
        )
        self.emit(
            f"appeal-{self.appeals[1]}",
            pb.ReevaluationRequested(
                call_id=self.call_id,
                application_id=a4,
                appeal_id=self.appeals[1],
                reason="methodology_not_followed: score the export criterion again",
                decided_at=to_timestamp(self.clock),
            ),
            chair,
        )
        self.emit(
            self.meeting,
            pb.AppealWindowClosed(
                meeting_id=self.meeting_id,
                closed_at=to_timestamp(published_at + timedelta(days=31)),
            ),
            Actor(subject="commission", role="system"),
        )
        self.schedule(self.second_meeting_id, [a4], 2)
        self.emit(
            f"meeting-{self.second_meeting_id}",
            pb.DecisionTaken(
                meeting_id=self.second_meeting_id,
                call_id=self.call_id,
                selected=[self.decided(a4, 4, pb.Tally(votes_for=4))],
                decided_at=to_timestamp(self.at()),
            ),
            chair,
        )

    def appeal(self, index: int, app: str, coordinator: str, ground: int) -> None:
        self.emit(
            f"appeal-{self.appeals[index]}",
            pb.AppealLodged(
                appeal_id=self.appeals[index],
                call_id=self.call_id,
                application_id=app,
                meeting_id=self.meeting_id,
                applicant_bin=coordinator,
                ground=ground,  # type: ignore[arg-type]
                explanation="Our own words on what went wrong, at length.",
                lodged_at=to_timestamp(self.at()),
            ),
            Actor(subject=f"applicant-{index}", role="applicant", organisation=coordinator),
        )

    @property
    def commission_events(self) -> list[tuple[str, bytes]]:
        return [(s, raw) for s, raw in self.events.published if service_of(s) == "commission"]


async def told(settings: Settings, pool: asyncpg.Pool) -> tuple[Settings, str, CommissionStory]:
    """A world of its own with the story published and projected."""
    world, schema = await new_world(settings, pool)
    story = CommissionStory(f"commission-{uuid.uuid4().hex[:8]}")
    await story.tell(pool)
    await publish(world, story.events.published, service_of)
    async with running(projector(world, pool, schema, max_records=7)):
        await wait_projected(world, pool, schema)
    return world, schema, story


async def snapshot(pool: asyncpg.Pool, schema: str) -> dict[str, list[asyncpg.Record]]:
    return {t: await table_rows(pool, schema, t) for t in COMMISSION_TABLES}


async def test_commission_events_project_into_meetings_votes_decisions_and_appeals(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    _, schema, story = await told(settings, pool)
    a1, a2, a3, a4, a5 = story.apps
    mid = story.member_id
    async with pool.acquire() as conn:
        meeting = await conn.fetchrow(
            f"SELECT * FROM {schema}.commission_meetings WHERE meeting_id = $1", story.meeting_id
        )
        second = await conn.fetchrow(
            f"SELECT * FROM {schema}.commission_meetings WHERE meeting_id = $1",
            story.second_meeting_id,
        )
        present = {
            r["member_id"]: r["present"]
            for r in await conn.fetch(
                f"SELECT * FROM {schema}.commission_meeting_members WHERE meeting_id = $1",
                story.meeting_id,
            )
        }
        names = {
            r["member_id"]: r["name"]
            for r in await conn.fetch(f"SELECT * FROM {schema}.commission_member_names")
        }
        members = await conn.fetch(
            f"SELECT member_id, role, ordinal FROM {schema}.commission_members ORDER BY ordinal"
        )
        candidates = {
            r["application_id"]: r
            for r in await conn.fetch(
                f"SELECT * FROM {schema}.commission_candidates WHERE meeting_id = $1",
                story.meeting_id,
            )
        }
        recusals = await conn.fetch(
            f"SELECT * FROM {schema}.commission_recusals ORDER BY stream_version"
        )
        votes = {
            (r["application_id"], r["member_id"]): (r["choice"], list(r["replaced"]))
            for r in await conn.fetch(f"SELECT * FROM {schema}.commission_votes")
        }
        (dissent,) = await conn.fetch(f"SELECT * FROM {schema}.commission_dissents")
        appeals = {
            r["appeal_id"]: r
            for r in await conn.fetch(f"SELECT * FROM {schema}.commission_appeals")
        }

    # The names were sealed in the events and are clear in the read model.
    assert names == {mid(s): name for s, (name, _, _) in MEMBERS.items()}
    assert [(r["member_id"], r["role"]) for r in members] == [
        (mid("chair"), "chair"),
        (mid("secretary"), "secretary"),
        (mid("m3"), "member"),
        (mid("m4"), "member"),
        (mid("m5"), "member"),
    ]

    assert meeting["status"] == "published"
    assert (meeting["ranking_version"], meeting["ranking_content_hash"]) == (1, f"{1:064x}")
    assert (meeting["quorum_required"], meeting["quorum_met"]) == (4, True)
    assert meeting["present_member_ids"] == sorted(mid(s) for s in MEMBERS)
    assert all(present.values()) and len(present) == 5
    assert meeting["reserve"] == [a5]
    assert meeting["minutes_sha256"] == "ab" * 32
    assert meeting["appeal_window_closed_at"] is not None
    assert (second["status"], second["reconsidered"]) == ("decided", [a4])

    outcome = {a: (c["outcome"], c["reserve_position"]) for a, c in candidates.items()}
    assert outcome == {
        a1: ("selected", None),
        a2: ("selected", None),
        a3: ("selected", None),
        a4: ("selected", None),
        a5: ("declined", 1),
    }
    assert (candidates[a2]["replaced_cause"], candidates[a4]["from_reserve"]) == (
        "withdrawn",
        True,
    )
    assert candidates[a3]["rationale"] == RATIONALE and candidates[a3]["failed_thresholds"] == [
        "overall"
    ]
    assert candidates[a5]["reason"] == "quota filled" and candidates[a5]["vote"] == "none"
    assert candidates[a2]["carried"] and '"casting_vote_used": true' in candidates[a2]["tally"]
    assert all(c["published"] for a, c in candidates.items())

    assert [(r["member_id"], r["application_id"], r["automatic"]) for r in recusals] == [
        (mid("m5"), a2, True),
        (mid("m3"), a4, False),
    ]
    assert recusals[0]["matching_bins"] == [SHARED_BIN]
    assert votes[(a1, mid("m3"))] == ("for", ["against"])
    assert votes[(a1, mid("chair"))] == ("for", [])
    assert sum(1 for a, _ in votes if a == a2) == 3
    assert (dissent["member_id"], dissent["application_id"]) == (mid("m3"), a3)

    rejected, upheld = (appeals[a] for a in story.appeals)
    assert (rejected["status"], rejected["ground"], rejected["panel"]) == (
        "rejected",
        "conflict_of_interest",
        [mid("chair"), mid("m4")],
    )
    assert not rejected["reevaluation_requested"]
    assert (upheld["status"], upheld["reevaluation_requested"]) == ("upheld", True)
    assert upheld["applicant_bin"] == story.coordinators[3]


async def test_a_redelivery_of_every_commission_event_changes_nothing(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    world, schema, story = await told(settings, pool)
    before = await snapshot(pool, schema)
    # The relay publishes at least once: every commission event once more, in later
    # batches ...
    await publish(world, story.commission_events, service_of)
    async with running(projector(world, pool, schema, max_records=7)):
        await wait_projected(world, pool, schema)
    assert await snapshot(pool, schema) == before

    # ... and in the very batch of the originals, where no stored row guards them yet.
    again, fresh = await new_world(settings, pool)
    await publish(again, story.events.published + story.commission_events[::2], service_of)
    async with running(projector(again, pool, fresh, max_records=5000)):
        await wait_projected(again, pool, fresh)
    assert await snapshot(pool, fresh) == before


async def test_an_erased_member_shows_erased_live_and_after_a_rebuild_equal_to_live(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    world, schema, story = await told(settings, pool)
    subject = f"{story.name_stream('m3')}/"
    async with pool.acquire() as conn, conn.transaction():
        erasure = await KeyStore().erase(
            conn, subject, erased_by="operator-1", reason="the member asked", at=story.at()
        )
    assert erasure is not None
    story.emit(
        f"erasure-{uuid.uuid4()}",
        privacy_pb2.SubjectErased(
            subject_id=subject, reason="the member asked", erased_at=to_timestamp(story.clock)
        ),
    )
    await publish(world, story.events.published[-1:], service_of)
    async with running(projector(world, pool, schema)):
        await wait_projected(world, pool, schema)
        live = await snapshot(pool, schema)
        names = {r["member_id"]: r["name"] for r in live["commission_member_names"]}
        assert names[story.member_id("m3")] == ERASED
        assert names[story.member_id("chair")] == MEMBERS["chair"][0]
        # Replayed from offset 0 while the live projector runs: the key is gone, so the
        # rebuilt names open none of m3's, and every commission row equals the live one.
        report = await rebuild(world, pool, schema=schema, names=COMMISSION_PROJECTIONS)
        assert report.events == len(story.events.published)
        assert await snapshot(pool, schema) == live
