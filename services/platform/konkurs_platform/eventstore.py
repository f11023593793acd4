"""The event store of one service schema: append with expected version, load a stream.

An append is one SQL statement that inserts the events, queues them in the outbox and,
when the relay is idle, notifies it, so the event store and the outbox can never disagree:
either both have the events or neither has.

Why only when idle: PostgreSQL serialises the commits of notifying transactions (a notifying
commit holds a database-wide lock through its WAL flush), which capped appends at one flush
at a time. A busy relay reads the outbox again after every batch anyway, so it needs no
notification; an idle one holds `RELAY_IDLE_LOCK` and every append that cannot take that
lock shared notifies it (see `konkurs_platform.outbox` for the hand-over).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from konkurs_platform.db import Connection, check_schema_name
from konkurs_platform.envelope import Actor, Envelope, encode_envelope
from konkurs_platform.upcast import upcast


class ConcurrencyError(Exception):
    """Another writer appended to the stream since it was read (HTTP 409, or 412 with If-Match)."""

    def __init__(self, stream_id: str, expected_version: int) -> None:
        super().__init__(f"stream {stream_id!r} is no longer at version {expected_version}")
        self.stream_id = stream_id
        self.expected_version = expected_version


class DuplicateEventError(Exception):
    """An event with this id is already stored: the append is a retry of an earlier one."""


@dataclass(frozen=True)
class NewEvent:
    """An event to append, already encoded as its protobuf payload."""

    event_type: str
    payload: bytes
    schema_version: int = 1
    # Set only by the historical-import path; otherwise the event occurs when it is recorded.
    occurred_at: datetime | None = None
    # Set by consumers reacting to another event (see `derive_event_id`).
    event_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Metadata:
    """Who asks, and in which conversation: recorded on every event of the append."""

    actor: Actor
    correlation_id: str
    causation_id: str | None = None
    imported: bool = False


def utcnow() -> datetime:
    return datetime.now(UTC)


# The advisory lock (first key; the second is `hashtext(schema)`) that a service's outbox
# relay holds exclusively while it waits for work. The two-key form keeps it apart from the
# one-key advisory locks (relay election, idempotency keys, migrations).
RELAY_IDLE_LOCK = 0x6B6F6E72


_COLUMNS = (
    "stream_id, version, event_id, event_type, schema_version, payload, occurred_at, "
    "recorded_at, actor_subject, actor_role, actor_organisation, actor_region, "
    "correlation_id, causation_id, imported"
)


class EventStore:
    """Events of one service, in the service's own schema, published through its outbox."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str,
        topic: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.pool = pool
        self.schema = check_schema_name(schema)
        self.topic = topic
        self.clock = clock
        self.channel = f"{schema}_outbox"
        s = self.schema
        # One statement: the events, their outbox rows and the relay's wake-up commit
        # together. The outbox insert reads the positions the first insert produced.
        # Taking the idle lock shared fails exactly when the relay holds it (idle) or waits
        # for it (going idle): then notify. When it succeeds the relay is busy and will read
        # this row, and the shared lock, held to the end of the transaction, keeps the relay
        # from going idle before this commit is visible to its last look.
        self._append_sql = f"""
            WITH appended AS (
                INSERT INTO {s}.events ({_COLUMNS}, envelope)
                SELECT * FROM unnest(
                    $1::text[], $2::bigint[], $3::uuid[], $4::text[], $5::int[], $6::bytea[],
                    $7::timestamptz[], $8::timestamptz[], $9::text[], $10::text[], $11::text[],
                    $12::text[], $13::text[], $14::text[], $15::bool[], $16::bytea[])
                RETURNING position
            ), queued AS (
                INSERT INTO {s}.outbox (position, topic)
                SELECT position, $17 FROM appended
                RETURNING position
            )
            SELECT count(*) AS n,
                CASE WHEN pg_try_advisory_xact_lock_shared({RELAY_IDLE_LOCK}, hashtext('{s}'))
                THEN NULL ELSE pg_notify('{self.channel}', '') END
            FROM queued
        """
        self._load_sql = f"SELECT {_COLUMNS} FROM {s}.events WHERE stream_id = $1 ORDER BY version"
        self._version_sql = f"SELECT coalesce(max(version), 0) FROM {s}.events WHERE stream_id = $1"

    async def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        meta: Metadata,
        *,
        conn: Connection | None = None,
    ) -> list[Envelope]:
        """Append `events` after `expected_version`; returns them as stored.

        Pass `conn` to append inside the caller's transaction (an inbox row, an idempotency
        key or a read-model row that must commit with the events).
        Raises `ConcurrencyError` when the stream has moved past `expected_version`.
        """
        return (await self.append_many([(stream_id, expected_version, events)], meta, conn=conn))[0]

    async def append_many(
        self,
        appends: Sequence[tuple[str, int, Sequence[NewEvent]]],
        meta: Metadata,
        *,
        conn: Connection | None = None,
    ) -> list[list[Envelope]]:
        """Append to several streams in one statement: each `(stream_id, expected_version,
        events)`; all or none. Returns each stream's events as stored.

        Raises `ConcurrencyError` (naming the first stream) when any stream has moved.
        """
        now = self.clock()
        stored = [
            [
                Envelope(
                    event_id=e.event_id or uuid.uuid4(),
                    event_type=e.event_type,
                    stream_id=stream_id,
                    stream_version=expected_version + i + 1,
                    occurred_at=e.occurred_at or now,
                    recorded_at=now,
                    actor=meta.actor,
                    correlation_id=meta.correlation_id,
                    causation_id=meta.causation_id,
                    schema_version=e.schema_version,
                    payload=e.payload,
                    imported=meta.imported,
                )
                for i, e in enumerate(events)
            ]
            for stream_id, expected_version, events in appends
        ]
        flat = [e for stream in stored for e in stream]
        if not flat:
            return stored
        args = [
            [e.stream_id for e in flat],
            [e.stream_version for e in flat],
            [e.event_id for e in flat],
            [e.event_type for e in flat],
            [e.schema_version for e in flat],
            [e.payload for e in flat],
            [e.occurred_at for e in flat],
            [e.recorded_at for e in flat],
            [e.actor.subject for e in flat],
            [e.actor.role for e in flat],
            [e.actor.organisation for e in flat],
            [e.actor.region for e in flat],
            [e.correlation_id for e in flat],
            [e.causation_id for e in flat],
            [e.imported for e in flat],
            [encode_envelope(e) for e in flat],
            self.topic,
        ]
        try:
            if conn is None:
                async with self.pool.acquire() as c:
                    await c.fetchrow(self._append_sql, *args)
            else:
                await conn.fetchrow(self._append_sql, *args)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "events_pkey":
                stream_id, expected_version, _ = appends[0]
                raise ConcurrencyError(stream_id, expected_version) from exc
            if exc.constraint_name == "events_event_id_key":
                raise DuplicateEventError(str(exc)) from exc
            raise
        return stored

    async def load(self, stream_id: str, *, conn: Connection | None = None) -> list[Envelope]:
        """Every event of the stream, in version order (empty if the stream does not exist),
        each upcast to the current version of its type: the rows keep the shape written."""
        if conn is None:
            async with self.pool.acquire() as c:
                rows = await c.fetch(self._load_sql, stream_id)
        else:
            rows = await conn.fetch(self._load_sql, stream_id)
        return [
            upcast(
                Envelope(
                    event_id=r["event_id"],
                    event_type=r["event_type"],
                    stream_id=r["stream_id"],
                    stream_version=r["version"],
                    occurred_at=r["occurred_at"],
                    recorded_at=r["recorded_at"],
                    actor=Actor(
                        subject=r["actor_subject"],
                        role=r["actor_role"],
                        organisation=r["actor_organisation"],
                        region=r["actor_region"],
                    ),
                    correlation_id=r["correlation_id"],
                    causation_id=r["causation_id"],
                    schema_version=r["schema_version"],
                    payload=r["payload"],
                    imported=r["imported"],
                )
            )
            for r in rows
        ]

    async def version(self, stream_id: str) -> int:
        """The stream's current version; 0 for a stream with no events."""
        async with self.pool.acquire() as c:
            value = await c.fetchval(self._version_sql, stream_id)
        return int(value)
