"""The one command handler every service uses: load, fold, decide, append.

The append carries the version the decision was made on; a concurrent writer makes it fail
with `ConcurrencyError` instead of silently interleaving.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from konkurs_platform.db import Connection
from konkurs_platform.domain import Decider
from konkurs_platform.envelope import Envelope
from konkurs_platform.eventstore import ConcurrencyError, EventStore, Metadata, NewEvent

C = TypeVar("C")
S = TypeVar("S")
E = TypeVar("E")


class EventCodec(Protocol[E]):
    """Maps domain events (plain dataclasses) to protobuf payloads and back."""

    def encode(self, event: E) -> NewEvent: ...

    def decode(self, envelope: Envelope) -> E: ...


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

    def __init__(self, store: EventStore, decider: Decider[C, S, E], codec: EventCodec[E]) -> None:
        self.store = store
        self.decider = decider
        self.codec = codec

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
        stored = await self.store.append(
            stream_id, 0, [self.codec.encode(e) for e in new], meta, conn=conn
        )
        return Outcome(self.decider.fold(new), len(stored), stored)

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
        """
        loaded = await self.load(stream_id, conn=conn)
        if expected_version is not None and expected_version != loaded.version:
            raise ConcurrencyError(stream_id, expected_version)
        new: Sequence[E] = self.decider.decide(command, loaded.state)
        stored = await self.store.append(
            stream_id, loaded.version, [self.codec.encode(e) for e in new], meta, conn=conn
        )
        state = self.decider.fold(new, loaded.state)
        return Outcome(state, loaded.version + len(stored), stored)
