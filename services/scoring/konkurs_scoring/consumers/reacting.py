"""What scoring's reactions share: one command caused by an event (the faust agent each runs
in is the platform's `worker.add_reaction_agent`)."""

from __future__ import annotations

from typing import Generic, TypeVar

from konkurs_platform.db import Connection
from konkurs_platform.envelope import Envelope
from konkurs_platform.handler import CommandHandler
from konkurs_platform.reaction import Caused, CommandReaction

C = TypeVar("C")
S = TypeVar("S")
E = TypeVar("E")


class Once(Generic[C, S, E]):
    """One command caused by `source` on one stream, through the platform's reaction (its
    derived event ids, causation and correlation) under the reaction's inbox name."""

    def __init__(
        self, handler: CommandHandler[C, S, E], stream_id: str, command: C, *, consumer: str
    ) -> None:
        self.reaction = CommandReaction(
            handler, lambda _: Caused(stream_id, command), consumer=consumer
        )

    async def __call__(self, conn: Connection, source: Envelope) -> None:
        await self.reaction(conn, source)
