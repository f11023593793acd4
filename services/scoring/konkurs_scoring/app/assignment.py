"""Assignment handlers: experts to applications, automatically or by hand, declarations of
interest with the replacement they trigger, and the due timers of evaluations.

Whatever reads a call's assignments as a whole (the loads the automatic assignment balances,
a replacement's choice) runs under the call's lock (`ApplicationBook.lock_call`), so two of
them never choose from the same loads. Each append and the `assignments` rows it changes
commit together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from konkurs_platform.db import Connection
from konkurs_platform.domain import Conflict, NotFound
from konkurs_platform.envelope import Actor
from konkurs_platform.eventstore import ConcurrencyError, EventStore, Metadata
from konkurs_platform.handler import CommandHandler, Loaded, Outcome
from konkurs_platform.timers import Cancel, DueTimer, Schedule, TimerChange, TimerService
from konkurs_scoring.adapters.applications import PostgresApplicationBook
from konkurs_scoring.adapters.assignment import PostgresAssignmentBook
from konkurs_scoring.adapters.calls import PostgresCallBook
from konkurs_scoring.adapters.codec_s1 import AssignmentCodec
from konkurs_scoring.adapters.experts import PostgresExpertBook
from konkurs_scoring.adapters.screening import PostgresScreeningBook
from konkurs_scoring.app.calls import CallBook
from konkurs_scoring.app.ports import ApplicationBook, AssignmentBook, ExpertBook, ScreeningBook
from konkurs_scoring.domain.applications import KnownApplication
from konkurs_scoring.domain.assignment import (
    AssignExpert,
    AssignmentCommand,
    AssignmentEvent,
    AssignmentMode,
    CompleteAssignment,
    DeclareInterest,
    FlagOverdue,
    Panel,
    Plan,
    ReleasePanel,
    RenewPanel,
    UnassignExpert,
    UnassignmentCause,
    assignment_decider,
    plan_assignment,
)
from konkurs_scoring.domain.calls import KnownCall

# The platform timer of an application's panel: due at the earliest due time of its active
# assignments not yet flagged (one timer per stream, moved by every change of the panel).
EVALUATION_DUE = "evaluation-due"

CLOCK_ACTOR = Actor(subject="system:scoring-clock", role="system")


def assignment_stream(application_id: str) -> str:
    return f"assignment-{application_id}"


def assignment_timers(
    stream_id: str, events: Sequence[AssignmentEvent], state: Panel
) -> list[TimerChange]:
    """The panel's next due time, or no timer when nothing is pending: an expert whose
    evaluation is in (`completed`) or already flagged owes nothing more."""
    pending = [a.due_at for a in state.active if not a.overdue and not a.completed]
    return [Schedule(EVALUATION_DUE, min(pending))] if pending else [Cancel(EVALUATION_DUE)]


Handler = CommandHandler[AssignmentCommand, Panel, AssignmentEvent]


@dataclass
class Assignments:
    """The assignment aggregate's handlers over scoring's event store."""

    store: EventStore
    calls: CallBook
    applications: ApplicationBook
    screening: ScreeningBook
    experts: ExpertBook
    book: AssignmentBook
    handler: Handler = field(init=False)
    # For imported (historical) commands: the same, with no due timers.
    historical: Handler = field(init=False)

    def __post_init__(self) -> None:
        self.handler = CommandHandler(
            self.store, assignment_decider, AssignmentCodec(), timers_for=assignment_timers
        )
        self.historical = CommandHandler(self.store, assignment_decider, AssignmentCodec())

    async def load(self, application_id: str, conn: Connection | None = None) -> Loaded[Panel]:
        return await self.handler.load(assignment_stream(application_id), conn=conn)

    async def execute(
        self,
        conn: Connection,
        application_id: str,
        command: AssignmentCommand,
        meta: Metadata,
    ) -> Outcome[Panel]:
        """Decide `command` on the application's panel and keep its rows, on `conn`.

        An imported command (the 2017 demo's history) sets no due timer: its due time passed
        years before it was loaded, and a live timer would flag at once every evaluation
        the record shows came in on time."""
        handler = self.historical if meta.imported else self.handler
        outcome = await handler.execute(assignment_stream(application_id), command, meta, conn=conn)
        if outcome.events:
            await self.book.record(conn, outcome.state)
        return outcome

    async def record(self, conn: Connection, application_id: str) -> None:
        """Keep the panel's rows as its stream says now (after an append made elsewhere)."""
        loaded = await self.load(application_id, conn)
        if loaded.version:
            await self.book.record(conn, loaded.state)

    async def assign_call(
        self, conn: Connection, call_id: str, meta: Metadata, now: datetime
    ) -> Plan:
        """Fill every open seat of the call's eligible applications by the rules."""
        await self.applications.lock_call(conn, call_id)
        call = await self._closed_call(conn, call_id)
        eligible = [
            app
            for app_id in await self.screening.eligible(conn, call_id)
            if (app := await self.applications.get(conn, app_id)) is not None
        ]
        return await self._fill(conn, call, eligible, AssignmentMode.AUTOMATIC, meta, now)

    async def assign(
        self,
        conn: Connection,
        application_id: str,
        expert_id: str,
        reason: str,
        meta: Metadata,
        now: datetime,
    ) -> Outcome[Panel]:
        """An operator assigns an expert by hand; the hard rules hold all the same."""
        app, call = await self._application(conn, application_id)
        if application_id not in await self.screening.eligible(conn, app.call_id):
            raise Conflict("not_eligible", "Only an eligible application is assigned experts.")
        expert = await self.experts.card(conn, expert_id)
        if expert is None:
            raise NotFound("expert_not_found", f"No expert {expert_id} is registered.")
        command = AssignExpert(
            app, expert, call.terms.assignment, AssignmentMode.MANUAL, reason, now
        )
        return await self.execute(conn, application_id, command, meta)

    async def unassign(
        self,
        conn: Connection,
        application_id: str,
        expert_id: str,
        reason: str,
        meta: Metadata,
        now: datetime,
    ) -> Outcome[Panel]:
        """An operator unassigns an expert; the seat stays open until assigned again."""
        await self._application(conn, application_id)
        command = UnassignExpert(application_id, expert_id, UnassignmentCause.MANUAL, reason, now)
        return await self.execute(conn, application_id, command, meta)

    async def reassign(
        self,
        conn: Connection,
        application_id: str,
        expert_id: str,
        reason: str,
        meta: Metadata,
        now: datetime,
    ) -> tuple[Outcome[Panel], Plan]:
        """An overdue evaluation goes to another expert chosen by the same rules."""
        app, call = await self._application(conn, application_id)
        panel = (await self.load(application_id, conn)).state
        member = panel.members.get(expert_id)
        if member is None or not member.active:
            raise Conflict("not_assigned", f"{expert_id} is not assigned.")
        if member.completed:
            raise Conflict("evaluation_submitted", f"{expert_id} has submitted the evaluation.")
        if not member.overdue:
            raise Conflict("not_overdue", f"The evaluation of {expert_id} is not overdue.")
        command = UnassignExpert(application_id, expert_id, UnassignmentCause.OVERDUE, reason, now)
        outcome = await self.execute(conn, application_id, command, meta)
        plan = await self._fill(conn, call, [app], AssignmentMode.REPLACEMENT, meta, now)
        return await self._after(conn, outcome, plan), plan

    async def declare(
        self,
        conn: Connection,
        application_id: str,
        expert_id: str,
        conflict: bool,
        nature: str,
        meta: Metadata,
        now: datetime,
    ) -> tuple[Outcome[Panel], Plan]:
        """The expert declares for the application; a conflict unassigns them and a
        replacement is chosen by the same rules, in the same transaction."""
        app, call = await self._application(conn, application_id)
        command = DeclareInterest(application_id, expert_id, conflict, nature, now)
        outcome = await self.execute(conn, application_id, command, meta)
        if not conflict or not outcome.events:
            return outcome, Plan((), ())
        plan = await self._fill(conn, call, [app], AssignmentMode.REPLACEMENT, meta, now)
        return await self._after(conn, outcome, plan), plan

    async def flag_overdue(
        self, conn: Connection, application_id: str, meta: Metadata, now: datetime
    ) -> Outcome[Panel]:
        """The panel's due timer fired."""
        return await self.execute(conn, application_id, FlagOverdue(application_id, now), meta)

    async def complete(
        self,
        conn: Connection,
        application_id: str,
        expert_id: str,
        round: int,
        meta: Metadata,
        now: datetime,
    ) -> Outcome[Panel]:
        """The expert submitted their evaluation: their assignment is done, and the panel's
        due timer moves on to whoever still owes one (or goes). Called by the evaluation
        handler in the submission's transaction, so a submitted evaluation is never flagged
        overdue afterwards."""
        command = CompleteAssignment(application_id, expert_id, round, now)
        try:
            async with conn.transaction():  # a savepoint: a lost race leaves the rest intact
                return await self.execute(conn, application_id, command, meta)
        except ConcurrencyError:
            # The due timer fired between our load of the panel and our append (it locks
            # its timer row before loading, we after): once more, on what it left, rather
            # than refuse the expert's submission for a flag they never saw.
            return await self.execute(conn, application_id, command, meta)

    async def renewal(
        self, conn: Connection, application_id: str, round: int, reason: str, now: datetime
    ) -> RenewPanel:
        """The command that gives the application's panel new due times for a
        re-evaluation's `round`, by its call's evaluation days."""
        app = await self.applications.get(conn, application_id)
        if app is None:
            raise NotFound(
                "application_not_found", f"Scoring knows no application {application_id}."
            )
        call = await self._closed_call(conn, app.call_id)
        return RenewPanel(application_id, call.terms.assignment, round, reason, now)

    async def renew(
        self,
        conn: Connection,
        application_id: str,
        round: int,
        reason: str,
        meta: Metadata,
        now: datetime,
    ) -> Outcome[Panel]:
        """The evaluation was reopened for `round` in this transaction: the panel owes new
        evaluations, due as at its first assignment (a durable timer flags them overdue)."""
        command = await self.renewal(conn, application_id, round, reason, now)
        return await self.execute(conn, application_id, command, meta)

    def release(self, application_id: str, reason: str, now: datetime) -> ReleasePanel:
        """The command that unassigns the whole panel of an application that is out."""
        return ReleasePanel(application_id, reason, now)

    async def _fill(
        self,
        conn: Connection,
        call: KnownCall,
        applications: Sequence[KnownApplication],
        mode: AssignmentMode,
        meta: Metadata,
        now: datetime,
    ) -> Plan:
        panels = {
            a.application_id: (await self.load(a.application_id, conn)).state for a in applications
        }
        cards = await self.experts.cards(conn)
        loads = await self.book.loads(conn, call.terms.call_id)
        plan = plan_assignment(applications, panels, cards, call.terms.assignment, loads)
        by_app = {a.application_id: a for a in applications}
        by_expert = {c.expert_id: c for c in cards}
        for pick in plan.picks:
            command = AssignExpert(
                by_app[pick.application_id],
                by_expert[pick.expert_id],
                call.terms.assignment,
                mode,
                pick.reason,
                now,
            )
            await self.execute(conn, pick.application_id, command, meta)
        return plan

    async def _after(self, conn: Connection, outcome: Outcome[Panel], plan: Plan) -> Outcome[Panel]:
        """The panel after a command and the replacement it caused, with all their events."""
        if not plan.picks:
            return outcome
        loaded = await self.load(outcome.state.application_id, conn)
        added = loaded.history[len(loaded.history) - len(plan.picks) :]
        return Outcome(loaded.state, loaded.version, [*outcome.events, *added])

    async def _application(
        self, conn: Connection, application_id: str
    ) -> tuple[KnownApplication, KnownCall]:
        app = await self.applications.get(conn, application_id)
        if app is None:
            raise NotFound(
                "application_not_found", f"Scoring knows no application {application_id}."
            )
        await self.applications.lock_call(conn, app.call_id)
        return app, await self._closed_call(conn, app.call_id)

    async def _closed_call(self, conn: Connection, call_id: str) -> KnownCall:
        call = await self.calls.find(conn, call_id)
        if call is None:
            raise NotFound("call_not_found", f"Scoring knows no call {call_id}.")
        if call.closed_at is None:
            raise Conflict("call_open", f"Call {call_id} has not closed: nothing to assign yet.")
        return call


def build(store: EventStore) -> Assignments:
    """The assignment handlers over `store` and scoring's PostgreSQL books in its schema."""
    schema = store.schema
    return Assignments(
        store,
        PostgresCallBook(schema),
        PostgresApplicationBook(schema),
        PostgresScreeningBook(schema),
        PostgresExpertBook(schema),
        PostgresAssignmentBook(schema),
    )


class EvaluationClock(TimerService):
    """Scoring's timer service: flags the assignments whose evaluations are overdue."""

    def __init__(
        self,
        dsn: str,
        pool: asyncpg.Pool,
        assignments: Assignments,
        clock: Callable[[], datetime],
        *,
        max_sleep: float = 30.0,
    ) -> None:
        super().__init__(
            dsn,
            pool,
            assignments.store.schema,
            {EVALUATION_DUE: self._due},
            actor=CLOCK_ACTOR,
            clock=clock,
            max_sleep=max_sleep,
        )
        self.assignments = assignments

    async def _due(self, timer: DueTimer, now: datetime, meta: Metadata, conn: Connection) -> None:
        application_id = timer.stream_id.removeprefix("assignment-")
        await self.assignments.flag_overdue(conn, application_id, meta, now)
