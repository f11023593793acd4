"""The dashboard's figures, read from the read models (and the audit log) in one place.

Every figure is counted in SQL from the same tables the JSON API reads, so a page and the API
agree; nothing here is cached. Names of people are selected only when the caller asks for
them (`people=True`), so a page for an analyst never has them in hand.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any

from konkurs_platform.db import Connection
from konkurs_readside.dashboard.i18n import section_of

# The streams that concern one application: each service keys its per-application
# aggregates `<kind>-<application id>` (application-, screening-, assignment-, evaluation-).
_STREAM_SUFFIX = "right(stream_id, length($1) + 1) = '-' || $1"


_CONTACT = "a.contact_name, a.contact_phone, a.contact_email"
_NO_CONTACT = "NULL AS contact_name, NULL AS contact_phone, NULL AS contact_email"


@dataclass(frozen=True)
class Funnel:
    """How far a call's applications came; `None` where the stage's service has no read
    model yet (the commission's selection, the plans)."""

    received: int
    withdrawn: int
    eligible: int
    evaluated: int
    fundable: int | None
    selected: int | None = None
    plans_on_track: int | None = None
    plans: int | None = None


@dataclass(frozen=True)
class RegionRow:
    region_code: str
    received: int
    eligible: int
    fundable: int


@dataclass(frozen=True)
class SectorRow:
    section: str
    applications: int


@dataclass(frozen=True)
class ApplicationRow:
    application_id: str
    registration_number: str
    cluster_name: str
    region_code: str
    status: str
    eligible: bool | None
    participant_count: int
    requested_support_minor: int
    currency: str
    contact: tuple[str, str, str] | None


@dataclass(frozen=True)
class Overview:
    call: Any
    funnel: Funnel
    by_region: list[RegionRow]
    by_sector: list[SectorRow]
    applications: list[ApplicationRow]
    # Demo data built from public figures is marked so, and the page says it.
    illustrative: bool


async def calls(conn: Connection, schema: str) -> list[Any]:
    """Every call, the latest window first."""
    return list(
        await conn.fetch(
            f"SELECT call_id, title_ru, title_kk, title_en, opens_at, closes_at, time_zone, "
            f"quota, status FROM {schema}.calls ORDER BY opens_at DESC, call_id"
        )
    )


async def call(conn: Connection, schema: str, call_id: str) -> Any:
    """The call, or None when the read model has not seen it."""
    return await conn.fetchrow(f"SELECT * FROM {schema}.calls WHERE call_id = $1", call_id)


async def _latest_ranking_version(conn: Connection, schema: str, call_id: str) -> int | None:
    version: int | None = await conn.fetchval(
        f"SELECT max(ranking_version) FROM {schema}.rankings WHERE call_id = $1", call_id
    )
    return version


async def overview(conn: Connection, schema: str, call_row: Any, *, people: bool) -> Overview:
    """The funnel, the applications by region and by sector, and the list of applications
    (with the contact person only when `people`)."""
    call_id = call_row["call_id"]
    version = await _latest_ranking_version(conn, schema, call_id)
    rows = await conn.fetch(
        f"""SELECT a.application_id, a.registration_number, a.cluster_name, a.region_code,
                   a.status, a.specialisation, a.participant_count, a.requested_support_minor,
                   a.currency, a.illustrative, s.eligible, e.final AS evaluated, r.fundable,
                   {_CONTACT if people else _NO_CONTACT}
            FROM {schema}.applications a
            LEFT JOIN {schema}.screening s USING (application_id)
            LEFT JOIN {schema}.evaluations e USING (application_id)
            LEFT JOIN {schema}.ranking_entries r
                ON r.application_id = a.application_id AND r.call_id = a.call_id
               AND r.ranking_version = $2
            WHERE a.call_id = $1
            ORDER BY a.registration_number, a.application_id""",
        call_id,
        version,
    )
    active = [r for r in rows if r["status"] != "withdrawn"]
    funnel = Funnel(
        received=len(rows),
        withdrawn=len(rows) - len(active),
        eligible=sum(1 for r in active if r["eligible"]),
        evaluated=sum(1 for r in active if r["evaluated"]),
        fundable=sum(1 for r in active if r["fundable"]) if version is not None else None,
    )
    regions: dict[str, list[int]] = {}
    for r in rows:
        counts = regions.setdefault(r["region_code"], [0, 0, 0])
        counts[0] += 1
        counts[1] += 1 if r["eligible"] and r["status"] != "withdrawn" else 0
        counts[2] += 1 if r["fundable"] and r["status"] != "withdrawn" else 0
    sectors: Counter[str] = Counter()
    for r in rows:
        # An application of several sections counts once in each of them.
        sectors.update({section_of(code) for code in r["specialisation"]})
    return Overview(
        call=call_row,
        funnel=funnel,
        by_region=[
            RegionRow(code, *counts)
            for code, counts in sorted(regions.items(), key=lambda kv: (-kv[1][0], kv[0]))
        ],
        by_sector=[
            SectorRow(s, n) for s, n in sorted(sectors.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        applications=[
            ApplicationRow(
                application_id=r["application_id"],
                registration_number=r["registration_number"],
                cluster_name=r["cluster_name"],
                region_code=r["region_code"],
                status=r["status"],
                eligible=r["eligible"],
                participant_count=r["participant_count"],
                requested_support_minor=r["requested_support_minor"],
                currency=r["currency"],
                contact=(
                    (r["contact_name"], r["contact_phone"], r["contact_email"]) if people else None
                ),
            )
            for r in rows
        ],
        illustrative=any(r["illustrative"] for r in rows),
    )


@dataclass(frozen=True)
class Distribution:
    """One criterion's scores over the ranked applications."""

    criterion_id: str
    count: int
    lowest: float
    median: float
    mean: float
    highest: float
    # Applications per whole point: bins[n] holds scores in [n, n + 1).
    bins: dict[int, int]


@dataclass(frozen=True)
class RankedEntry:
    rank: int
    application_id: str
    registration_number: str
    cluster_name: str | None
    scores: dict[str, float]
    overall: Fraction
    fundable: bool
    failed_thresholds: list[str]


@dataclass(frozen=True)
class ConsensusCase:
    application_id: str
    registration_number: str | None
    round: int
    divergences: list[dict[str, Any]]
    rapporteur: str | None
    recorded: bool
    final: bool


@dataclass(frozen=True)
class Evaluation:
    ranking: Any
    criteria: list[str]
    entries: list[RankedEntry]
    distributions: list[Distribution]
    consensus: list[ConsensusCase] = field(default_factory=list)


def _value(score: dict[str, Any]) -> float:
    return float(Fraction(score["numerator"], score["denominator"]))


async def evaluation(conn: Connection, schema: str, call_id: str, *, people: bool) -> Evaluation:
    """The latest ranking with each entry's scores, the distribution of each criterion's
    scores over it, and every consensus case of the call (the rapporteur named only when
    `people`)."""
    version = await _latest_ranking_version(conn, schema, call_id)
    head = None
    entries: list[RankedEntry] = []
    criteria: list[str] = []
    if version is not None:
        head = await conn.fetchrow(
            f"SELECT * FROM {schema}.rankings WHERE call_id = $1 AND ranking_version = $2",
            call_id,
            version,
        )
        assert head is not None  # the version was just read from the same table
        criteria = list(head["criteria"])
        for r in await conn.fetch(
            f"""SELECT r.*, a.cluster_name FROM {schema}.ranking_entries r
                LEFT JOIN {schema}.applications a USING (application_id)
                WHERE r.call_id = $1 AND r.ranking_version = $2 ORDER BY r.rank""",
            call_id,
            version,
        ):
            entries.append(
                RankedEntry(
                    rank=r["rank"],
                    application_id=r["application_id"],
                    registration_number=r["registration_number"],
                    cluster_name=r["cluster_name"],
                    scores={s["criterion_id"]: _value(s) for s in json.loads(r["scores"])},
                    overall=Fraction(r["overall_numerator"], r["overall_denominator"]),
                    fundable=r["fundable"],
                    failed_thresholds=list(r["failed_thresholds"]),
                )
            )
    distributions = []
    for criterion in criteria:
        values = [e.scores[criterion] for e in entries if criterion in e.scores]
        if values:
            distributions.append(
                Distribution(
                    criterion_id=criterion,
                    count=len(values),
                    lowest=min(values),
                    median=statistics.median(values),
                    mean=statistics.fmean(values),
                    highest=max(values),
                    bins=dict(sorted(Counter(int(v) for v in values).items())),
                )
            )
    cases = [
        ConsensusCase(
            application_id=r["application_id"],
            registration_number=r["registration_number"],
            round=r["round"],
            divergences=json.loads(r["divergences"]),
            rapporteur=r["rapporteur"] if people else None,
            recorded=r["consensus_recorded"],
            final=r["final"],
        )
        for r in await conn.fetch(
            f"""SELECT e.application_id, a.registration_number, e.round, e.divergences,
                       e.rapporteur, e.consensus_recorded, e.final
                FROM {schema}.evaluations e
                LEFT JOIN {schema}.applications a USING (application_id)
                WHERE e.call_id = $1 AND e.consensus_required
                ORDER BY a.registration_number, e.application_id""",
            call_id,
        )
    ]
    return Evaluation(head, criteria, entries, distributions, cases)


async def application_history(conn: Connection, schema: str, application_id: str) -> list[Any]:
    """Every audited event of every stream of the application, in the audit log's order."""
    return list(
        await conn.fetch(
            f"SELECT * FROM {schema}.audit_log WHERE {_STREAM_SUFFIX} ORDER BY seq",
            application_id,
        )
    )


async def last_projected(conn: Connection, schema: str) -> datetime | None:
    """When the projector last applied an event (the audit log's newest row, written in the
    transaction of the read models')."""
    value: datetime | None = await conn.fetchval(
        f"SELECT appended_at FROM {schema}.audit_log ORDER BY seq DESC LIMIT 1"
    )
    return value
