"""The `applications` read models: the latest state of each application, its content
revisions, and the registration journal of each call.

A batch is applied in three statements whatever its size: the rows of the applications it
touches are read once, its events are folded onto them in memory, and the results are
written with one `executemany` per table. Idempotent per event: a row remembers the stream
version it reflects and an event at or below it (a duplicate the relay published twice) is
ignored, so neither the fold nor the revisions nor the journal see it twice.

The contact person is personal data, sealed in the events per person
(`konkurs_platform.personal`). The batch opens it with the key store's keys, holding the
subjects' erasures off until it commits; a subject erased before shows `ERASED`. The
privacy service's `SubjectErased` then puts `ERASED` in place of the contact in the rows
and revisions that hold it, so the read model keeps clear personal data exactly as long as
the key exists, and a rebuild (which finds no key) comes out the same.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from konkurs.intake.v1 import application_pb2, events_pb2
from konkurs.privacy.v1 import events_pb2 as privacy_pb2
from konkurs_platform.db import Connection
from konkurs_platform.envelope import Envelope
from konkurs_platform.personal.keystore import KeyStore
from konkurs_platform.personal.sealing import ERASED
from konkurs_platform.personal.store import open_payloads
from konkurs_readside.projections.rows import message_json
from konkurs_readside.storable import decode_storable

APPLICATION_SUBMITTED = events_pb2.ApplicationSubmitted.DESCRIPTOR.full_name
APPLICATION_AMENDED = events_pb2.ApplicationAmended.DESCRIPTOR.full_name
APPLICATION_WITHDRAWN = events_pb2.ApplicationWithdrawn.DESCRIPTOR.full_name
DOCUMENT_ATTACHED = events_pb2.DocumentAttached.DESCRIPTOR.full_name
SUBJECT_ERASED = privacy_pb2.SubjectErased.DESCRIPTOR.full_name

EVENT_TYPES = frozenset(
    {
        APPLICATION_SUBMITTED,
        APPLICATION_AMENDED,
        APPLICATION_WITHDRAWN,
        DOCUMENT_ATTACHED,
        SUBJECT_ERASED,
    }
)
# The data subject of an application's contact person: `<stream id>/<this path>`.
CONTACT_PATH = "content.contact"
_ERASED_CONTACT = {"name": ERASED, "phone": ERASED, "email": ERASED}
_KEYS = KeyStore()
TABLES = ("applications", "application_revisions", "registration_journal")

SUBMITTED = "submitted"
WITHDRAWN = "withdrawn"
STATUSES = (SUBMITTED, WITHDRAWN)

_COLUMNS = (
    "application_id",
    "stream_id",
    "call_id",
    "registration_number",
    "status",
    "revision",
    "cluster_name",
    "region_code",
    "specialisation",
    "coordinator_bin",
    "coordinator_name",
    "participant_bins",
    "participant_count",
    "currency",
    "requested_support_minor",
    "co_financing_minor",
    "co_financing_share_percent",
    "document_count",
    "contact_name",
    "contact_phone",
    "contact_email",
    "content",
    "illustrative",
    "submitted_at",
    "last_changed_at",
    "withdrawn_at",
    "withdrawal_reason",
    "stream_version",
    "last_event_id",
)


class UnknownApplication(Exception):
    """An event for an application whose submission the read model never saw."""


@dataclass
class _Changes:
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)
    revisions: list[tuple[Any, ...]] = field(default_factory=list)
    journal: list[tuple[Any, ...]] = field(default_factory=list)


def content_json(content: application_pb2.ApplicationContent) -> dict[str, Any]:
    """The content in protobuf's JSON mapping (field names as in the .proto)."""
    return message_json(content)


def _content_columns(content: application_pb2.ApplicationContent) -> dict[str, Any]:
    currencies = {s.amount.currency for s in content.requested_support if s.amount.currency}
    currencies.add(content.co_financing.amount.currency)
    currencies.discard("")
    return {
        "cluster_name": content.cluster.name,
        "region_code": content.cluster.region_code,
        "specialisation": list(content.cluster.specialisation_oked_codes),
        "coordinator_bin": content.coordinator.bin,
        "coordinator_name": content.coordinator.name,
        "participant_bins": [p.bin for p in content.participants],
        "participant_count": len(content.participants),
        # Amounts are only summable in one currency; the programme's calls are in KZT.
        "currency": ",".join(sorted(currencies)),
        "requested_support_minor": sum(s.amount.minor_units for s in content.requested_support),
        "co_financing_minor": content.co_financing.amount.minor_units,
        "co_financing_share_percent": content.co_financing.share_percent,
        "document_count": len(content.documents),
        "contact_name": content.contact.name,
        "contact_phone": content.contact.phone,
        "contact_email": content.contact.email,
        "content": content_json(content),
    }


def _journal_entry(row: dict[str, Any], e: Envelope, entry: str, detail: str) -> tuple[Any, ...]:
    return (
        row["call_id"],
        row["application_id"],
        e.stream_version,
        row["registration_number"],
        entry,
        row["region_code"],
        row["coordinator_bin"],
        row["participant_bins"],
        row["cluster_name"],
        detail,
        e.event_id,
        e.occurred_at,
        e.recorded_at,
        e.actor.subject,
        e.actor.role,
    )


def _revision(row: dict[str, Any], e: Envelope) -> tuple[Any, ...]:
    return (
        row["application_id"],
        row["revision"],
        e.stream_version,
        e.event_id,
        e.occurred_at,
        e.actor.subject,
        e.actor.role,
        _content_text(row),
    )


def _content_text(row: dict[str, Any]) -> str:
    """The row's content as JSON text, encoded once though the row and its revision both
    store it (the cache holds the content object it was made from: a change replaces it)."""
    content = row["content"]
    cached = row.get("_content_text")
    if cached is None or cached[0] is not content:
        cached = row["_content_text"] = (content, json.dumps(content))
    text: str = cached[1]
    return text


def _fold(changes: _Changes, e: Envelope, msg: Any) -> None:
    """Apply one event (`msg` is its decoded payload) to the rows in memory."""
    if isinstance(msg, events_pb2.ApplicationSubmitted):
        submitted = msg
        app_id = submitted.application_id
        existing = changes.rows.get(app_id)
        if existing is not None and existing["stream_version"] >= e.stream_version:
            return
        row = {
            "application_id": app_id,
            "stream_id": e.stream_id,
            "call_id": submitted.call_id,
            "registration_number": submitted.registration_number,
            "status": SUBMITTED,
            "revision": 1,
            **_content_columns(submitted.content),
            "illustrative": submitted.illustrative,
            "submitted_at": e.occurred_at,
            "withdrawn_at": None,
            "withdrawal_reason": None,
        }
        changes.rows[app_id] = row
        changes.revisions.append(_revision(row, e))
        entry, detail = "submitted", ""
    else:
        app_id = msg.application_id
        found = changes.rows.get(app_id)
        if found is None:
            raise UnknownApplication(f"{e.event_type} for unknown application {app_id!r}")
        row = found
        if row["stream_version"] >= e.stream_version:
            return
        if isinstance(msg, events_pb2.ApplicationAmended):
            row.update(_content_columns(msg.content), revision=msg.revision)
            changes.revisions.append(_revision(row, e))
            entry, detail = "amended", f"revision {msg.revision}"
        elif isinstance(msg, events_pb2.ApplicationWithdrawn):
            row.update(status=WITHDRAWN, withdrawn_at=e.occurred_at, withdrawal_reason=msg.reason)
            entry, detail = "withdrawn", msg.reason
        else:
            document = message_json(msg.document)
            row["content"] = {**row["content"]}
            row["content"]["documents"] = [*row["content"].get("documents", []), document]
            row["document_count"] += 1
            entry, detail = "document_attached", f"{msg.document.kind}: {msg.document.filename}"
    row.update(stream_version=e.stream_version, last_event_id=e.event_id)
    row["last_changed_at"] = e.occurred_at
    changes.changed.add(app_id)
    changes.journal.append(_journal_entry(row, e, entry, detail))


_MESSAGES: dict[str, Any] = {
    APPLICATION_SUBMITTED: events_pb2.ApplicationSubmitted,
    APPLICATION_AMENDED: events_pb2.ApplicationAmended,
    APPLICATION_WITHDRAWN: events_pb2.ApplicationWithdrawn,
    DOCUMENT_ATTACHED: events_pb2.DocumentAttached,
}


def _decode(e: Envelope) -> Any:
    return decode_storable(_MESSAGES[e.event_type], e.payload)


async def apply_batch(conn: Connection, schema: str, events: Sequence[Envelope]) -> None:
    """Fold `events` onto the applications they touch and write the results; then erase
    the contacts of the subjects the batch's `SubjectErased` events name."""
    erased = [e for e in events if e.event_type == SUBJECT_ERASED]
    opened = await open_payloads(
        conn, _KEYS, [e for e in events if e.event_type != SUBJECT_ERASED], hold=True
    )
    await _apply_application_events(conn, schema, opened)
    if erased:
        await _erase_contacts(conn, schema, erased)


async def _erase_contacts(conn: Connection, schema: str, events: Sequence[Envelope]) -> None:
    """`ERASED` in place of the contacts of the erased subjects, in every row and revision.

    Idempotent, and independent of order: an application projected after the erasure opened
    no key, and shows `ERASED` already."""
    streams = []
    for e in events:
        stream_id, _, path = decode_storable(
            privacy_pb2.SubjectErased, e.payload
        ).subject_id.rpartition("/")
        if path == CONTACT_PATH:
            streams.append(stream_id)
    if not streams:
        return
    erased_json = json.dumps(_ERASED_CONTACT)
    ids = await conn.fetch(
        f"""UPDATE {schema}.applications SET contact_name = $2, contact_phone = $2,
                contact_email = $2,
                content = CASE WHEN content ? 'contact'
                    THEN jsonb_set(content, '{{contact}}', $3::jsonb) ELSE content END
            WHERE stream_id = ANY($1) RETURNING application_id""",
        sorted(streams),
        ERASED,
        erased_json,
    )
    await conn.execute(
        f"""UPDATE {schema}.application_revisions
            SET content = jsonb_set(content, '{{contact}}', $2::jsonb)
            WHERE application_id = ANY($1) AND content ? 'contact'""",
        sorted(r["application_id"] for r in ids),
        erased_json,
    )


async def _apply_application_events(
    conn: Connection, schema: str, events: Sequence[Envelope]
) -> None:
    if not events:
        return
    decoded = [(e, _decode(e)) for e in events]
    ids = sorted({msg.application_id for _, msg in decoded})
    rows = await conn.fetch(
        f"SELECT {', '.join(_COLUMNS)} FROM {schema}.applications WHERE application_id = ANY($1)",
        ids,
    )
    changes = _Changes()
    for r in rows:
        row = dict(r)
        row["content"] = json.loads(row["content"])
        changes.rows[row["application_id"]] = row
    for e, msg in decoded:
        _fold(changes, e, msg)
    if changes.changed:
        columns = ", ".join(_COLUMNS)
        values = ", ".join(f"${i}" for i in range(1, len(_COLUMNS) + 1))
        updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:])
        await conn.executemany(
            f"""INSERT INTO {schema}.applications ({columns}) VALUES ({values})
                ON CONFLICT (application_id) DO UPDATE SET {updates}
                WHERE {schema}.applications.stream_version < excluded.stream_version""",
            [
                tuple(
                    _content_text(changes.rows[i]) if c == "content" else changes.rows[i][c]
                    for c in _COLUMNS
                )
                for i in sorted(changes.changed)
            ],
        )
    if changes.revisions:
        await conn.executemany(
            f"""INSERT INTO {schema}.application_revisions (application_id, revision,
                    stream_version, event_id, occurred_at, actor_subject, actor_role, content)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING""",
            changes.revisions,
        )
    if changes.journal:
        await conn.executemany(
            f"""INSERT INTO {schema}.registration_journal (call_id, application_id,
                    stream_version, registration_number, entry, region_code, coordinator_bin,
                    participant_bins, cluster_name, detail, event_id, occurred_at, recorded_at,
                    actor_subject, actor_role)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
                ON CONFLICT DO NOTHING""",
            changes.journal,
        )
