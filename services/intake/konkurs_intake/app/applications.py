"""Application handlers: load the call and the application, decide, append.

Every handler runs on the caller's connection inside the caller's transaction, so the
events, the registration counter, the index row and an idempotency key commit together.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from konkurs_intake.adapters.codec import APPLICATION_SUBMITTED, ApplicationCodec
from konkurs_intake.app.calls import Calls
from konkurs_intake.app.historical import handler_for
from konkurs_intake.domain.applications import (
    AmendApplication,
    Application,
    ApplicationAmended,
    ApplicationCommand,
    ApplicationContent,
    ApplicationEvent,
    ApplicationState,
    AttachDocument,
    Document,
    SubmitApplication,
    WithdrawApplication,
    application_decider,
    check_submission,
    registration_number,
)
from konkurs_intake.domain.calls import AnnouncedCall, CallState, ClosedCall
from konkurs_platform.db import Connection
from konkurs_platform.domain import DomainError
from konkurs_platform.envelope import Envelope
from konkurs_platform.eventstore import EventStore, Metadata
from konkurs_platform.handler import CommandHandler, Loaded, Outcome


def application_stream(application_id: str) -> str:
    return f"application-{application_id}"


@dataclass(frozen=True)
class Submission:
    """What the submitter sends; the handler adds the call, the number and the clock."""

    application_id: str
    call_id: str
    content: ApplicationContent
    illustrative: bool = False
    # The server just made `application_id`: no stream can exist, so none is loaded.
    new_id: bool = False


@dataclass(frozen=True)
class Revision:
    """The application as it stood after stream `version`."""

    state: Application
    version: int
    history: list[Envelope]


@dataclass
class Applications:
    """The application aggregate's handlers over the intake event store."""

    store: EventStore
    calls: Calls

    def __post_init__(self) -> None:
        self.codec = ApplicationCodec()
        self.handler: CommandHandler[ApplicationCommand, ApplicationState, ApplicationEvent] = (
            CommandHandler(self.store, application_decider, self.codec)
        )

    async def load(
        self, application_id: str, conn: Connection | None = None
    ) -> Loaded[ApplicationState]:
        return await self.handler.load(application_stream(application_id), conn=conn)

    async def handle_submit_application(
        self,
        submission: Submission,
        now: datetime,
        meta: Metadata,
        conn: Connection,
        call: CallState | None = None,
    ) -> Outcome[ApplicationState]:
        """Submit at `now`; on the import path (`meta.imported`) `now` is the historical
        moment the application was received, and its events are recorded as occurring then.
        A caller submitting many to one call passes the `call` it loaded in this transaction."""
        if call is None:
            call = (await self.calls.load(submission.call_id, conn)).state
        command = SubmitApplication(
            submission.application_id,
            submission.call_id,
            call,
            submission.content,
            "",
            now,
            submission.illustrative,
        )
        # Refused before a number is drawn, so the counter only sees acceptable submissions;
        # a later failure in this transaction rolls the counter back with everything else.
        check_submission(command)
        assert isinstance(call, AnnouncedCall | ClosedCall)
        region = submission.content.cluster.region_code
        number = await self._next_number(conn, submission.call_id, region)
        command = replace(
            command,
            registration_number=registration_number(region, call.definition.opens_at.year, number),
        )
        handler = handler_for(self.handler, meta, now)
        stream = application_stream(submission.application_id)
        if submission.new_id:
            outcome = await handler.start(stream, command, meta, conn=conn)
        else:
            outcome = await handler.execute(stream, command, meta, conn=conn)
        await self._index(conn, outcome, now)
        return outcome

    async def handle_submit_many(
        self,
        submissions: Sequence[Submission],
        call: CallState,
        now: datetime,
        meta: Metadata,
        conn: Connection,
    ) -> list[Outcome[ApplicationState] | DomainError]:
        """Submit many new applications (server-made ids) to one `call`, live, inside the
        caller's transaction, in a few statements whatever their number: one counter update
        per region, one append for all, one batch of index rows. Each submission gets its
        outcome or the domain's refusal, in order; refused ones draw no number."""
        results: list[Outcome[ApplicationState] | DomainError | None] = [None] * len(submissions)
        accepted: list[tuple[int, SubmitApplication]] = []
        for i, sub in enumerate(submissions):
            command = SubmitApplication(
                sub.application_id, sub.call_id, call, sub.content, "", now, sub.illustrative
            )
            try:
                check_submission(command)
            except DomainError as refusal:
                results[i] = refusal
                continue
            accepted.append((i, command))
        if accepted:
            assert isinstance(call, AnnouncedCall | ClosedCall)
            by_region: dict[str, list[int]] = {}
            for i, command in accepted:
                by_region.setdefault(command.content.cluster.region_code, []).append(i)
            numbers: dict[int, int] = {}
            for region, items in by_region.items():
                last = await self._next_number(conn, call.call_id, region, len(items))
                numbers.update({i: last - len(items) + 1 + n for n, i in enumerate(items)})
            decided = []
            for i, command in accepted:
                region = command.content.cluster.region_code
                number = registration_number(region, call.definition.opens_at.year, numbers[i])
                events = self.handler.decider.decide(
                    replace(command, registration_number=number), self.handler.decider.initial
                )
                decided.append((i, command.application_id, events))
            stored = await self.store.append_many(
                [
                    (application_stream(app_id), 0, [self.codec.encode(e) for e in events])
                    for _, app_id, events in decided
                ],
                meta,
                conn=conn,
            )
            outcomes = []
            for (i, _, events), envelopes in zip(decided, stored, strict=True):
                outcome = Outcome(self.handler.decider.fold(events), len(envelopes), envelopes)
                results[i] = outcome
                outcomes.append(outcome)
            await self._index_many(conn, outcomes, now)
        return [r for r in results if r is not None]

    async def handle_amend_application(
        self,
        application_id: str,
        content: ApplicationContent,
        now: datetime,
        meta: Metadata,
        conn: Connection,
        expected_version: int | None,
    ) -> Outcome[ApplicationState]:
        call = await self._call_of(application_id, conn)
        command = AmendApplication(application_id, call, content, now)
        return await self._execute(application_id, command, now, meta, conn, expected_version)

    async def handle_withdraw_application(
        self,
        application_id: str,
        reason: str,
        now: datetime,
        meta: Metadata,
        conn: Connection,
        expected_version: int | None,
    ) -> Outcome[ApplicationState]:
        call = await self._call_of(application_id, conn)
        command = WithdrawApplication(application_id, call, reason, now)
        return await self._execute(application_id, command, now, meta, conn, expected_version)

    async def handle_attach_document(
        self,
        application_id: str,
        document: Document,
        content: bytes,
        now: datetime,
        meta: Metadata,
        conn: Connection,
    ) -> Outcome[ApplicationState]:
        """Store the document's bytes and record that it was filed, in one transaction."""
        call = await self._call_of(application_id, conn)
        command = AttachDocument(application_id, call, document, now)
        outcome = await self._execute(application_id, command, now, meta, conn)
        await self.store_document(conn, document, content)
        return outcome

    async def _execute(
        self,
        application_id: str,
        command: ApplicationCommand,
        now: datetime,
        meta: Metadata,
        conn: Connection,
        expected_version: int | None = None,
    ) -> Outcome[ApplicationState]:
        """Decide `command` on the application's stream and keep the index in step."""
        outcome = await self.handler.execute(
            application_stream(application_id),
            command,
            meta,
            conn=conn,
            expected_version=expected_version,
        )
        await self._index(conn, outcome, now)
        return outcome

    async def store_document(self, conn: Connection, document: Document, content: bytes) -> None:
        """Keep `content` under its SHA-256 (the same bytes are stored once)."""
        await conn.execute(
            f"""INSERT INTO {self.store.schema}.documents (sha256, media_type, size_bytes, content)
                VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING""",
            document.sha256,
            document.media_type,
            document.size_bytes,
            content,
        )

    async def document_content(self, sha256: str) -> tuple[str, bytes] | None:
        """The media type and bytes stored under `sha256`, if any."""
        async with self.store.pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT media_type, content FROM {self.store.schema}.documents WHERE sha256 = $1",
                sha256,
            )
        return None if row is None else (row["media_type"], bytes(row["content"]))

    async def revision(
        self,
        application_id: str,
        *,
        revision: int | None = None,
        as_of: datetime | None = None,
    ) -> Revision | None:
        """The application as it stood at content `revision` (1 is the submission), or at the
        instant `as_of` (by the events' occurred_at); None if it did not exist then."""
        history = await self.store.load(application_stream(application_id))
        state: ApplicationState = application_decider.initial
        version = 0
        for envelope in history:
            event = self.codec.decode(envelope)
            if as_of is not None and envelope.occurred_at > as_of:
                break
            if revision is not None and isinstance(state, Application):
                next_revision = (
                    event.revision if isinstance(event, ApplicationAmended) else state.revision
                )
                if next_revision > revision:
                    break
            state = application_decider.evolve(state, event)
            version = envelope.stream_version
        if not isinstance(state, Application):
            return None
        if revision is not None and state.revision != revision:
            return None
        return Revision(state, version, history[:version])

    async def _call_of(self, application_id: str, conn: Connection) -> AnnouncedCall | ClosedCall:
        """The call of an existing application (a missing application is the decider's 404,
        so an unknown id only gets there)."""
        call_id = await conn.fetchval(
            f"SELECT call_id FROM {self.store.schema}.applications_index WHERE application_id = $1",
            _uuid(application_id),
        )
        state = (await self.calls.load(call_id or "", conn)).state
        assert call_id is None or isinstance(state, AnnouncedCall | ClosedCall)
        return state  # type: ignore[return-value]

    async def _next_number(
        self, conn: Connection, call_id: str, region_code: str, count: int = 1
    ) -> int:
        """Draw `count` numbers of the region's series; returns the last one drawn. The
        counter row stays locked until the transaction ends: that keeps the series gapless."""
        number = await conn.fetchval(
            f"""INSERT INTO {self.store.schema}.registration_counters AS c
                    (call_id, region_code, last_number) VALUES ($1, $2, $3)
                ON CONFLICT (call_id, region_code) DO UPDATE SET last_number = c.last_number + $3
                RETURNING last_number""",
            call_id,
            region_code,
            count,
        )
        return int(number)

    async def _index(
        self, conn: Connection, outcome: Outcome[ApplicationState], now: datetime
    ) -> None:
        await self._index_many(conn, [outcome], now)

    async def _index_many(
        self, conn: Connection, outcomes: Sequence[Outcome[ApplicationState]], now: datetime
    ) -> None:
        """Keep `applications_index` in step with the streams, in the same transaction."""
        rows = []
        for outcome in outcomes:
            state = outcome.state
            if not isinstance(state, Application) or not outcome.events:
                continue
            first = outcome.events[0]
            submitted = first.event_type == APPLICATION_SUBMITTED
            rows.append(
                (
                    _uuid(state.application_id),
                    state.call_id,
                    state.content.cluster.region_code,
                    state.content.coordinator.bin,
                    state.registration_number,
                    state.status.value,
                    outcome.version,
                    first.occurred_at if submitted else now,
                )
            )
        if rows:
            await conn.executemany(
                f"""INSERT INTO {self.store.schema}.applications_index (application_id, call_id,
                        region_code, coordinator_bin, registration_number, status, version,
                        submitted_at)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                    ON CONFLICT (application_id) DO UPDATE SET status = excluded.status,
                        version = excluded.version""",
                rows,
            )


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
