"""Payloads sealed on the way into the event store and opened on the way out.

`SealingEventStore` is the `EventStore` of a service whose events hold personal data: the
codec writes clear values, the append seals them in the append's transaction (a new
subject's key commits with the events that need it), and a load opens them, so the domain
and the codec never see ciphertext. `open_payloads` is the same opening for a reader of the
published events (the readside's projections).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

import asyncpg
from google.protobuf.message import Message

from konkurs_platform.db import Connection
from konkurs_platform.envelope import Envelope
from konkurs_platform.eventstore import EventStore, Metadata, NewEvent, utcnow
from konkurs_platform.personal.keystore import KeyStore
from konkurs_platform.personal.sealing import (
    PersonalField,
    holds_personal_data,
    message_class,
    personal_fields,
    seal_all,
    unseal_all,
)


def _parse(
    event_type: str, payload: bytes, stream_id: str
) -> tuple[Message | None, list[PersonalField]]:
    cls = message_class(event_type)
    if not holds_personal_data(cls.DESCRIPTOR):
        return None, []
    message = cls.FromString(payload)
    return message, personal_fields(message, stream_id)


async def seal_payloads(
    conn: Connection, keys: KeyStore, appends: Sequence[tuple[str, int, Sequence[NewEvent]]]
) -> list[tuple[str, int, list[NewEvent]]]:
    """`appends` with every personal value sealed; events without any keep their bytes."""
    parsed = [
        [(e, *_parse(e.event_type, e.payload, stream_id)) for e in events]
        for stream_id, _, events in appends
    ]
    subjects = {f.subject_id: f.kind for stream in parsed for _, _, fs in stream for f in fs}
    if not subjects:
        return [(s, v, list(events)) for s, v, events in appends]
    found = await keys.keys_for_sealing(conn, subjects)
    out: list[tuple[str, int, list[NewEvent]]] = []
    for (stream_id, version, _), stream in zip(appends, parsed, strict=True):
        sealed = []
        for event, message, fields in stream:
            if fields:
                seal_all(fields, found)
                assert message is not None
                event = replace(event, payload=message.SerializeToString(deterministic=True))
            sealed.append(event)
        out.append((stream_id, version, sealed))
    return out


async def open_payloads(
    conn: Connection, keys: KeyStore, envelopes: Sequence[Envelope], *, hold: bool = False
) -> list[Envelope]:
    """`envelopes` with every sealed value opened (`ERASED` where the key is gone), in memory.

    `hold` keeps the subjects' erasures waiting until the caller's transaction ends: pass it
    when the clear values will be stored (see `KeyStore.keys`).
    """
    parsed = [(e, *_parse(e.event_type, e.payload, e.stream_id)) for e in envelopes]
    subjects = {f.subject_id for _, _, fs in parsed for f in fs}
    if not subjects:
        return list(envelopes)
    found = await keys.keys(conn, subjects, hold=hold)
    out = []
    for envelope, message, fields in parsed:
        if fields:
            unseal_all(fields, found)
            assert message is not None
            envelope = replace(envelope, payload=message.SerializeToString(deterministic=True))
        out.append(envelope)
    return out


class SealingEventStore(EventStore):
    """An `EventStore` whose events' personal fields are sealed in the store, clear in code."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str,
        topic: str,
        clock: Callable[[], datetime] = utcnow,
        keys: KeyStore | None = None,
    ) -> None:
        super().__init__(pool, schema, topic, clock)
        self.keys = keys or KeyStore()

    async def append_many(
        self,
        appends: Sequence[tuple[str, int, Sequence[NewEvent]]],
        meta: Metadata,
        *,
        conn: Connection | None = None,
    ) -> list[list[Envelope]]:
        """Seal, then append as `EventStore.append_many` (in one transaction with the keys).

        Returns the events as stored, that is sealed."""
        if conn is None:
            async with self.pool.acquire() as own, own.transaction():
                return await self.append_many(appends, meta, conn=own)
        sealed = await seal_payloads(conn, self.keys, appends)
        return await super().append_many(sealed, meta, conn=conn)

    async def load(self, stream_id: str, *, conn: Connection | None = None) -> list[Envelope]:
        """The stream's events as `EventStore.load`, their personal values opened."""
        if conn is None:
            async with self.pool.acquire() as own:
                return await self.load(stream_id, conn=own)
        return await open_payloads(conn, self.keys, await super().load(stream_id, conn=conn))
