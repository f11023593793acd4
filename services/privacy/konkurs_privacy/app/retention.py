"""Retention: personal data erased a configured time after its purpose is served.

When a call closes, each kind of personal data gets a `retention:<kind>` timer on the call's
stream, due the policy's years after the closing (`schedule_retention`, written in the
transaction that records the CallClosed). The schema's timer leader fires it once: every
subject of that kind in the call's applications is erased by the rule, each in a savepoint
(a subject an operator erased before is skipped), and the run is reported in
`retention_runs`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import asyncpg

from konkurs_platform.db import Connection
from konkurs_platform.domain import DomainError
from konkurs_platform.envelope import Actor
from konkurs_platform.eventstore import Metadata
from konkurs_platform.personal.sealing import personal_data_kinds
from konkurs_platform.timers import DueTimer, Schedule, TimerService, write_timers
from konkurs_privacy.adapters.postgres import PrivacyBook
from konkurs_privacy.app.erasure import Erasures
from konkurs_privacy.domain.subjects import EraseSubject

RETENTION_ACTOR = Actor(subject="system:privacy-retention", role="system")
PURPOSE = "retention:"


def call_stream(call_id: str) -> str:
    return f"call-{call_id}"


def years_after(moment: datetime, years: int) -> datetime:
    """The same date `years` later (29 February becomes the 28th)."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


async def schedule_retention(
    conn: Connection,
    book: PrivacyBook,
    call_id: str,
    closed_at: datetime,
    correlation_id: str,
) -> None:
    """The call's retention timers, by the policies of its programme that count from the
    call's closing (a policy counting from the decision waits for the commission)."""
    changes = [
        Schedule(f"{PURPOSE}{p.kind}", years_after(closed_at, p.years))
        for p in await book.policies(conn, call_id)
        if p.trigger == "call_closed"
    ]
    if changes:
        await write_timers(conn, book.schema, call_stream(call_id), changes, correlation_id)


async def rerun_ended_retention(
    conn: Connection, book: PrivacyBook, call_id: str, correlation_id: str
) -> None:
    """Schedule again, due at once, each retention period of the call that has already run:
    a subject learned after the run is erased by the same rule (the others are skipped)."""
    changes = [
        Schedule(f"{PURPOSE}{kind}", due_at)
        for kind, due_at in await book.ended_retention(conn, call_id)
    ]
    if changes:
        await write_timers(conn, book.schema, call_stream(call_id), changes, correlation_id)


class RetentionClock(TimerService):
    """Privacy's timer service: erases what a retention period ends."""

    def __init__(
        self,
        dsn: str,
        pool: asyncpg.Pool,
        erasures: Erasures,
        clock: Callable[[], datetime],
        *,
        max_sleep: float = 30.0,
    ) -> None:
        super().__init__(
            dsn,
            pool,
            erasures.book.schema,
            {f"{PURPOSE}{kind}": self._erase_due for kind in personal_data_kinds()},
            actor=RETENTION_ACTOR,
            clock=clock,
            max_sleep=max_sleep,
        )
        self.erasures = erasures

    async def _erase_due(
        self, timer: DueTimer, now: datetime, meta: Metadata, conn: Connection
    ) -> None:
        call_id = timer.stream_id.removeprefix("call-")
        kind = timer.purpose.removeprefix(PURPOSE)
        book = self.erasures.book
        # Subjects of the call seen meanwhile wait for this run, or see it (lock_call).
        await book.lock_call(conn, call_id)
        policy = next((p for p in await book.policies(conn, call_id) if p.kind == kind), None)
        if policy is None:
            raise DomainError("no-retention-policy", f"No retention policy for {kind} data.")
        reason = f"retention: {kind} data {policy.years} years after the call closed"
        erased = []
        for subject in await book.subjects_of_call(conn, call_id, kind):
            try:
                # A savepoint each: a subject erased before is refused alone.
                async with conn.transaction():
                    await self.erasures.handle_erase_subject(
                        EraseSubject(subject, reason, now, policy.rule), meta, conn
                    )
            except DomainError:
                continue
            erased.append(subject)
        await book.record_run(conn, call_id, policy, timer.due_at, now, erased)
