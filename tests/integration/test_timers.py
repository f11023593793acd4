"""Durable timers against the real PostgreSQL: fired once, at the due time of a moved clock.

Every test gets a schema of its own (the platform's tables only), so its timer leader never
competes with another test's or a service's. The aggregate is an alarm: setting it schedules
a ring, unsetting cancels it, and a muted alarm refuses to ring. Time is a `MovableClock`
the tests move; waits are on conditions with a deadline.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from helpers import eventually, running

from konkurs_platform.db import Connection, migrate, migrations_for
from konkurs_platform.domain import Conflict, Decider
from konkurs_platform.envelope import Actor, Envelope
from konkurs_platform.eventstore import ConcurrencyError, EventStore, Metadata, NewEvent
from konkurs_platform.handler import CommandHandler
from konkurs_platform.settings import Settings
from konkurs_platform.spec import discover
from konkurs_platform.timers import Cancel, DueTimer, Schedule, TimerChange, TimerService
from tests.helpers import meta

pytestmark = pytest.mark.integration

T = datetime(2030, 6, 9, 18, 0, tzinfo=UTC)
RING = "ring"
ALARM_CLOCK = Actor(subject="system:alarm-clock", role="system")


# The alarm: a small aggregate with a deadline ------------------------------------------


@dataclass(frozen=True)
class SetAlarm:
    due: datetime


@dataclass(frozen=True)
class UnsetAlarm:
    pass


@dataclass(frozen=True)
class MuteAlarm:
    pass


@dataclass(frozen=True)
class Ring:
    now: datetime


Command = SetAlarm | UnsetAlarm | MuteAlarm | Ring


@dataclass(frozen=True)
class AlarmSet:
    due: datetime


@dataclass(frozen=True)
class AlarmUnset:
    pass


@dataclass(frozen=True)
class AlarmMuted:
    pass


@dataclass(frozen=True)
class AlarmRang:
    at: datetime


Event = AlarmSet | AlarmUnset | AlarmMuted | AlarmRang


@dataclass(frozen=True)
class Alarm:
    due: datetime | None = None
    muted: bool = False


def decide(command: Command, state: Alarm) -> Sequence[Event]:
    match command:
        case SetAlarm(due):
            return [AlarmSet(due)]
        case UnsetAlarm():
            return [AlarmUnset()]
        case MuteAlarm():
            return [AlarmMuted()]
        case Ring(now):
            # No check of the due time: what keeps an alarm from ringing early or twice
            # here is the timer alone, so these tests see the timers' own guarantees.
            if state.muted:
                raise Conflict("alarm_muted", "A muted alarm does not ring.")
            return [AlarmRang(now)]


def evolve(state: Alarm, event: Event) -> Alarm:
    match event:
        case AlarmSet(due):
            return Alarm(due, state.muted)
        case AlarmUnset() | AlarmRang():
            return Alarm(None, state.muted)
        case AlarmMuted():
            return Alarm(state.due, True)


def alarm_timers(stream_id: str, events: Sequence[Event], state: Alarm) -> list[TimerChange]:
    changes: list[TimerChange] = []
    for e in events:
        if isinstance(e, AlarmSet):
            changes.append(Schedule(RING, e.due))
        elif isinstance(e, AlarmUnset):
            changes.append(Cancel(RING))
    return changes


class AlarmCodec:
    def encode(self, event: Event) -> NewEvent:
        fields = {k: v.isoformat() for k, v in vars(event).items()}
        return NewEvent(f"konkurs.test.v1.{type(event).__name__}", json.dumps(fields).encode())

    def decode(self, envelope: Envelope) -> Event:
        kind = {c.__name__: c for c in (AlarmSet, AlarmUnset, AlarmMuted, AlarmRang)}
        fields = json.loads(envelope.payload)
        cls = kind[envelope.event_type.rsplit(".", 1)[1]]
        return cls(**{k: datetime.fromisoformat(v) for k, v in fields.items()})


class MovableClock:
    """The injected clock: stands still until a test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


# Fixtures ----------------------------------------------------------------------------------


@dataclass
class World:
    settings: Settings
    pool: asyncpg.Pool
    schema: str
    alarms: CommandHandler[Command, Alarm, Event]
    clock: MovableClock

    def timers(self, *, max_sleep: float = 0.05) -> TimerService:
        return TimerService(
            self.settings.dsn,
            self.pool,
            self.schema,
            {RING: self.ring},
            actor=ALARM_CLOCK,
            clock=self.clock,
            max_sleep=max_sleep,
        )

    async def ring(self, timer: DueTimer, now: datetime, meta: Metadata, conn: Connection) -> None:
        await self.alarms.execute(timer.stream_id, Ring(now), meta, conn=conn)

    async def set(self, stream_id: str, due: datetime) -> None:
        await self.alarms.execute(stream_id, SetAlarm(due), meta())

    async def events(self, stream_id: str) -> list[Envelope]:
        return await self.alarms.store.load(stream_id)

    async def rings(self, stream_id: str) -> list[Envelope]:
        return [e for e in await self.events(stream_id) if e.event_type.endswith("AlarmRang")]

    async def timer_row(self, stream_id: str) -> asyncpg.Record | None:
        async with self.pool.acquire() as conn:
            return await conn.fetchrow(
                f"SELECT * FROM {self.schema}.timers WHERE stream_id = $1", stream_id
            )


@pytest.fixture
async def world(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[World]:
    schema = f"timers_{uuid.uuid4().hex[:10]}"
    platform = [m for m in migrations_for(discover()[0]) if m.version.startswith("platform/")]
    async with pool.acquire() as conn:
        await migrate(conn, schema, platform)
    store = EventStore(pool, schema, "test-timers")
    handler = CommandHandler(
        store, Decider(Alarm(), decide, evolve), AlarmCodec(), timers_for=alarm_timers
    )
    yield World(settings, pool, schema, handler, MovableClock(T - timedelta(hours=1)))
    async with pool.acquire() as conn:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")


def stream() -> str:
    return f"alarm-{uuid.uuid4()}"


def leading(service: TimerService) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return service.leading

    return check


def rang(world: World, *streams: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return all([await world.rings(s) for s in streams])

    return check


# Firing -------------------------------------------------------------------------------------


async def test_a_timer_fires_once_at_its_due_time_and_not_before(world: World) -> None:
    alarm = stream()
    await world.set(alarm, T)
    timers = world.timers()
    world.clock.now = T - timedelta(seconds=1)
    assert await timers.fire_due() == []
    world.clock.now = T
    fired = await timers.fire_due()
    assert [t.stream_id for t in fired] == [alarm]
    world.clock.now = T + timedelta(hours=1)
    assert await timers.fire_due() == []
    rings = await world.rings(alarm)
    assert len(rings) == 1
    row = await world.timer_row(alarm)
    assert row is not None and row["outcome"] == "fired" and row["done_at"] == T


async def test_a_fired_command_records_the_timer_as_cause_and_continues_the_conversation(
    world: World,
) -> None:
    alarm = stream()
    setting = meta()
    await world.alarms.execute(alarm, SetAlarm(T), setting)
    world.clock.now = T
    [timer] = await world.timers().fire_due()
    [ring] = await world.rings(alarm)
    assert ring.causation_id == f"timer:{timer.timer_id}"
    assert ring.correlation_id == setting.correlation_id
    assert ring.actor == ALARM_CLOCK


async def test_the_leader_fires_when_the_clock_moves_past_the_due_time(world: World) -> None:
    alarm = stream()
    await world.set(alarm, T)
    timers = world.timers(max_sleep=0.05)
    async with running(timers):
        await eventually(leading(timers))
        assert await world.rings(alarm) == []
        # Nobody wakes the leader: it looks again within max_sleep and compares with the clock.
        world.clock.now = T + timedelta(minutes=1)
        await eventually(rang(world, alarm))
    assert len(await world.rings(alarm)) == 1


async def test_scheduling_a_due_timer_wakes_a_sleeping_leader(world: World) -> None:
    world.clock.now = T + timedelta(minutes=1)
    timers = world.timers(max_sleep=600)
    async with running(timers):
        await eventually(leading(timers))
        alarm = stream()
        # Only the notification sent when the schedule commits can wake it within the deadline.
        await world.set(alarm, T)
        await eventually(rang(world, alarm), timeout=10)


async def test_due_timers_fire_once_after_the_leader_restarts(world: World) -> None:
    alarms = [stream() for _ in range(3)]
    for a in alarms:
        await world.set(a, T)
    first = world.timers()
    async with running(first):
        await eventually(leading(first))
    assert not first.leading
    # Due while no leader ran: the next leader fires them when it starts.
    world.clock.now = T + timedelta(hours=2)
    second = world.timers()
    async with running(second):
        await eventually(rang(world, *alarms))
    assert [len(await world.rings(a)) for a in alarms] == [1, 1, 1]
    assert await world.timers().fire_due() == []


async def test_of_two_competing_leaders_one_leads_and_each_timer_fires_once(world: World) -> None:
    alarms = [stream() for _ in range(10)]
    for a in alarms:
        await world.set(a, T)
    world.clock.now = T
    one, other = world.timers(), world.timers()
    async with running(one, other):
        await eventually(rang(world, *alarms))
        assert [one.leading, other.leading].count(True) == 1
    assert [len(await world.rings(a)) for a in alarms] == [1] * 10


async def test_two_rounds_racing_fire_each_timer_once(world: World) -> None:
    # The lock is not what makes a timer fire once: a leader whose lock went with a lost
    # connection may still be in a round while the next one starts.
    alarms = [stream() for _ in range(20)]
    for a in alarms:
        await world.set(a, T)
    world.clock.now = T
    one, other = await asyncio.gather(world.timers().fire_due(), world.timers().fire_due())
    assert sorted(t.stream_id for t in [*one, *other]) == sorted(alarms)
    assert [len(await world.rings(a)) for a in alarms] == [1] * 20


# Cancelled, superseded, clock jumps, refusals --------------------------------------------


async def test_a_cancelled_timer_does_not_fire(world: World) -> None:
    alarm = stream()
    await world.set(alarm, T)
    await world.alarms.execute(alarm, UnsetAlarm(), meta())
    assert await world.timer_row(alarm) is None
    world.clock.now = T + timedelta(days=1)
    assert await world.timers().fire_due() == []
    assert await world.rings(alarm) == []


async def test_a_superseded_due_time_does_not_fire_and_the_new_one_does(world: World) -> None:
    alarm = stream()
    await world.set(alarm, T)
    old = await world.timer_row(alarm)
    later = T + timedelta(hours=1)
    await world.set(alarm, later)
    timers = world.timers()
    world.clock.now = T + timedelta(minutes=1)
    assert await timers.fire_due() == []
    world.clock.now = later
    [fired] = await timers.fire_due()
    assert old is not None and fired.timer_id != old["timer_id"] and fired.due_at == later
    assert len(await world.rings(alarm)) == 1


async def test_a_timer_rescheduled_while_it_fires_does_not_fire(world: World) -> None:
    alarm = stream()
    await world.set(alarm, T)
    world.clock.now = T
    later = T + timedelta(hours=1)
    async with world.pool.acquire() as conn, conn.transaction():
        await world.alarms.execute(alarm, SetAlarm(later), meta(), conn=conn)
        # The round reads the old due time (the new one is not committed) and waits on the
        # timer row the reschedule holds.
        firing = asyncio.create_task(world.timers().fire_due())
        await eventually(lambda: waiting_on_a_lock(world.pool, f"%{world.schema}.timers%"))
    assert await firing == []
    assert await world.rings(alarm) == []
    row = await world.timer_row(alarm)
    assert row is not None and row["due_at"] == later and row["done_at"] is None


async def waiting_on_a_lock(pool: asyncpg.Pool, query: str) -> bool:
    async with pool.acquire() as conn:
        return bool(
            await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE $1",
                query,
            )
        )


async def test_a_clock_jumping_back_and_forth_fires_each_timer_once(world: World) -> None:
    early, late = stream(), stream()
    await world.set(early, T)
    await world.set(late, T + timedelta(minutes=10))
    timers = world.timers()
    world.clock.now = T + timedelta(seconds=1)
    assert [t.stream_id for t in await timers.fire_due()] == [early]
    world.clock.now = T - timedelta(hours=1)
    assert await timers.fire_due() == []
    world.clock.now = T + timedelta(days=3)
    assert [t.stream_id for t in await timers.fire_due()] == [late]
    world.clock.now = T - timedelta(days=3)
    assert await timers.fire_due() == []
    assert [len(await world.rings(s)) for s in (early, late)] == [1, 1]


async def test_a_refused_command_marks_its_timer_done_with_the_reason_and_is_not_retried(
    world: World,
) -> None:
    alarm = stream()
    await world.set(alarm, T)
    await world.alarms.execute(alarm, MuteAlarm(), meta())
    world.clock.now = T
    timers = world.timers()
    assert await timers.fire_due() == []
    row = await world.timer_row(alarm)
    assert row is not None and row["outcome"] == "refused"
    assert row["reason"].startswith("alarm_muted")
    attempts = 0

    async def count(timer: DueTimer, now: datetime, meta: Metadata, conn: Connection) -> None:
        nonlocal attempts
        attempts += 1

    timers.fire = {RING: count}
    world.clock.now = T + timedelta(days=1)
    assert await timers.fire_due() == []
    assert attempts == 0
    assert await world.rings(alarm) == []


# Timers commit with their events -----------------------------------------------------------


async def test_a_rolled_back_command_leaves_no_timer(world: World) -> None:
    alarm = stream()
    with pytest.raises(RuntimeError):
        async with world.pool.acquire() as conn, conn.transaction():
            await world.alarms.execute(alarm, SetAlarm(T), meta(), conn=conn)
            raise RuntimeError("the caller's transaction fails after the append")
    assert await world.timer_row(alarm) is None and await world.events(alarm) == []


async def test_a_conflicting_append_does_not_move_the_timer(world: World) -> None:
    alarm = stream()
    await world.set(alarm, T)
    with pytest.raises(ConcurrencyError):
        # `start` assumes a new stream; this one exists, so the append conflicts.
        await world.alarms.start(alarm, SetAlarm(T + timedelta(days=1)), meta())
    row = await world.timer_row(alarm)
    assert row is not None and row["due_at"] == T
