"""Plan tracking's handlers: open a plan from a selection, run the plan's commands, read a
plan now or as it stood at a time, and fire its overdue timers.

Timers: when a version is approved, every milestone of it that is neither settled nor overdue
gets a due timer at the midnight ending its due date, and on the first approval every period
whose report is not in gets one at the midnight ending the report's due date (both in the
call's time zone). A report submitted cancels its period's timer and those of the milestones
it settles; a report returned re-arms the timers of the milestones it had claimed settled. A
timer row is written in the append's transaction and marked done in the firing's, so each
fires once, across restarts too; the decider marks nothing a second time either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import takewhile
from typing import Any, Protocol

import asyncpg

from konkurs_plans.adapters.codec import PlanCodec
from konkurs_plans.adapters.commission_events import Selection
from konkurs_plans.domain.plans import (
    DECIDER,
    SETTLED,
    MarkMilestoneOverdue,
    MarkReportOverdue,
    OpenPlan,
    Plan,
    PlanApproved,
    PlanCommand,
    PlanEvent,
    PlanOpened,
    PlanState,
    ReportReturned,
    ReportSubmitted,
    midnight_after,
)
from konkurs_plans.programmes import programme_of
from konkurs_platform.db import Connection
from konkurs_platform.envelope import Actor, Envelope
from konkurs_platform.eventstore import EventStore, Metadata
from konkurs_platform.handler import CommandHandler, Loaded, Outcome
from konkurs_platform.timers import Cancel, DueTimer, Fire, Schedule, TimerChange, TimerService

CLOCK_ACTOR = Actor(subject="system:plans-clock", role="system")
MILESTONE_DUE = "milestone"
REPORT_DUE = "report"


def plan_stream(plan_id: str) -> str:
    """The stream of a plan."""
    return f"plan-{plan_id}"


def opening(selection: Selection) -> OpenPlan:
    """The command that opens the selected cluster's plan in its call's programme."""
    programme = programme_of(selection.call_id, selection.selected_at)
    return OpenPlan(
        PlanOpened(
            plan_id=selection.application_id,
            call_id=selection.call_id,
            registration_number=selection.registration_number,
            cluster_name=selection.cluster_name,
            region_code=selection.region_code,
            coordinator_bin=selection.coordinator_bin,
            phases=programme.phases,
            periods=programme.periods,
            time_zone=programme.time_zone,
            selection_event_id=selection.event_id,
        )
    )


def _purpose(kind: str, item: str) -> str:
    return f"{kind}:{item}"


def plan_timers(stream_id: str, events: Sequence[PlanEvent], state: PlanState) -> list[TimerChange]:
    """The timer changes the events just decided call for (see the module's docstring)."""
    if not isinstance(state, Plan):
        return []
    changes: dict[str, TimerChange] = {}
    zone = state.opened.time_zone
    approved = state.approved
    milestones = {m.milestone_id: m for m in approved.content.milestones} if approved else {}

    def arm(milestone_id: str) -> None:
        purpose = _purpose(MILESTONE_DUE, milestone_id)
        m = milestones.get(milestone_id)
        if (
            m is None
            or milestone_id in state.overdue_milestones
            or state.settled_or_claimed(milestone_id)
        ):
            changes[purpose] = Cancel(purpose)
        else:
            changes[purpose] = Schedule(purpose, midnight_after(m.due_on, zone))

    for event in events:
        match event:
            case PlanApproved():
                # Those of an earlier version that this one dropped are cancelled too.
                for milestone_id in {*state.milestones, *milestones}:
                    arm(milestone_id)
                if event.version == 1:
                    for p in state.opened.periods:
                        if p.period_id not in state.reports:
                            purpose = _purpose(REPORT_DUE, p.period_id)
                            changes[purpose] = Schedule(
                                purpose, midnight_after(p.report_due_on, zone)
                            )
            case ReportSubmitted():
                purpose = _purpose(REPORT_DUE, event.period_id)
                changes[purpose] = Cancel(purpose)
                for t in event.milestones:
                    if t.status in SETTLED:
                        arm(t.milestone_id)
            case ReportReturned():
                for t in state.reports[event.period_id].submitted.milestones:
                    arm(t.milestone_id)
            case _:
                pass
    return list(changes.values())


class PlanIndex(Protocol):
    """Which plans exist (adapters.index.PostgresPlanIndex)."""

    async def add(self, conn: Connection, opened: PlanOpened, at: datetime) -> None: ...

    async def listed(
        self, conn: Connection, *, coordinator_bin: str | None, call_id: str | None
    ) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class AsOf:
    """A plan as it stood at a time: the state folded from the events up to it."""

    state: PlanState
    version: int


class Plans:
    """The plan aggregate's handlers over one event store."""

    def __init__(self, store: EventStore, index: PlanIndex) -> None:
        self.store = store
        self.index = index
        self.handler = CommandHandler(store, DECIDER, PlanCodec(), timers_for=plan_timers)
        # For history (the 2017 demo, imported selections): its due times passed long ago,
        # so it sets no timers; what fell overdue then is recorded by its own command.
        self.historical = CommandHandler(store, DECIDER, PlanCodec())

    @property
    def pool(self) -> asyncpg.Pool:
        return self.store.pool

    async def load(self, plan_id: str, conn: Connection | None = None) -> Loaded[PlanState]:
        """The plan now."""
        return await self.handler.load(plan_stream(plan_id), conn=conn)

    async def as_of(self, plan_id: str, moment: datetime) -> AsOf:
        """The plan as it stood at `moment`: its events that occurred by then, folded. The
        stream's order rules: the prefix up to the first later event (an event recorded
        after a later one yet dated earlier cannot be folded without it)."""
        history = await self.store.load(plan_stream(plan_id))
        before = list(takewhile(lambda e: e.occurred_at <= moment, history))
        state = DECIDER.fold([self.handler.codec.decode(e) for e in before])
        return AsOf(state, before[-1].stream_version if before else 0)

    async def history(self, plan_id: str) -> list[Envelope]:
        """Every event of the plan, in order."""
        return await self.store.load(plan_stream(plan_id))

    async def execute(
        self,
        conn: Connection,
        command: PlanCommand,
        meta: Metadata,
        expected_version: int | None = None,
        *,
        historical: bool = False,
    ) -> Outcome[PlanState]:
        """Decide and append a command on its plan, inside the caller's transaction."""
        assert not isinstance(command, OpenPlan), "a plan is opened by its selection"
        handler = self.historical if historical else self.handler
        return await handler.execute(
            plan_stream(command.plan_id),
            command,
            meta,
            expected_version=expected_version,
            conn=conn,
        )

    async def listed(
        self, *, coordinator_bin: str | None = None, call_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The plans opened, only the coordinator's or the call's where given."""
        async with self.pool.acquire() as conn:
            return await self.index.listed(conn, coordinator_bin=coordinator_bin, call_id=call_id)


class _ByKind(Mapping[str, Fire]):
    """The firing of a purpose `<kind>:<item>` by its kind: a plan has a timer per milestone
    and per period, each its own purpose, and one command per kind fires them."""

    def __init__(self, fires: Mapping[str, Fire]) -> None:
        self._fires = fires

    def __getitem__(self, purpose: str) -> Fire:
        return self._fires[purpose.partition(":")[0]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fires)

    def __len__(self) -> int:
        return len(self._fires)


class PlanClock(TimerService):
    """Plan tracking's timer service: marks milestones and reports overdue."""

    def __init__(
        self,
        dsn: str,
        plans: Plans,
        clock: Callable[[], datetime],
        *,
        max_sleep: float = 30.0,
    ) -> None:
        super().__init__(
            dsn,
            plans.pool,
            plans.store.schema,
            _ByKind({MILESTONE_DUE: self._milestone, REPORT_DUE: self._report}),
            actor=CLOCK_ACTOR,
            clock=clock,
            max_sleep=max_sleep,
        )
        self.plans = plans

    async def _milestone(
        self, timer: DueTimer, now: datetime, meta: Metadata, conn: Connection
    ) -> None:
        plan_id = timer.stream_id.removeprefix("plan-")
        milestone_id = timer.purpose.partition(":")[2]
        await self.plans.execute(conn, MarkMilestoneOverdue(plan_id, milestone_id, now), meta)

    async def _report(
        self, timer: DueTimer, now: datetime, meta: Metadata, conn: Connection
    ) -> None:
        plan_id = timer.stream_id.removeprefix("plan-")
        period_id = timer.purpose.partition(":")[2]
        await self.plans.execute(conn, MarkReportOverdue(plan_id, period_id, now), meta)
