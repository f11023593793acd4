"""Erasing a data subject, and answering a subject's access request.

An erasure is one transaction: the `SubjectErased` event (and its outbox row) and the key's
destruction with its tombstone commit together, so the event exists exactly when the key is
gone. The readside erases its rows when the event arrives.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from konkurs_platform.db import Connection
from konkurs_platform.domain import NotFound
from konkurs_platform.eventstore import EventStore, Metadata
from konkurs_platform.handler import CommandHandler, Outcome
from konkurs_platform.personal.keystore import KeyStore
from konkurs_platform.personal.sealing import open_text
from konkurs_privacy.adapters.codec import SubjectCodec
from konkurs_privacy.adapters.postgres import PrivacyBook
from konkurs_privacy.domain.subjects import (
    DECIDER,
    EraseSubject,
    Subject,
    SubjectErased,
    subject_stream,
)

# Who may read a subject's personal data, for the access request's document.
READERS = (
    "intake (the operator, and the applicant or regional operator of the application)",
    "readside (operators, regional operators of the region, auditors; never analysts)",
)


class Erasures:
    """Erasure of subjects and their access requests."""

    def __init__(self, store: EventStore, keys: KeyStore, book: PrivacyBook) -> None:
        self.handler: CommandHandler[EraseSubject, Subject, SubjectErased] = CommandHandler(
            store, DECIDER, SubjectCodec()
        )
        self.keys = keys
        self.book = book

    async def handle_erase_subject(
        self, command: EraseSubject, meta: Metadata, conn: Connection
    ) -> Outcome[Subject]:
        """Record the erasure and destroy the key, in the caller's transaction (which a
        refusal must roll back)."""
        outcome = await self.handler.execute(
            subject_stream(command.subject_id), command, meta, conn=conn
        )
        erasure = await self.keys.erase(
            conn,
            command.subject_id,
            erased_by=meta.actor.subject,
            reason=command.reason,
            at=command.now,
            retention_rule=command.retention_rule,
        )
        if erasure is None:
            raise NotFound("unknown-subject", f"konkurs holds no key of {command.subject_id}.")
        return outcome

    async def access_request(
        self, conn: Connection, subject_id: str, now: datetime
    ) -> dict[str, Any]:
        """Everything konkurs holds about the subject, as a document for the operator to
        send: the values (opened while the key exists), where they are recorded, who may
        read them, and every erasure. NotFound for a subject konkurs never saw."""
        record = await self.keys.record(conn, subject_id)
        seen = await self.book.subject(conn, subject_id)
        if seen is None and record.kind is None:
            raise NotFound("unknown-subject", f"konkurs holds nothing about {subject_id}.")
        keys = await self.keys.keys(conn, [subject_id])
        values = {
            path: open_text(keys.get(subject_id), subject_id, field, sealed)
            for path, (field, sealed) in (seen["sealed_values"] if seen else {}).items()
        }
        return {
            "subject_id": subject_id,
            "kind": record.kind,
            "generated_at": now.isoformat(),
            "status": "erased" if record.erased else "held",
            "values": values,
            "recorded_in": {
                "stream_id": seen["stream_id"] if seen else None,
                "call_id": seen["call_id"] if seen else None,
                "first_seen_at": seen["first_seen_at"].isoformat() if seen else None,
                "form": "sealed with the subject's own key (AES-GCM) inside the events",
            },
            "key_created_at": (
                record.key_created_at.isoformat() if record.key_created_at else None
            ),
            "readers": list(READERS) if not record.erased else [],
            "erasures": [
                {
                    "erased_at": e.erased_at.isoformat(),
                    "erased_by": e.erased_by,
                    "reason": e.reason,
                    "retention_rule": e.retention_rule,
                }
                for e in record.erasures
            ],
        }


def as_markdown(document: dict[str, Any]) -> str:
    """The access request's document, readable by the person it is about."""
    lines = [
        f"# Personal data held by konkurs: {document['subject_id']}",
        "",
        f"Generated {document['generated_at']}. Status: **{document['status']}**"
        f" (kind of data: {document['kind']}).",
        "",
        "## Values",
        "",
    ]
    lines += [f"- {path}: {value}" for path, value in document["values"].items()] or ["- none"]
    where = document["recorded_in"]
    lines += [
        "",
        "## Where it is recorded",
        "",
        f"- in the events of {where['stream_id']} (call {where['call_id']}),"
        f" first on {where['first_seen_at']}, {where['form']}",
        "",
        "## Who can read it",
        "",
    ]
    lines += [f"- {r}" for r in document["readers"]] or ["- nobody: the key is destroyed"]
    lines += ["", "## Erasures", ""]
    lines += [
        f"- {e['erased_at']} by {e['erased_by']}: {e['reason']}"
        + (f" (rule {e['retention_rule']})" if e["retention_rule"] else "")
        for e in document["erasures"]
    ] or ["- none"]
    return "\n".join(lines) + "\n"
