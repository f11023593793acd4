"""Application handlers: load the call and the application, decide, append.

Every handler runs on the caller's connection inside the caller's transaction, so the
events, the registration counter, the index row and an idempotency key commit together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from konkurs_intake.adapters.codec import APPLICATION_SUBMITTED, ApplicationCodec
from konkurs_intake.adapters.postgres import (
    PostgresApplicationIndex,
    PostgresDocumentStore,
    PostgresRegistrationCounters,
)
from konkurs_intake.app.calls import Calls, call_stream
from konkurs_intake.app.historical import handler_for
from konkurs_intake.app.ports import (
    ApplicationIndex,
    DocumentStore,
    IndexEntry,
    RegistrationCounters,
)
from konkurs_intake.domain.applications import (
    AmendApplication,
    Application,
    ApplicationAmended,
    ApplicationCommand,
    ApplicationContent,
    ApplicationEvent,
    ApplicationState,
    ApplicationSubmitted,
    AttachDocument,
    Document,
    DocumentAttached,
    SubmitApplication,
    WithdrawApplication,
    application_decider,
    check_submission,
    registration_number,
)
from konkurs_intake.domain.calls import AnnouncedCall, ClosedCall
from konkurs_platform.db import Connection
from konkurs_platform.domain import DomainError, NotFound
from konkurs_platform.envelope import Envelope
from konkurs_platform.eventstore import EventStore, Metadata
from konkurs_platform.handler import CommandHandler, Loaded, Outcome


def application_stream(application_id: str) -> str:
    return f"application-{application_id}"


# The caller's access check for an application of a region (first argument) coordinated by
# an organisation (its BIN, second argument); it raises to refuse.
Authorise = Callable[[str, str], None]


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


@dataclass(frozen=True)
class FiledDocument:
    """A document an application filed, with its stored bytes."""

    document: Document
    media_type: str
    content: bytes


@dataclass
class Applications:
    """The application aggregate's handlers over the intake event store."""

    store: EventStore
    calls: Calls
    index: ApplicationIndex = field(init=False)
    counters: RegistrationCounters = field(init=False)
    documents: DocumentStore = field(init=False)

    def __post_init__(self) -> None:
        # The ports are built from the store's schema, like the codec, so whoever wires the
        # service (bootstrap, the demo loader) hands over the event store and nothing else.
        schema = self.store.schema
        self.index = PostgresApplicationIndex(schema)
        self.counters = PostgresRegistrationCounters(schema)
        self.documents = PostgresDocumentStore(schema)
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
        authorise: Authorise | None = None,
    ) -> Outcome[ApplicationState]:
        """Submit at `now`; on the import path (`meta.imported`) `now` is the historical
        moment the application was received, and its events are recorded as occurring then.
        `authorise` runs once the call would take the content: a field at fault is named
        even to a caller who may not submit it."""
        call_id = submission.call_id
        call = self.calls.last_seen(call_id) or await self.calls.load(call_id, conn)
        command = SubmitApplication(
            submission.application_id,
            call_id,
            call.state,
            submission.content,
            "",
            now,
            submission.illustrative,
        )
        # Refused before a number is drawn, so the counter only sees acceptable submissions;
        # a later failure in this transaction rolls the counter back with everything else.
        check_submission(command)
        region = submission.content.cluster.region_code
        if authorise is not None:
            authorise(region, submission.content.coordinator.bin)
        drawn = await self.counters.draw(conn, call_id, call_stream(call_id), region, 1)
        if drawn.call_version != call.version:
            # The call changed since this process last read it: decide on it as it stands
            # (a refusal now rolls the number back with the transaction).
            call = await self.calls.load(call_id, conn)
            command = replace(command, call=call.state)
            check_submission(command)
        assert isinstance(call.state, AnnouncedCall | ClosedCall)
        year = call.state.definition.opens_at.year
        command = replace(
            command, registration_number=registration_number(region, year, drawn.last_number)
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
        call_id: str,
        now: datetime,
        meta: Metadata,
        conn: Connection,
    ) -> list[Outcome[ApplicationState] | DomainError]:
        """Submit many new applications (server-made ids) to call `call_id`, live, inside
        the caller's transaction, in a few statements whatever their number: one counter
        update per region, one append for all, one batch of index rows. Each submission gets
        its outcome or the domain's refusal, in order; refused ones draw no number."""
        call = (await self.calls.load(call_id, conn)).state
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
                # The call was loaded in this transaction: its version needs no confirming.
                last = (
                    await self.counters.draw(
                        conn, call.call_id, call_stream(call.call_id), region, len(items)
                    )
                ).last_number
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
        authorise: Authorise,
    ) -> Outcome[ApplicationState]:
        call = await self._call_of(application_id, conn, authorise)
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
        authorise: Authorise,
    ) -> Outcome[ApplicationState]:
        call = await self._call_of(application_id, conn, authorise)
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
        authorise: Authorise,
    ) -> Outcome[ApplicationState]:
        """Store the document's bytes and record that it was filed, in one transaction."""
        call = await self._call_of(application_id, conn, authorise)
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
        await self.documents.put(conn, document, content)

    async def filed_document(
        self, application_id: str, sha256: str, authorise: Authorise
    ) -> FiledDocument | None:
        """The document with `sha256` if the application ever filed it (in any revision or
        attached since); None if it did not. An application that does not exist is the
        decider's `application_not_found`."""
        loaded = await self.load(application_id)
        state = loaded.state
        if not isinstance(state, Application):
            raise NotFound("application_not_found", f"There is no application {application_id}.")
        authorise(state.content.cluster.region_code, state.content.coordinator.bin)
        filed: dict[str, Document] = {}
        for envelope in loaded.history:
            event = self.codec.decode(envelope)
            if isinstance(event, ApplicationSubmitted | ApplicationAmended):
                filed.update((d.sha256, d) for d in event.content.documents)
            elif isinstance(event, DocumentAttached):
                filed[event.document.sha256] = event.document
        if sha256 not in filed:
            return None
        async with self.store.pool.acquire() as conn:
            stored = await self.documents.get(conn, sha256)
        if stored is None:
            return None
        media_type, content = stored
        return FiledDocument(filed[sha256], media_type, content)

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

    async def _call_of(
        self, application_id: str, conn: Connection, authorise: Authorise
    ) -> AnnouncedCall | ClosedCall:
        """The call of an existing application, once the caller may act on it (a missing
        application is the decider's 404, so an unknown id only gets there)."""
        found = await self.index.find(conn, application_id)
        if found is not None:
            authorise(found.region_code, found.coordinator_bin)
        state = (await self.calls.load(found.call_id if found else "", conn)).state
        assert found is None or isinstance(state, AnnouncedCall | ClosedCall)
        return state  # type: ignore[return-value]

    async def _index(
        self, conn: Connection, outcome: Outcome[ApplicationState], now: datetime
    ) -> None:
        await self._index_many(conn, [outcome], now)

    async def _index_many(
        self, conn: Connection, outcomes: Sequence[Outcome[ApplicationState]], now: datetime
    ) -> None:
        """Keep the application index in step with the streams, in the same transaction."""
        entries = []
        for outcome in outcomes:
            state = outcome.state
            if not isinstance(state, Application) or not outcome.events:
                continue
            first = outcome.events[0]
            submitted = first.event_type == APPLICATION_SUBMITTED
            entries.append(
                IndexEntry(state, outcome.version, first.occurred_at if submitted else now)
            )
        await self.index.record(conn, entries)
