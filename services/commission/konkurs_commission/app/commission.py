"""The commission's handlers: compose, schedule and run meetings, decide appeals.

Each loads its aggregate, decides and appends through the platform's `CommandHandler`.
Compositions, meetings and appeals go to the plain event store (a `Member` sits in a
repeated field, which the platform's sealing refuses); members' names go to their own
streams through the sealing store, so a name is personal data sealed under its own key.
Both stores write the same schema's events and outbox, in the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from konkurs_commission.adapters.codec import CommissionCodec
from konkurs_commission.adapters.known import Book, KnownRanking, Reconsideration
from konkurs_commission.domain import appeal as appeal_domain
from konkurs_commission.domain import composition as composition_domain
from konkurs_commission.domain import meeting as meeting_domain
from konkurs_commission.domain.acting import Caller, require_secretary
from konkurs_commission.domain.appeal import Appeal, AppealCommand, PublishedDecision
from konkurs_commission.domain.composition import ComposeCommission, Composition, NameMember
from konkurs_commission.domain.events import (
    AppealEvent,
    AppealUpheld,
    Candidate,
    CommissionComposed,
    DecisionPublished,
    MeetingEvent,
    MemberNamed,
    MemberRole,
)
from konkurs_commission.domain.meeting import Meeting, MeetingCommand, ScheduleMeeting
from konkurs_platform.db import Connection
from konkurs_platform.domain import Conflict, NotFound
from konkurs_platform.eventstore import ConcurrencyError, EventStore, Metadata
from konkurs_platform.handler import CommandHandler, Outcome
from konkurs_platform.timers import Cancel, Schedule, TimerChange

# The platform timer that closes a published decision's appeal window.
CLOSE_APPEAL_WINDOW = "close-appeal-window"
# A vote of many members at once: each loses at most a few races on the meeting's stream.
RACE_RETRIES = 20


def commission_stream(call_id: str) -> str:
    return f"commission-{call_id}"


def member_stream(call_id: str, member_id: str) -> str:
    return f"commission-{call_id}-member-{member_id}"


def meeting_stream(meeting_id: str) -> str:
    return f"meeting-{meeting_id}"


def appeal_stream(appeal_id: str) -> str:
    return f"appeal-{appeal_id}"


def meeting_timers(
    stream_id: str, events: Sequence[MeetingEvent], state: Meeting
) -> list[TimerChange]:
    """A published decision's appeal window closes on a timer at its end."""
    if state.window_closed:
        return [Cancel(CLOSE_APPEAL_WINDOW)]
    if state.published is not None and any(isinstance(e, DecisionPublished) for e in events):
        return [Schedule(CLOSE_APPEAL_WINDOW, state.published.appeals_close_at)]
    return []


@dataclass
class Commission:
    """Every handler of the service over its two stores and its book of what it knows."""

    store: EventStore
    sealing: EventStore
    book: Book
    compositions: CommandHandler[ComposeCommission, Composition, CommissionComposed] = field(
        init=False
    )
    names: CommandHandler[NameMember, str, MemberNamed] = field(init=False)
    meetings: CommandHandler[MeetingCommand, Meeting, MeetingEvent] = field(init=False)
    appeals: CommandHandler[AppealCommand, Appeal, AppealEvent] = field(init=False)

    def __post_init__(self) -> None:
        codec = CommissionCodec()
        self.compositions = CommandHandler(
            self.store, composition_domain.composition_decider, codec
        )
        self.names = CommandHandler(self.sealing, composition_domain.name_decider, codec)
        self.meetings = CommandHandler(
            self.store, meeting_domain.meeting_decider, codec, timers_for=meeting_timers
        )
        self.appeals = CommandHandler(self.store, appeal_domain.appeal_decider, codec)

    # Composition --------------------------------------------------------------------------

    async def compose(
        self,
        conn: Connection,
        command: ComposeCommission,
        meta: Metadata,
        expected_version: int | None = None,
    ) -> Outcome[Composition]:
        """A new composition and every member's name, in the caller's transaction."""
        outcome = await self.compositions.execute(
            commission_stream(command.call_id),
            command,
            meta,
            expected_version=expected_version,
            conn=conn,
        )
        for member in command.members:
            name = NameMember(command.call_id, member.member_id, command.names[member.member_id])
            await self.names.execute(
                member_stream(command.call_id, member.member_id), name, meta, conn=conn
            )
        return outcome

    async def composition(self, conn: Connection, call_id: str) -> tuple[Composition, int]:
        loaded = await self.compositions.load(commission_stream(call_id), conn=conn)
        return loaded.state, loaded.version

    async def member_names(
        self, conn: Connection, call_id: str, member_ids: Sequence[str]
    ) -> dict[str, str]:
        """The members' names, opened ("[erased]" where a name's key was destroyed)."""
        names = {}
        for member_id in member_ids:
            loaded = await self.names.load(member_stream(call_id, member_id), conn=conn)
            names[member_id] = loaded.state
        return names

    # Meetings ----------------------------------------------------------------------------

    async def schedule_command(
        self,
        conn: Connection,
        *,
        meeting_id: str,
        call_id: str,
        scheduled_for: datetime,
        venue: str,
        ranking_version: int | None,
        by: Caller | None,
        reconsidered: tuple[str, ...] = (),
    ) -> ScheduleMeeting:
        """The scheduling of a meeting on a ranking, from what the commission knows, by the
        secretary of the call's commission as it stands (`by`; None: by the commission's
        own reaction to a ranking)."""
        call = await self.book.call(conn, call_id)
        if call is None:
            raise NotFound("call_not_known", f"The commission knows no call {call_id} yet.")
        composition, version = await self.composition(conn, call_id)
        if version == 0:
            raise Conflict("no_commission", f"No commission is composed for {call_id}.")
        # Checked here, where the command is made from the composition (another aggregate
        # than the meeting's), and before the ranking and the quota: whoever is not the
        # secretary learns no more than that.
        if by is not None:
            require_secretary(by, composition.members, f"the commission of {call_id}")
        ranking = await self.book.ranking(conn, call_id, ranking_version)
        if ranking is None:
            which = "any" if ranking_version is None else f"version {ranking_version} of the"
            raise Conflict(
                "ranking_not_known", f"The commission knows {which} ranking of {call_id} not yet."
            )
        candidates = await self._candidates(conn, ranking)
        quota = call.quota - await self.selected_so_far(conn, call_id)
        if quota < 1:
            raise Conflict(
                "quota_filled",
                f"Published decisions of {call_id} selected its quota of {call.quota} already.",
            )
        return ScheduleMeeting(
            meeting_id=meeting_id,
            call_id=call_id,
            scheduled_for=scheduled_for,
            venue=venue,
            ranking_event_id=str(ranking.event_id),
            ranking_version=ranking.version,
            ranking_content_hash=ranking.content_hash,
            candidates=candidates,
            quota=quota,
            composition_version=composition.version,
            members=composition.members,
            reconsidered=reconsidered,
            time_zone=call.time_zone,
            rules=composition.rules,
        )

    async def _candidates(self, conn: Connection, ranking: KnownRanking) -> tuple[Candidate, ...]:
        out = []
        for e in ranking.entries:
            known = await self.book.application(conn, e.application_id)
            if known is None:
                raise Conflict(
                    "application_not_known",
                    f"The commission has not learned application {e.application_id} yet.",
                )
            out.append(
                Candidate(
                    application_id=e.application_id,
                    registration_number=e.registration_number,
                    rank=e.rank,
                    fundable=e.fundable,
                    failed_thresholds=e.failed_thresholds,
                    overall=e.overall,
                    cluster_name=known.cluster_name,
                    region_code=known.region_code,
                    participant_bins=known.participant_bins,
                    coordinator_bin=known.coordinator_bin,
                )
            )
        return tuple(out)

    async def selected_so_far(self, conn: Connection, call_id: str) -> int:
        """How many candidates the call's published decisions selected."""
        count = 0
        for meeting_id in await self.book.meetings_of(conn, call_id):
            state, _ = await self.meeting(conn, meeting_id)
            if state.published is not None:
                count += len(state.published.selected)
        return count

    async def schedule(
        self, conn: Connection, command: ScheduleMeeting, meta: Metadata
    ) -> Outcome[Meeting]:
        """Schedule the meeting (its quota is what earlier decisions of the call left)."""
        stream = meeting_stream(command.meeting_id)
        outcome = await self.meetings.start(stream, command, meta, conn=conn)
        await self.book.keep_meeting(conn, command.meeting_id, command.call_id)
        return outcome

    async def meeting(self, conn: Connection, meeting_id: str) -> tuple[Meeting, int]:
        loaded = await self.meetings.load(meeting_stream(meeting_id), conn=conn)
        if loaded.state.scheduled is None:
            raise NotFound("meeting_not_found", f"No meeting {meeting_id}.")
        return loaded.state, loaded.version

    async def act(
        self,
        meeting_id: str,
        command: MeetingCommand,
        meta: Metadata,
        expected_version: int | None = None,
    ) -> Outcome[Meeting]:
        """Decide `command` on the meeting in a transaction of its own.

        Without `expected_version` the command is decided on the meeting as it stands, so a
        race lost to another member's vote is decided again on the new state (the quota and
        every rule are checked again then); with it, a stale version is the client's 412.
        """
        attempts = 1 if expected_version is not None else RACE_RETRIES
        for attempt in range(attempts):
            try:
                async with self.store.pool.acquire() as conn, conn.transaction():
                    return await self.meetings.execute(
                        meeting_stream(meeting_id),
                        command,
                        meta,
                        expected_version=expected_version,
                        conn=conn,
                    )
            except ConcurrencyError:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    # Appeals -----------------------------------------------------------------------------

    async def published_decision(self, conn: Connection, meeting_id: str) -> PublishedDecision:
        """What an appeal needs of the meeting whose decision it appeals."""
        state, _ = await self.meeting(conn, meeting_id)
        assert state.scheduled is not None
        if state.published is None:
            raise Conflict(
                "not_published", f"The decision of meeting {meeting_id} is not published."
            )
        concerned = {
            d.application_id for d in (*state.published.selected, *state.published.declined)
        }
        return PublishedDecision(
            meeting_id=meeting_id,
            call_id=state.scheduled.call_id,
            coordinators=tuple(
                (c.application_id, c.coordinator_bin)
                for c in state.scheduled.candidates
                if c.application_id in concerned
            ),
            appeals_close_at=state.published.appeals_close_at,
            window_closed=state.window_closed,
            members=tuple((m.member_id, m.role) for m in state.scheduled.members),
        )

    async def lodge(
        self, conn: Connection, command: appeal_domain.LodgeAppeal, meta: Metadata
    ) -> Outcome[Appeal]:
        return await self.appeals.start(appeal_stream(command.appeal_id), command, meta, conn=conn)

    async def appeal(self, conn: Connection, appeal_id: str) -> tuple[Appeal, int]:
        loaded = await self.appeals.load(appeal_stream(appeal_id), conn=conn)
        if loaded.state.lodged is None:
            raise NotFound("appeal_not_found", f"No appeal {appeal_id}.")
        return loaded.state, loaded.version

    async def name_panel(
        self,
        conn: Connection,
        appeal_id: str,
        member_ids: tuple[str, ...],
        by: Caller,
        meta: Metadata,
    ) -> Outcome[Appeal]:
        """The panel that decides the appeal, named by the secretary of the call's commission
        as it stands (in the caller's transaction)."""
        state, _ = await self.appeal(conn, appeal_id)
        assert state.lodged is not None
        decision = await self.published_decision(conn, state.lodged.meeting_id)
        composition, _ = await self.composition(conn, state.lodged.call_id)
        command = appeal_domain.NamePanel(member_ids, decision, by, composition.members)
        return await self.appeals.execute(appeal_stream(appeal_id), command, meta, conn=conn)

    async def decide_appeal(
        self,
        conn: Connection,
        appeal_id: str,
        *,
        upheld: bool,
        reasons: str,
        decided_by: str,
        now: datetime,
        meta: Metadata,
    ) -> Outcome[Appeal]:
        """Reject or uphold; an upheld appeal waits for the next ranking (same transaction)."""
        state, _ = await self.appeal(conn, appeal_id)
        lodged = state.lodged
        assert lodged is not None
        meeting, _ = await self.meeting(conn, lodged.meeting_id)
        assert meeting.scheduled is not None
        chair = next(
            (m.member_id for m in meeting.scheduled.members if m.role is MemberRole.CHAIR), ""
        )
        command = appeal_domain.DecideAppeal(upheld, reasons, decided_by, chair, now)
        outcome = await self.appeals.execute(appeal_stream(appeal_id), command, meta, conn=conn)
        if any(isinstance(e, AppealUpheld) for e in map(self.appeals.codec.decode, outcome.events)):
            await self.book.await_ranking(
                conn,
                Reconsideration(
                    appeal_id,
                    lodged.call_id,
                    lodged.application_id,
                    meeting.scheduled.ranking_version,
                ),
            )
        return outcome


def reconsideration_meeting_id(ranking_event_id: uuid.UUID) -> str:
    """The id of the meeting a new ranking puts upheld appeals on the agenda of: derived from
    the ranking's event, so a redelivered ranking schedules nothing twice."""
    return str(uuid.uuid5(ranking_event_id, "commission/reconsideration"))
