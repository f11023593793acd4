"""Scoring's reaction to intake's call events: keep each call's terms (its methodology).

A reaction whose effect is a row, not a command: the inbox makes a redelivery harmless, and
the stream version keeps an older definition from replacing a newer one.
"""

from __future__ import annotations

import faust

from konkurs_platform.db import Connection, create_pool
from konkurs_platform.envelope import Envelope
from konkurs_platform.reaction import Effect, react
from konkurs_platform.settings import Settings
from konkurs_platform.worker import events_topic
from konkurs_scoring.adapters.intake_events import (
    CALL_AMENDED,
    CALL_ANNOUNCED,
    CALL_CLOSED,
    call_closing,
    call_terms,
)
from konkurs_scoring.app.calls import CallBook

# The inbox's name for this reaction: renaming it would apply every event again.
CONSUMER = "scoring.intake-events"


class IntakeCallEvents:
    """The effects of intake's call events on scoring's copies of the calls."""

    def __init__(self, book: CallBook) -> None:
        self.book = book

    async def on_call_defined(self, conn: Connection, envelope: Envelope) -> None:
        """CallAnnounced or CallAmended: keep the call's terms."""
        await self.book.keep(conn, call_terms(envelope))

    async def on_call_closed(self, conn: Connection, envelope: Envelope) -> None:
        """CallClosed: evaluation of the call's applications can begin."""
        await self.book.close(conn, call_closing(envelope))

    def effects(self) -> dict[str, Effect]:
        """The effect of each event type this reaction handles; other types are skipped."""
        return {
            CALL_ANNOUNCED: self.on_call_defined,
            CALL_AMENDED: self.on_call_defined,
            CALL_CLOSED: self.on_call_closed,
        }


def add_agent(app: faust.App, settings: Settings, schema: str, book: CallBook) -> None:
    """Add the agent that reacts to intake's events to scoring's faust `app`."""

    @app.agent(events_topic(app, settings, "intake"), name="intake-events")
    async def intake_events(stream: faust.StreamT[bytes]) -> None:
        # Made here, in the loop faust runs the agent in; opening no connection up front, so
        # that a database down at start is waited out by the reaction (see `react`).
        pool = await create_pool(settings, min_size=0, max_size=4)
        try:
            await react(
                stream.events(),
                settings=settings,
                pool=pool,
                schema=schema,
                consumer=CONSUMER,
                effects=IntakeCallEvents(book).effects(),
            )
        finally:
            await pool.close()
