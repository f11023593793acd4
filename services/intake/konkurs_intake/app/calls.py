"""Call handlers: load the call, decide, append (one transaction with the caller's conn)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from konkurs_intake.adapters.codec import CallCodec
from konkurs_intake.adapters.postgres import PostgresCallIndex
from konkurs_intake.app.historical import handler_for
from konkurs_intake.app.ports import CallIndex, CallListing
from konkurs_intake.domain.calls import (
    AmendCall,
    AnnounceCall,
    AnnouncedCall,
    CallCommand,
    CallEvent,
    CallState,
    CloseCall,
    ClosedCall,
    call_decider,
)
from konkurs_platform.db import Connection
from konkurs_platform.eventstore import EventStore, Metadata
from konkurs_platform.handler import CommandHandler, Loaded, Outcome
from konkurs_platform.timers import Cancel, Schedule, TimerChange


def call_stream(call_id: str) -> str:
    return f"call-{call_id}"


# The platform timer that closes a call (fired by `konkurs_intake.app.scheduler`).
CLOSE_CALL = "close-call"


def call_timers(stream_id: str, events: Sequence[CallEvent], state: CallState) -> list[TimerChange]:
    """A call closes at its `closes_at`, moved by an amendment; a closed call needs no timer."""
    if isinstance(state, AnnouncedCall):
        return [Schedule(CLOSE_CALL, state.definition.closes_at)]
    return [Cancel(CLOSE_CALL)]


@dataclass
class Calls:
    """The call aggregate's handlers over the intake event store."""

    store: EventStore
    index: CallIndex = field(init=False)
    # The last state this process loaded of each existing call. Every submission reads its
    # call; a call changes rarely, so the state is kept and its version confirmed instead
    # (`RegistrationCounters.draw`). Calls are few (an operator announces each), so nothing
    # is evicted.
    _seen: dict[str, Loaded[CallState]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        # Built from the store's schema, like the codec: the wiring hands over the store alone.
        self.index = PostgresCallIndex(self.store.schema)
        self.handler: CommandHandler[CallCommand, CallState, CallEvent] = CommandHandler(
            self.store, call_decider, CallCodec(), timers_for=call_timers
        )

    async def load(self, call_id: str, conn: Connection | None = None) -> Loaded[CallState]:
        """The call as it stands, folded from its stream (and remembered, see `last_seen`)."""
        loaded = await self.handler.load(call_stream(call_id), conn=conn)
        if isinstance(loaded.state, AnnouncedCall | ClosedCall):
            self._seen[call_id] = Loaded(loaded.state, loaded.version, [])
        return loaded

    def last_seen(self, call_id: str) -> Loaded[CallState] | None:
        """The call as this process last loaded it, without its history; it may have changed
        since: a decision on it must confirm its version in the transaction."""
        return self._seen.get(call_id)

    async def list_calls(self) -> Sequence[CallListing]:
        """Every call, the latest to open first."""
        async with self.store.pool.acquire() as conn:
            return await self.index.listing(conn)

    async def handle_announce_call(
        self, cmd: AnnounceCall, meta: Metadata, conn: Connection
    ) -> Outcome[CallState]:
        handler = handler_for(self.handler, meta, cmd.now)
        outcome = await handler.execute(call_stream(cmd.call_id), cmd, meta, conn=conn)
        await self._index(conn, outcome)
        return outcome

    async def handle_amend_call(
        self, cmd: AmendCall, meta: Metadata, conn: Connection, expected_version: int | None
    ) -> Outcome[CallState]:
        outcome = await self.handler.execute(
            call_stream(cmd.call_id), cmd, meta, conn=conn, expected_version=expected_version
        )
        await self._index(conn, outcome)
        return outcome

    async def handle_close_call(
        self, cmd: CloseCall, meta: Metadata, conn: Connection
    ) -> Outcome[CallState]:
        handler = handler_for(self.handler, meta, cmd.now)
        outcome = await handler.execute(call_stream(cmd.call_id), cmd, meta, conn=conn)
        await self._index(conn, outcome)
        return outcome

    async def _index(self, conn: Connection, outcome: Outcome[CallState]) -> None:
        """Keep the call index in step with the stream, in the same transaction as the
        append."""
        if isinstance(outcome.state, AnnouncedCall | ClosedCall):
            await self.index.record(conn, outcome.state, outcome.version)
