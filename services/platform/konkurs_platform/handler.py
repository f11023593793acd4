"""The one command handler every service uses: load, fold, decide, append.

The append carries the version the decision was made on; a concurrent writer makes it fail
with `ConcurrencyError` instead of silently interleaving. A service whose aggregates have
deadlines gives the handler `timers_for`; the timers it returns are written in the append's
transaction (see `konkurs_platform.timers`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from konkurs_platform.db import Connection
from konkurs_platform.domain import Decider
from konkurs_platform.envelope import Envelope
from konkurs_platform.eventstore import ConcurrencyError, EventStore, Metadata, NewEvent
from konkurs_platform.timers import TimerChange, write_timers

C = TypeVar("C")
S = TypeVar("S")
E = TypeVar("E")


class EventCodec(Protocol[E]):
    """Maps domain events (plain dataclasses) to protobuf payloads and back."""

    def encode(self, event: E) -> NewEvent: ...

    def decode(self, envelope: Envelope) -> E: ...


# (stream id, the events just decided, the state after them) -> the stream's timer changes.
# Asked only when the command decided events: a command that changes nothing moves no timer.
TimersFor = Callable[[str, Sequence[E], S], Sequence[TimerChange]]


@dataclass(frozen=True)
class Loaded(Generic[S]):
    state: S
    version: int
    history: list[Envelope]


@dataclass(frozen=True)
class Outcome(Generic[S]):
    """The state after the command, the stream's new version and the events it appended."""

    state: S
    version: int
    events: list[Envelope]


class CommandHandler(Generic[C, S, E]):
    """Executes commands against one kind of aggregate."""

    def __init__(
        self,
        store: EventStore,
        decider: Decider[C, S, E],
        codec: EventCodec[E],
        *,
        timers_for: TimersFor[E, S] | None = None,
    ) -> None:
        self.store = store
        self.decider = decider
        self.codec = codec
        self.timers_for = timers_for

    def with_codec(self, codec: EventCodec[E]) -> CommandHandler[C, S, E]:
        """This handler with another codec (derived event ids, historical times); the
        store, decider and timers stay."""
        return CommandHandler(self.store, self.decider, codec, timers_for=self.timers_for)

    async def load(self, stream_id: str, *, conn: Connection | None = None) -> Loaded[S]:
        """The aggregate's current state, folded from its events."""
        history = await self.store.load(stream_id, conn=conn)
        state = self.decider.fold([self.codec.decode(e) for e in history])
        return Loaded(state, history[-1].stream_version if history else 0, history)

    async def start(
        self,
        stream_id: str,
        command: C,
        meta: Metadata,
        *,
        conn: Connection | None = None,
    ) -> Outcome[S]:
        """Decide `command` on a stream that does not exist yet (its id was just made).

        Skips loading: the append at version 0 fails with `ConcurrencyError` should the
        stream exist after all, so the shortcut cannot overwrite anything.
        """
        new: Sequence[E] = self.decider.decide(command, self.decider.initial)
        state = self.decider.fold(new)
        async with self._transaction(conn) as tx:
            await self._write_timers(tx, stream_id, new, state, meta)
            stored = await self.store.append(
                stream_id, 0, [self.codec.encode(e) for e in new], meta, conn=tx
            )
        return Outcome(state, len(stored), stored)

    async def execute(
        self,
        stream_id: str,
        command: C,
        meta: Metadata,
        *,
        expected_version: int | None = None,
        conn: Connection | None = None,
    ) -> Outcome[S]:
        """Decide `command` on the stream and append the result.

        `expected_version` is what the client last saw (If-Match); without it the command
        is decided on the current state, and only a race with another writer conflicts.
        Pass `conn` to run inside the caller's transaction; without it the handler runs one.
        """
        async with self._transaction(conn) as tx:
            loaded = await self.load(stream_id, conn=tx)
            if expected_version is not None and expected_version != loaded.version:
                raise ConcurrencyError(stream_id, expected_version)
            new: Sequence[E] = self.decider.decide(command, loaded.state)
            state = self.decider.fold(new, loaded.state)
            await self._write_timers(tx, stream_id, new, state, meta)
            stored = await self.store.append(
                stream_id, loaded.version, [self.codec.encode(e) for e in new], meta, conn=tx
            )
        return Outcome(state, loaded.version + len(stored), stored)

    @asynccontextmanager
    async def _transaction(self, conn: Connection | None) -> AsyncIterator[Connection]:
        # The events and their timers commit together or not at all.
        if conn is not None:
            yield conn
            return
        async with self.store.pool.acquire() as own, own.transaction():
            yield own

    async def _write_timers(
        self, conn: Connection, stream_id: str, new: Sequence[E], state: S, meta: Metadata
    ) -> None:
        # Before the append: the timer leader locks a timer row before it appends the fired
        # command's events, so taking the same locks in the same order here means the two
        # can only wait on each other, never deadlock. A failed append rolls these back.
        if self.timers_for is None or not new:
            return
        changes = self.timers_for(stream_id, new, state)
        if changes:
            await write_timers(conn, self.store.schema, stream_id, changes, meta.correlation_id)
