"""What scoring's reactions share: one command caused by an event, and the faust agent each
reaction runs in (one per topic scoring consumes)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

import asyncpg
import faust

from konkurs_platform.db import Connection, create_pool
from konkurs_platform.envelope import Envelope
from konkurs_platform.handler import CommandHandler
from konkurs_platform.reaction import Caused, CommandReaction, Effect, react
from konkurs_platform.settings import Settings
from konkurs_platform.worker import events_topic

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


def add_reaction_agent(
    app: faust.App,
    settings: Settings,
    *,
    producer: str,
    schema: str,
    consumer: str,
    effects: Callable[[asyncpg.Pool], Mapping[str, Effect]],
) -> None:
    """Add to scoring's faust `app` the agent that reacts to `producer`'s events under the
    inbox name `consumer`; `effects` makes the effects over the agent's pool."""

    @app.agent(events_topic(app, settings, producer), name=f"{producer}-events")
    async def reactions(stream: faust.StreamT[bytes]) -> None:
        # Made here, in the loop faust runs the agent in; opening no connection up front, so
        # that a database down at start is waited out by the reaction (see `react`).
        pool = await create_pool(settings, min_size=0, max_size=4)
        try:
            await react(
                stream.events(),
                settings=settings,
                pool=pool,
                schema=schema,
                consumer=consumer,
                effects=effects(pool),
            )
        finally:
            await pool.close()
