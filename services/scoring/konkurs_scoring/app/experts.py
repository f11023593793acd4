"""The expert registry's handlers: load the expert, decide, append, keep the registry row
(one transaction)."""

from __future__ import annotations

from dataclasses import dataclass, field

from konkurs_platform.db import Connection
from konkurs_platform.eventstore import EventStore, Metadata
from konkurs_platform.handler import CommandHandler, Loaded, Outcome
from konkurs_scoring.adapters.codec_s1 import ExpertCodec
from konkurs_scoring.app.ports import ExpertBook
from konkurs_scoring.domain.experts import (
    ExpertCommand,
    ExpertEvent,
    ExpertState,
    expert_decider,
)


def expert_stream(expert_id: str) -> str:
    return f"expert-{expert_id}"


@dataclass
class Experts:
    """The expert aggregate's handlers. `store` seals the experts' names (personal data)."""

    store: EventStore
    book: ExpertBook
    handler: CommandHandler[ExpertCommand, ExpertState, ExpertEvent] = field(init=False)

    def __post_init__(self) -> None:
        self.handler = CommandHandler(self.store, expert_decider, ExpertCodec())

    async def load(self, expert_id: str, conn: Connection | None = None) -> Loaded[ExpertState]:
        """The expert as their stream tells it, name opened."""
        return await self.handler.load(expert_stream(expert_id), conn=conn)

    async def handle(
        self,
        conn: Connection,
        command: ExpertCommand,
        meta: Metadata,
        expected_version: int | None = None,
    ) -> Outcome[ExpertState]:
        """Register, update or deactivate an expert on `conn` (the caller's transaction)."""
        outcome = await self.handler.execute(
            expert_stream(command.expert_id),
            command,
            meta,
            conn=conn,
            expected_version=expected_version,
        )
        if outcome.events:
            await self.book.record(conn, outcome.state, outcome.version)
        return outcome
