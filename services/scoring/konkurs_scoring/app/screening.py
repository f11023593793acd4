"""Screening handlers: an application checked against its call's eligibility rules, and an
operator's override; each append and the `screening` row commit together.

When is an application screened (`consumers.intake_events` calls `screen`)? When its call
closes, every application scoring knows of it that is not withdrawn. Events of a call and of
its applications travel on different partitions, so an application may also arrive, change
or be withdrawn after scoring saw the call close: it is screened then (a later version is
screened again), and one that is withdrawn or found ineligible releases its experts. The
call's lock keeps a closing and a late arrival from missing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from konkurs_platform.db import Connection
from konkurs_platform.domain import NotFound
from konkurs_platform.eventstore import EventStore, Metadata
from konkurs_platform.handler import CommandHandler, Loaded, Outcome
from konkurs_scoring.adapters.codec_s1 import ScreeningCodec
from konkurs_scoring.app.assignment import Assignments
from konkurs_scoring.app.ports import ApplicationBook, ScreeningBook
from konkurs_scoring.domain.screening import (
    OverrideEligibility,
    Screening,
    ScreeningCommand,
    ScreeningEvent,
    screening_decider,
)


def screening_stream(application_id: str) -> str:
    return f"screening-{application_id}"


@dataclass
class Screenings:
    """The screening aggregate's handlers over scoring's event store."""

    store: EventStore
    applications: ApplicationBook
    book: ScreeningBook
    assignments: Assignments
    handler: CommandHandler[ScreeningCommand, Screening, ScreeningEvent] = field(init=False)

    def __post_init__(self) -> None:
        self.handler = CommandHandler(self.store, screening_decider, ScreeningCodec())

    async def load(self, application_id: str, conn: Connection | None = None) -> Loaded[Screening]:
        return await self.handler.load(screening_stream(application_id), conn=conn)

    async def record(self, conn: Connection, application_id: str) -> Screening:
        """Keep the screening row as the stream says now; returns the screening."""
        state = (await self.load(application_id, conn)).state
        if state.eligible is not None:
            await self.book.record(conn, state)
        return state

    async def override(
        self,
        conn: Connection,
        application_id: str,
        eligible: bool,
        justification: str,
        meta: Metadata,
        now: datetime,
        expected_version: int | None = None,
    ) -> Outcome[Screening]:
        """An operator replaces the result; an application found ineligible loses its
        experts in the same transaction."""
        app = await self.applications.get(conn, application_id)
        if app is None:
            raise NotFound(
                "application_not_found", f"Scoring knows no application {application_id}."
            )
        await self.applications.lock_call(conn, app.call_id)
        outcome = await self.handler.execute(
            screening_stream(application_id),
            OverrideEligibility(application_id, eligible, justification, now),
            meta,
            conn=conn,
            expected_version=expected_version,
        )
        await self.book.record(conn, outcome.state)
        if not eligible:
            release = self.assignments.release(
                application_id, "the application was found ineligible by an override", now
            )
            await self.assignments.execute(conn, application_id, release, meta)
        return outcome
