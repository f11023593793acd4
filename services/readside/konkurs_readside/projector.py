"""The readside projector: every service's events into the read models, exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
from konkurs_platform.db import create_pool
from konkurs_platform.envelope import Envelope
from konkurs_platform.projection import Projector
from konkurs_platform.settings import SERVICES, Settings

from konkurs_readside.projections import calls

SCHEMA = "readside"

Handler = Callable[[asyncpg.Connection, str, Envelope], Awaitable[None]]

HANDLERS: dict[str, Handler] = {
    calls.CALL_ANNOUNCED: calls.on_call_announced,
    calls.CALL_AMENDED: calls.on_call_amended,
    calls.CALL_CLOSED: calls.on_call_closed,
}


async def apply(conn: asyncpg.Connection, envelope: Envelope) -> None:
    """Route one event to its projection function; events no read model needs are skipped."""
    handler = HANDLERS.get(envelope.event_type)
    if handler is not None:
        await handler(conn, SCHEMA, envelope)


def create_projector(settings: Settings, pool: asyncpg.Pool) -> Projector:
    return Projector(
        settings,
        pool,
        schema=SCHEMA,
        name="readside",
        topics=[settings.events_topic(s) for s in SERVICES],
        apply=apply,
    )


async def run_projector(settings: Settings, stop: asyncio.Event) -> None:
    """Project until `stop` is set."""
    pool = await create_pool(settings, max_size=4)
    try:
        await create_projector(settings, pool).run(stop)
    finally:
        await pool.close()
