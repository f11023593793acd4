"""The commission's tables of what it learned from intake and scoring, and of the upheld
appeals waiting for a new ranking."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from konkurs_platform.db import Connection, check_schema_name


@dataclass(frozen=True)
class KnownCall:
    call_id: str
    version: int
    quota: int
    time_zone: str


@dataclass(frozen=True)
class KnownApplication:
    application_id: str
    call_id: str
    version: int
    registration_number: str
    cluster_name: str
    region_code: str
    coordinator_bin: str
    participant_bins: tuple[str, ...]
    withdrawn: bool = False


@dataclass(frozen=True)
class RankedEntry:
    rank: int
    application_id: str
    registration_number: str
    fundable: bool
    failed_thresholds: tuple[str, ...]
    overall: str


@dataclass(frozen=True)
class KnownRanking:
    call_id: str
    version: int
    event_id: uuid.UUID
    content_hash: str
    published_at: datetime
    entries: tuple[RankedEntry, ...]


@dataclass(frozen=True)
class Reconsideration:
    appeal_id: str
    call_id: str
    application_id: str
    ranking_version: int


class Book:
    """What the commission knows, in its schema's tables. Every write is idempotent: an
    older revision never replaces a newer one, a ranking version is kept once."""

    def __init__(self, schema: str) -> None:
        self.s = check_schema_name(schema)

    async def keep_call(self, conn: Connection, call: KnownCall) -> None:
        await conn.execute(
            f"""INSERT INTO {self.s}.calls (call_id, stream_version, quota, time_zone)
                VALUES ($1, $2, $3, $4)
                ON CONFLICT (call_id) DO UPDATE SET stream_version = excluded.stream_version,
                    quota = excluded.quota, time_zone = excluded.time_zone
                WHERE {self.s}.calls.stream_version < excluded.stream_version""",
            call.call_id,
            call.version,
            call.quota,
            call.time_zone,
        )

    async def call(self, conn: Connection, call_id: str) -> KnownCall | None:
        row = await conn.fetchrow(
            f"SELECT call_id, stream_version, quota, time_zone FROM {self.s}.calls "
            "WHERE call_id = $1",
            call_id,
        )
        return None if row is None else KnownCall(*row.values())

    async def keep_application(self, conn: Connection, a: KnownApplication) -> None:
        await conn.execute(
            f"""INSERT INTO {self.s}.applications (application_id, call_id, stream_version,
                    registration_number, cluster_name, region_code, coordinator_bin,
                    participant_bins, withdrawn)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                ON CONFLICT (application_id) DO UPDATE SET
                    stream_version = excluded.stream_version,
                    registration_number = excluded.registration_number,
                    cluster_name = excluded.cluster_name, region_code = excluded.region_code,
                    coordinator_bin = excluded.coordinator_bin,
                    participant_bins = excluded.participant_bins, withdrawn = excluded.withdrawn
                WHERE {self.s}.applications.stream_version < excluded.stream_version""",
            a.application_id,
            a.call_id,
            a.version,
            a.registration_number,
            a.cluster_name,
            a.region_code,
            a.coordinator_bin,
            list(a.participant_bins),
            a.withdrawn,
        )

    async def application(self, conn: Connection, application_id: str) -> KnownApplication | None:
        row = await conn.fetchrow(
            f"""SELECT application_id, call_id, stream_version, registration_number,
                    cluster_name, region_code, coordinator_bin, participant_bins, withdrawn
                FROM {self.s}.applications WHERE application_id = $1""",
            application_id,
        )
        if row is None:
            return None
        values = list(row.values())
        values[7] = tuple(values[7])
        return KnownApplication(*values)

    async def keep_ranking(self, conn: Connection, r: KnownRanking) -> bool:
        """Keep a ranking version; False if it was kept already."""
        entries = [
            {
                "rank": e.rank,
                "application_id": e.application_id,
                "registration_number": e.registration_number,
                "fundable": e.fundable,
                "failed_thresholds": list(e.failed_thresholds),
                "overall": e.overall,
            }
            for e in r.entries
        ]
        status = await conn.execute(
            f"""INSERT INTO {self.s}.rankings
                    (call_id, ranking_version, event_id, content_hash, published_at, entries)
                VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT DO NOTHING""",
            r.call_id,
            r.version,
            r.event_id,
            r.content_hash,
            r.published_at,
            json.dumps(entries),
        )
        return status.endswith(" 1")

    async def ranking(
        self, conn: Connection, call_id: str, version: int | None = None
    ) -> KnownRanking | None:
        """The ranking `version` of the call, or its latest."""
        row = await conn.fetchrow(
            f"""SELECT call_id, ranking_version, event_id, content_hash, published_at, entries
                FROM {self.s}.rankings WHERE call_id = $1
                AND ($2::integer IS NULL OR ranking_version = $2)
                ORDER BY ranking_version DESC LIMIT 1""",
            call_id,
            version,
        )
        if row is None:
            return None
        entries = tuple(
            RankedEntry(
                e["rank"],
                e["application_id"],
                e["registration_number"],
                e["fundable"],
                tuple(e["failed_thresholds"]),
                e["overall"],
            )
            for e in json.loads(row["entries"])
        )
        return KnownRanking(
            row["call_id"],
            row["ranking_version"],
            row["event_id"],
            row["content_hash"],
            row["published_at"],
            entries,
        )

    async def keep_meeting(self, conn: Connection, meeting_id: str, call_id: str) -> None:
        await conn.execute(
            f"INSERT INTO {self.s}.meetings (meeting_id, call_id) VALUES ($1, $2) "
            "ON CONFLICT DO NOTHING",
            meeting_id,
            call_id,
        )

    async def meetings_of(self, conn: Connection, call_id: str) -> list[str]:
        """The call's meetings, locked, so that two schedulings count the places in turn."""
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"meetings:{call_id}")
        rows = await conn.fetch(
            f"SELECT meeting_id FROM {self.s}.meetings WHERE call_id = $1 ORDER BY meeting_id",
            call_id,
        )
        return [r["meeting_id"] for r in rows]

    async def await_ranking(self, conn: Connection, r: Reconsideration) -> None:
        """An upheld appeal waits for a ranking newer than `r.ranking_version`."""
        await conn.execute(
            f"""INSERT INTO {self.s}.reconsiderations
                    (appeal_id, call_id, application_id, ranking_version)
                VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
            r.appeal_id,
            r.call_id,
            r.application_id,
            r.ranking_version,
        )

    async def waiting(self, conn: Connection, call_id: str, version: int) -> list[Reconsideration]:
        """The upheld appeals of the call that a ranking `version` answers, locked."""
        rows = await conn.fetch(
            f"""SELECT appeal_id, call_id, application_id, ranking_version
                FROM {self.s}.reconsiderations
                WHERE call_id = $1 AND ranking_version < $2 AND meeting_id IS NULL
                ORDER BY appeal_id FOR UPDATE""",
            call_id,
            version,
        )
        return [Reconsideration(*r.values()) for r in rows]

    async def put_on_agenda(self, conn: Connection, appeal_ids: list[str], meeting_id: str) -> None:
        await conn.execute(
            f"UPDATE {self.s}.reconsiderations SET meeting_id = $2 WHERE appeal_id = ANY($1)",
            appeal_ids,
            meeting_id,
        )
