"""Privacy's reaction to intake's events: which calls, which subjects, when to erase.

Effects are rows (and the retention timers written with them): the inbox makes a
redelivery harmless, and a subject row keeps the latest stream version's values.
"""

from __future__ import annotations

import faust

from konkurs_platform.db import Connection
from konkurs_platform.envelope import Envelope
from konkurs_platform.reaction import Effect
from konkurs_platform.settings import Settings
from konkurs_platform.worker import add_reaction_agent
from konkurs_privacy.adapters.intake_events import (
    APPLICATION_AMENDED,
    APPLICATION_SUBMITTED,
    CALL_AMENDED,
    CALL_ANNOUNCED,
    CALL_CLOSED,
    call_closed,
    call_programme,
    subjects_seen,
)
from konkurs_privacy.adapters.postgres import PrivacyBook
from konkurs_privacy.app.retention import rerun_ended_retention, schedule_retention

# The inbox's name for this reaction: renaming it would apply every event again.
CONSUMER = "privacy.intake-events"


class IntakeEvents:
    """The effects of intake's events on what privacy keeps."""

    def __init__(self, book: PrivacyBook) -> None:
        self.book = book

    async def on_call_defined(self, conn: Connection, envelope: Envelope) -> None:
        """CallAnnounced or CallAmended: the call's programme, for its retention policies."""
        await self.book.keep_call(conn, *call_programme(envelope))

    async def on_call_closed(self, conn: Connection, envelope: Envelope) -> None:
        """CallClosed: the retention periods that count from the closing start."""
        call_id, closed_at = call_closed(envelope)
        await schedule_retention(conn, self.book, call_id, closed_at, envelope.correlation_id)

    async def on_content(self, conn: Connection, envelope: Envelope) -> None:
        """ApplicationSubmitted or ApplicationAmended: its data subjects, still sealed.

        Intake's events reach this worker from many partitions, so an application can arrive
        after its call's retention period has already run (a call closed long ago, loaded at
        once): its subjects are then due at once, and the call's retention runs again for
        them.
        """
        seen = subjects_seen(envelope)
        # An amendment names no call: its subjects were seen, with their call, at submission.
        calls = sorted({s.call_id for s in seen if s.call_id})
        for call_id in calls:
            await self.book.lock_call(conn, call_id)
        for subject in seen:
            await self.book.keep_subject(conn, subject)
        for call_id in calls:
            await rerun_ended_retention(conn, self.book, call_id, envelope.correlation_id)

    def effects(self) -> dict[str, Effect]:
        """The effect of each event type this reaction handles; other types are skipped."""
        return {
            CALL_ANNOUNCED: self.on_call_defined,
            CALL_AMENDED: self.on_call_defined,
            CALL_CLOSED: self.on_call_closed,
            APPLICATION_SUBMITTED: self.on_content,
            APPLICATION_AMENDED: self.on_content,
        }


def add_agent(app: faust.App, settings: Settings, book: PrivacyBook) -> None:
    """Add the agent that reacts to intake's events to privacy's faust `app`."""
    add_reaction_agent(
        app,
        settings,
        producer="intake",
        schema=book.schema,
        consumer=CONSUMER,
        effects=lambda _pool: IntakeEvents(book).effects(),
    )
