"""Scoring's reaction to intake's events: keep each call's terms and each application's
latest content, and screen applications when their call closes (or when one arrives, changes
or is withdrawn after that).

The effects run in the transaction that claims the event in the inbox, so a redelivery is
skipped; the commands they cause go through `CommandReaction`, whose event ids derive from
the intake event, so even a replay that got past the inbox would append nothing twice. The
stream versions keep an older definition or revision from replacing a newer one.
"""

from __future__ import annotations

from konkurs_platform.db import Connection
from konkurs_platform.envelope import Envelope
from konkurs_platform.reaction import Effect
from konkurs_scoring.adapters.intake_events import (
    APPLICATION_EVENTS,
    CALL_AMENDED,
    CALL_ANNOUNCED,
    CALL_CLOSED,
    application_id_of,
    call_closing,
    call_terms,
    learn_application,
)
from konkurs_scoring.app.assignment import Assignments, assignment_stream
from konkurs_scoring.app.calls import CallBook
from konkurs_scoring.app.ports import ApplicationBook
from konkurs_scoring.app.screening import Screenings, screening_stream
from konkurs_scoring.consumers.reacting import Once
from konkurs_scoring.domain.applications import KnownApplication
from konkurs_scoring.domain.calls import CallTerms
from konkurs_scoring.domain.screening import AssessEligibility

# The inbox's name for this reaction: renaming it would apply every event again.
CONSUMER = "scoring.intake-events"


class IntakeCallEvents:
    """The effects of intake's events on what scoring knows and on screening. Given the
    call book alone it keeps the calls' terms only (what a test of that part needs)."""

    def __init__(
        self,
        book: CallBook,
        applications: ApplicationBook | None = None,
        screenings: Screenings | None = None,
        assignments: Assignments | None = None,
    ) -> None:
        self.book = book
        self.applications = applications
        self.screenings = screenings
        self.assignments = assignments

    async def on_call_defined(self, conn: Connection, envelope: Envelope) -> None:
        """CallAnnounced or CallAmended: keep the call's terms."""
        await self.book.keep(conn, call_terms(envelope))

    async def on_call_closed(self, conn: Connection, envelope: Envelope) -> None:
        """CallClosed: screen every application of the call that is not withdrawn."""
        closing = call_closing(envelope)
        await self.book.close(conn, closing)
        if self.applications is None:
            return
        await self.applications.lock_call(conn, closing.call_id)
        known = await self.book.find(conn, closing.call_id)
        assert known is not None, "a call closes after it is announced, in its stream's order"
        for application in await self.applications.of_call(conn, closing.call_id):
            if not application.withdrawn:
                await self._screen(conn, envelope, application, known.terms)

    async def on_application_event(self, conn: Connection, envelope: Envelope) -> None:
        """An application submitted, amended, withdrawn or given a document: keep it; once
        its call closed, screen it again or release its experts."""
        assert self.applications is not None
        before = await self.applications.get(conn, application_id_of(envelope))
        after = learn_application(before, envelope)
        if after is None or (before is not None and before.version >= after.version):
            return
        await self.applications.lock_call(conn, after.call_id)
        await self.applications.keep(conn, after)
        known = await self.book.find(conn, after.call_id)
        if known is None or known.closed_at is None:
            return  # screened when the call closes
        if after.withdrawn:
            await self._release(conn, envelope, after, "the application was withdrawn")
        else:
            await self._screen(conn, envelope, after, known.terms)

    async def _screen(
        self, conn: Connection, source: Envelope, application: KnownApplication, terms: CallTerms
    ) -> None:
        assert self.screenings is not None
        command = AssessEligibility(application, terms, source.occurred_at)
        stream = screening_stream(application.application_id)
        await Once(self.screenings.handler, stream, command, consumer=CONSUMER)(conn, source)
        screening = await self.screenings.record(conn, application.application_id)
        if screening.eligible is False:
            await self._release(conn, source, application, "the application is not eligible")

    async def _release(
        self, conn: Connection, source: Envelope, application: KnownApplication, reason: str
    ) -> None:
        assert self.assignments is not None
        command = self.assignments.release(application.application_id, reason, source.occurred_at)
        stream = assignment_stream(application.application_id)
        await Once(self.assignments.handler, stream, command, consumer=CONSUMER)(conn, source)
        await self.assignments.record(conn, application.application_id)

    def effects(self) -> dict[str, Effect]:
        """The effect of each event type this reaction handles; other types are skipped."""
        effects: dict[str, Effect] = {
            CALL_ANNOUNCED: self.on_call_defined,
            CALL_AMENDED: self.on_call_defined,
            CALL_CLOSED: self.on_call_closed,
        }
        if self.applications is not None:
            effects |= dict.fromkeys(APPLICATION_EVENTS, self.on_application_event)
        return effects
