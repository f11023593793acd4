"""The audit trail: every event of every service in one append-only SHA-256 hash chain.

hash(n) = SHA-256(hash(n-1) || envelope bytes of event n, exactly as read from Kafka), with
hash(0) = 32 zero bytes. Sequence numbers are gapless and assigned in the order events are
appended; the `audit_chain_head` row is locked for the append, in the projector's transaction
that also stores the Kafka offsets, so several projector processes build one chain and an
event enters it exactly once (a duplicate publication is recognised by its event id).

The log is not a read model: it is never rebuilt. Its rows hold the bytes as they were
received, so rebuilding would only reproduce them, and replacing the legal record by a copy
would make the copy, not the record, what the chain vouches for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from konkurs_platform.db import Connection
from konkurs_platform.envelope import Envelope, EnvelopeError, decode_envelope
from konkurs_readside.storable import storable_envelope

GENESIS = bytes(32)

_COLUMNS = (
    "seq",
    "event_id",
    "stream_id",
    "stream_version",
    "event_type",
    "occurred_at",
    "recorded_at",
    "actor_subject",
    "actor_role",
    "actor_organisation",
    "actor_region",
    "correlation_id",
    "causation_id",
    "imported",
    "topic",
    "kafka_partition",
    "kafka_offset",
    "envelope",
    "prev_hash",
    "hash",
)


def link(prev_hash: bytes, envelope: bytes) -> bytes:
    """The hash of the link that follows `prev_hash` and holds `envelope`."""
    return hashlib.sha256(prev_hash + envelope).digest()


@dataclass(frozen=True)
class Received:
    """An event as it came from Kafka: its exact bytes, their decoding, and where it was."""

    raw: bytes
    envelope: Envelope
    topic: str
    partition: int
    offset: int


async def append(conn: Connection, schema: str, events: Sequence[Received]) -> int:
    """Append the events not yet in the log, in order; returns how many were appended.

    Must run in the caller's transaction: the head stays locked until it commits, which is
    what keeps concurrent appenders from forking the chain.
    """
    if not events:
        return 0
    head = await conn.fetchrow(f"SELECT seq, hash FROM {schema}.audit_chain_head FOR UPDATE")
    assert head is not None, "the chain head row is created by the migration"
    seq, prev = int(head["seq"]), bytes(head["hash"])
    # Checked under the head lock, so no other appender can add one of these meanwhile.
    present = {
        r["event_id"]
        for r in await conn.fetch(
            f"SELECT event_id FROM {schema}.audit_log WHERE event_id = ANY($1::uuid[])",
            [r.envelope.event_id for r in events],
        )
    }
    records: list[tuple[Any, ...]] = []
    for r in events:
        # The columns hold what text can store (NUL becomes U+FFFD); `envelope` the exact bytes.
        e = storable_envelope(r.envelope)
        if e.event_id in present:
            continue
        present.add(e.event_id)
        seq += 1
        digest = link(prev, r.raw)
        records.append(
            (
                seq,
                e.event_id,
                e.stream_id,
                e.stream_version,
                e.event_type,
                e.occurred_at,
                e.recorded_at,
                e.actor.subject,
                e.actor.role,
                e.actor.organisation,
                e.actor.region,
                e.correlation_id,
                e.causation_id,
                e.imported,
                r.topic,
                r.partition,
                r.offset,
                r.raw,
                prev,
                digest,
            )
        )
        prev = digest
    if records:
        # COPY: an initial load of the whole history appends millions of rows.
        await conn.copy_records_to_table(
            "audit_log", schema_name=schema, columns=_COLUMNS, records=records
        )
        await conn.execute(f"UPDATE {schema}.audit_chain_head SET seq = $1, hash = $2", seq, prev)
    return len(records)


@dataclass(frozen=True)
class Verification:
    """The outcome of recomputing the chain: `broken_at` is None when every link holds."""

    checked: int
    head_seq: int
    broken_at: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None

    def as_dict(self) -> dict[str, Any]:
        """The JSON answer of `GET /v1/audit/verify`."""
        out: dict[str, Any] = {"ok": self.ok, "checked": self.checked, "head_seq": self.head_seq}
        if not self.ok:
            out["first_broken_link"] = {"seq": self.broken_at, "reason": self.reason}
        return out


# The columns copied out of the envelope: changing one without the bytes is tampering too.
def _column_mismatch(row: asyncpg.Record, e: Envelope) -> str | None:
    expected = {
        "event_id": e.event_id,
        "stream_id": e.stream_id,
        "stream_version": e.stream_version,
        "event_type": e.event_type,
        "occurred_at": e.occurred_at,
        "recorded_at": e.recorded_at,
        "actor_subject": e.actor.subject,
        "actor_role": e.actor.role,
        "actor_organisation": e.actor.organisation,
        "actor_region": e.actor.region,
        "correlation_id": e.correlation_id,
        "causation_id": e.causation_id,
        "imported": e.imported,
    }
    for name, value in expected.items():
        if row[name] != value:
            return f"column {name} differs from the envelope's bytes"
    return None


async def verify(conn: Connection, schema: str, *, batch: int = 5000) -> Verification:
    """Recompute the whole chain in sequence order and report its first broken link.

    A changed envelope shows as a hash that does not match its bytes; a deleted row as a gap
    in the sequence; swapped or inserted rows as a `prev_hash` that is not the hash before
    it; removed newest rows as a head that the last row does not reach.
    """
    expected_seq, prev, checked = 1, GENESIS, 0
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        head = await conn.fetchrow(f"SELECT seq, hash FROM {schema}.audit_chain_head")
        assert head is not None, "the chain head row is created by the migration"
        head_seq = int(head["seq"])

        def broken(seq: int, reason: str) -> Verification:
            return Verification(checked, head_seq, seq, reason)

        cursor = conn.cursor(
            f"SELECT {', '.join(_COLUMNS)} FROM {schema}.audit_log ORDER BY seq", prefetch=batch
        )
        async for row in cursor:
            seq = int(row["seq"])
            if seq != expected_seq:
                return broken(expected_seq, f"sequence gap: link {expected_seq} is missing")
            if bytes(row["prev_hash"]) != prev:
                return broken(seq, "prev_hash is not the hash of the link before it")
            raw = bytes(row["envelope"])
            digest = link(prev, raw)
            if bytes(row["hash"]) != digest:
                return broken(seq, "hash does not match the link's envelope bytes")
            try:
                mismatch = _column_mismatch(row, storable_envelope(decode_envelope(raw)))
            except EnvelopeError as exc:
                mismatch = f"envelope bytes do not decode: {exc}"
            if mismatch:
                return broken(seq, mismatch)
            prev, checked, expected_seq = digest, checked + 1, seq + 1
        if head_seq > checked:
            return broken(checked + 1, f"links {checked + 1} to {head_seq} of the head are missing")
        if head_seq < checked:
            return broken(head_seq + 1, f"links after the chain head (link {head_seq}) were added")
        if bytes(head["hash"]) != prev:
            return broken(head_seq, "the chain head's hash is not the last link's")
    return Verification(checked, head_seq)


async def stream_history(conn: Connection, schema: str, stream_id: str) -> list[asyncpg.Record]:
    """Every audited event of one aggregate, in stream order."""
    return list(
        await conn.fetch(
            f"SELECT {', '.join(_COLUMNS)} FROM {schema}.audit_log "
            "WHERE stream_id = $1 ORDER BY stream_version, seq",
            stream_id,
        )
    )
