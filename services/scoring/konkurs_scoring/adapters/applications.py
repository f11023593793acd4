"""Scoring's copies of the applications, in its `applications` table, and their content as
an expert or an operator reads it."""

from __future__ import annotations

from typing import Any

from google.protobuf.json_format import MessageToDict

from konkurs.intake.v1 import application_pb2
from konkurs_platform.db import Connection, check_schema_name
from konkurs_scoring.domain.applications import KnownApplication, ParticipantKind

_COLUMNS = (
    "application_id, call_id, stream_version, registration_number, region_code, "
    "coordinator_bin, participant_bins, participant_kinds, document_kinds, primary_oked_code, "
    "content, withdrawn, submitted_at"
)


class PostgresApplicationBook:
    """`app.ports.ApplicationBook` in PostgreSQL."""

    def __init__(self, schema: str) -> None:
        s = check_schema_name(schema)
        # The stream version keeps a replayed older event from replacing a newer one.
        self._keep_sql = f"""
            INSERT INTO {s}.applications ({_COLUMNS})
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
            ON CONFLICT (application_id) DO UPDATE SET
                stream_version = excluded.stream_version,
                region_code = excluded.region_code,
                coordinator_bin = excluded.coordinator_bin,
                participant_bins = excluded.participant_bins,
                participant_kinds = excluded.participant_kinds,
                document_kinds = excluded.document_kinds,
                primary_oked_code = excluded.primary_oked_code,
                content = excluded.content, withdrawn = excluded.withdrawn, updated_at = now()
            WHERE {s}.applications.stream_version < excluded.stream_version"""
        self._get_sql = f"SELECT {_COLUMNS} FROM {s}.applications WHERE application_id = $1"
        self._of_call_sql = (
            f"SELECT {_COLUMNS} FROM {s}.applications WHERE call_id = $1 "
            "ORDER BY registration_number, application_id"
        )
        self._lock_key = f"{s}.call:"

    async def get(self, conn: Connection, application_id: str) -> KnownApplication | None:
        row = await conn.fetchrow(self._get_sql, application_id)
        return None if row is None else _known(row)

    async def of_call(self, conn: Connection, call_id: str) -> list[KnownApplication]:
        return [_known(r) for r in await conn.fetch(self._of_call_sql, call_id)]

    async def keep(self, conn: Connection, application: KnownApplication) -> None:
        a = application
        await conn.execute(
            self._keep_sql,
            a.application_id,
            a.call_id,
            a.version,
            a.registration_number,
            a.region_code,
            a.coordinator_bin,
            list(a.participant_bins),
            [k.value for k in a.participant_kinds],
            list(a.document_kinds),
            a.primary_oked_code,
            a.content,
            a.withdrawn,
            a.submitted_at,
        )

    async def lock_call(self, conn: Connection, call_id: str) -> None:
        # A transaction-scoped advisory lock: released at commit or rollback, so a killed
        # worker never leaves it held.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self._lock_key + call_id)


def _known(row: Any) -> KnownApplication:
    return KnownApplication(
        application_id=row["application_id"],
        call_id=row["call_id"],
        registration_number=row["registration_number"],
        region_code=row["region_code"],
        coordinator_bin=row["coordinator_bin"],
        participant_bins=tuple(row["participant_bins"]),
        content=bytes(row["content"]),
        withdrawn=row["withdrawn"],
        submitted_at=row["submitted_at"],
        version=row["stream_version"],
        participant_kinds=tuple(ParticipantKind(k) for k in row["participant_kinds"]),
        document_kinds=tuple(row["document_kinds"]),
        primary_oked_code=row["primary_oked_code"],
    )


def content_view(application: KnownApplication, *, blind: bool) -> dict[str, Any]:
    """The application's latest content as JSON. Blind: without the applicant's names and
    BINs (the cluster's, the coordinator's, the participants') and without the contact,
    so an expert judges the content alone. The contact is never shown: it is personal data
    scoring has no use for, and stays sealed as intake published it."""
    content = application_pb2.ApplicationContent.FromString(application.content)
    content.ClearField("contact")
    if blind:
        content.cluster.ClearField("name")
        content.ClearField("coordinator")
        for participant in content.participants:
            participant.ClearField("bin")
            participant.ClearField("name")
    view = MessageToDict(content, preserving_proto_field_name=True)
    head: dict[str, Any] = {"application_id": application.application_id}
    if not blind:
        head["registration_number"] = application.registration_number
    return {**head, "call_id": application.call_id, "blind": blind, "content": view}
