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
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from konkurs_platform.db import Connection
from konkurs_readside.api import plans as plans_api
from konkurs_readside.dashboard.i18n import section_of
from konkurs_readside.projections.plan_figures import is_milestone_overdue

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


def _visible_meetings(insider: bool) -> list[str]:
    """The meeting states whose decision the caller may see: published ones are public, one
    decided but not yet published is the commission's and the staff's (as in the API)."""
    return ["decided", "published"] if insider else ["published"]


async def _selected(conn: Connection, schema: str, call_id: str, *, insider: bool) -> int | None:
    """The clusters selected by the call's visible decisions and not replaced since (a
    winner who withdrew and the reserve who took the place count once, as the reserve);
    None before any decision."""
    decided = await conn.fetchval(
        f"SELECT count(*) FROM {schema}.commission_meetings WHERE call_id = $1 "
        "AND status = ANY($2)",
        call_id,
        _visible_meetings(insider),
    )
    if not decided:
        return None
    selected: int = await conn.fetchval(
        f"""SELECT count(DISTINCT c.application_id) FROM {schema}.commission_candidates c
            JOIN {schema}.commission_meetings m USING (meeting_id)
            WHERE m.call_id = $1 AND m.status = ANY($2)
              AND c.outcome = 'selected' AND c.replaced_cause IS NULL""",
        call_id,
        _visible_meetings(insider),
    )
    return selected


async def _plans_on_track(conn: Connection, schema: str, call_id: str) -> dict[str, int | None]:
    """How many of the call's plans are approved (have a status today) and how many of them
    are on track; None for both before any plan is approved."""
    _, progress = await _plan_progress(conn, schema, call_id)
    statuses = [p.status for p in progress if p.status is not None]
    if not statuses:
        return {"plans": None, "plans_on_track": None}
    return {"plans": len(statuses), "plans_on_track": statuses.count("on_track")}


async def _plan_progress(
    conn: Connection, schema: str, call_id: str
) -> tuple[list[Any], list[Any]]:
    """The call's plans and their figures today in their time zone, computed by the plans
    API's own rules (a plan's status and what is overdue depend on the day asked)."""
    rows = list(
        await conn.fetch(
            f"SELECT * FROM {schema}.plans WHERE call_id = $1 "
            "ORDER BY registration_number, plan_id",
            call_id,
        )
    )
    return rows, await plans_api.progress_of(conn, schema, rows, None)


async def _latest_ranking_version(conn: Connection, schema: str, call_id: str) -> int | None:
    version: int | None = await conn.fetchval(
        f"SELECT max(ranking_version) FROM {schema}.rankings WHERE call_id = $1", call_id
    )
    return version


async def overview(
    conn: Connection, schema: str, call_row: Any, *, people: bool, insider: bool
) -> Overview:
    """The funnel, the applications by region and by sector, and the list of applications
    (with the contact person only when `people`; a decision not yet published counts in
    `selected` only for an `insider`)."""
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
        selected=await _selected(conn, schema, call_id, insider=insider),
        **await _plans_on_track(conn, schema, call_id),
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


@dataclass(frozen=True)
class Candidate:
    """A candidate in a decision, with its tally and the reasons given."""

    application_id: str
    registration_number: str
    rank: int
    cluster_name: str
    region_code: str
    overall: str
    fundable: bool
    outcome: str
    tally: dict[str, Any] | None
    rationale: str
    reason: str
    reserve_position: int | None
    from_reserve: bool
    replaced_cause: str | None
    # Who recused and why (insiders), or only how many (everyone else).
    recusals: list[tuple[str, str, bool]]
    recusal_count: int


@dataclass(frozen=True)
class Decision:
    meeting_id: str
    status: str
    decided_at: datetime | None
    published_at: datetime | None
    quorum_required: int | None
    present: int
    quota: int
    ranking_version: int
    candidates: list[Candidate]


async def decisions(
    conn: Connection, schema: str, call_id: str, *, insider: bool
) -> list[Decision]:
    """Every decision of the call the caller may see, in the order taken: the candidates
    decided on with their tallies, rationales (a departure from the ranking) and reasons,
    the reserve list, and the recusals (by member and reason for an `insider`; counted for
    anyone else, for whom the members are not named)."""
    meetings = await conn.fetch(
        f"""SELECT * FROM {schema}.commission_meetings WHERE call_id = $1 AND status = ANY($2)
            ORDER BY coalesce(decided_at, published_at), meeting_id""",
        call_id,
        _visible_meetings(insider),
    )
    ids = [m["meeting_id"] for m in meetings]
    candidates = await conn.fetch(
        f"""SELECT * FROM {schema}.commission_candidates
            WHERE meeting_id = ANY($1) AND outcome IS NOT NULL ORDER BY rank""",
        ids,
    )
    recusals = await conn.fetch(
        f"""SELECT r.meeting_id, r.application_id, r.member_id, r.reason, r.automatic,
                   n.name
            FROM {schema}.commission_recusals r
            JOIN {schema}.commission_meetings m USING (meeting_id)
            LEFT JOIN {schema}.commission_member_names n
                ON n.call_id = m.call_id AND n.member_id = r.member_id
            WHERE r.meeting_id = ANY($1) ORDER BY r.recorded_at, r.member_id""",
        ids,
    )
    out = []
    for m in meetings:
        mine = [c for c in candidates if c["meeting_id"] == m["meeting_id"]]
        out.append(
            Decision(
                meeting_id=m["meeting_id"],
                status=m["status"],
                decided_at=m["decided_at"],
                published_at=m["published_at"],
                quorum_required=m["quorum_required"],
                present=len(m["present_member_ids"]),
                quota=m["quota"],
                ranking_version=m["ranking_version"],
                candidates=[_candidate(m["meeting_id"], c, recusals, insider) for c in mine],
            )
        )
    return out


def _candidate(meeting_id: str, c: Any, recusals: list[Any], insider: bool) -> Candidate:
    theirs = [
        r
        for r in recusals
        if r["meeting_id"] == meeting_id and r["application_id"] == c["application_id"]
    ]
    return Candidate(
        application_id=c["application_id"],
        registration_number=c["registration_number"],
        rank=c["rank"],
        cluster_name=c["cluster_name"],
        region_code=c["region_code"],
        overall=c["overall"],
        fundable=c["fundable"],
        outcome=c["outcome"],
        tally=json.loads(c["tally"]) if c["tally"] is not None else None,
        rationale=c["rationale"],
        reason=c["reason"],
        reserve_position=c["reserve_position"],
        from_reserve=c["from_reserve"],
        replaced_cause=c["replaced_cause"],
        recusals=(
            [(r["name"] or r["member_id"], r["reason"], r["automatic"]) for r in theirs]
            if insider
            else []
        ),
        recusal_count=len(theirs),
    )


@dataclass(frozen=True)
class Milestone:
    milestone_id: str
    title: str
    due_on: date
    # met, partly_met, cancelled, late (overdue on the day) or upcoming
    state: str
    met_on: str | None


@dataclass(frozen=True)
class Attainment:
    code: str
    name: str
    unit: str
    period_id: str
    baseline: Decimal
    target: Decimal | None
    actual: Decimal | None
    attainment: Decimal | None


@dataclass(frozen=True)
class PlanView:
    plan_id: str
    registration_number: str
    cluster_name: str
    region_code: str
    status: str | None
    current_version: int | None
    milestones: list[Milestone]
    attainment: list[Attainment]
    planned_total: Decimal
    disbursed_total: Decimal


@dataclass(frozen=True)
class OverdueItem:
    plan_id: str
    registration_number: str
    cluster_name: str
    kind: str
    item_id: str
    due_on: date
    # Whether the plans service's timer has marked it yet (it escalates what it marks).
    marked: bool


@dataclass(frozen=True)
class Plans:
    plans: list[PlanView]
    overdue: list[OverdueItem]


def _milestone_state(m: dict[str, Any], today: date) -> str:
    due = date.fromisoformat(m["due_on"])
    if m["status"] in ("met", "partly_met", "cancelled"):
        return str(m["status"])
    return "late" if is_milestone_overdue(m["status"], due, today) else "upcoming"


async def plans(conn: Connection, schema: str, call_id: str) -> Plans:
    """The call's plans: each one's status today and its milestones on a timeline (met,
    partly met, cancelled, late or upcoming, as of today in the plan's time zone), its
    indicators in the latest period with a known actual (else the first with a target), its
    budget planned and disbursed; and what is overdue today in them all, oldest due first."""
    rows, progress = await _plan_progress(conn, schema, call_id)
    ids = [r["plan_id"] for r in rows]
    attainment = await conn.fetch(
        f"""SELECT DISTINCT ON (plan_id, code) * FROM {schema}.plan_attainment
            WHERE plan_id = ANY($1)
            ORDER BY plan_id, code, (actual IS NOT NULL) DESC,
                     CASE WHEN actual IS NOT NULL THEN -period_index ELSE period_index END""",
        ids,
    )
    budget = await conn.fetch(
        f"""SELECT plan_id, sum(planned_total) AS planned, sum(disbursed_total) AS disbursed
            FROM {schema}.plan_budget WHERE plan_id = ANY($1) GROUP BY plan_id""",
        ids,
    )
    totals = {b["plan_id"]: (b["planned"], b["disbursed"]) for b in budget}
    views = []
    for r, figures in zip(rows, progress, strict=True):
        today = figures.on
        milestones = sorted(
            (
                Milestone(
                    milestone_id=m["milestone_id"],
                    title=m["title"],
                    due_on=date.fromisoformat(m["due_on"]),
                    state=_milestone_state(m, today),
                    met_on=m["met_on"],
                )
                for m in json.loads(r["milestones"])
            ),
            key=lambda m: (m.due_on, m.milestone_id),
        )
        planned, disbursed = totals.get(r["plan_id"], (Decimal(0), Decimal(0)))
        views.append(
            PlanView(
                plan_id=r["plan_id"],
                registration_number=r["registration_number"],
                cluster_name=r["cluster_name"],
                region_code=r["region_code"],
                status=figures.status,
                current_version=r["current_version"],
                milestones=milestones,
                attainment=[
                    Attainment(
                        code=a["code"],
                        name=a["name"],
                        unit=a["unit"],
                        period_id=a["period_id"],
                        baseline=a["baseline_value"],
                        target=a["target"],
                        actual=a["actual"],
                        attainment=a["attainment"],
                    )
                    for a in attainment
                    if a["plan_id"] == r["plan_id"]
                ],
                planned_total=planned,
                disbursed_total=disbursed,
            )
        )
    marks = await plans_api.overdue_marks(conn, schema, ids)
    overdue = [
        OverdueItem(
            plan_id=r["plan_id"],
            registration_number=r["registration_number"],
            cluster_name=r["cluster_name"],
            kind=item["kind"],
            item_id=item["item_id"],
            due_on=date.fromisoformat(item["due_on"]),
            marked=item["marked_at"] is not None,
        )
        for r, figures in zip(rows, progress, strict=True)
        for item in plans_api.overdue_of(figures, marks.get(r["plan_id"], {}))
    ]
    overdue.sort(key=lambda o: (o.due_on, o.registration_number, o.plan_id, o.kind, o.item_id))
    return Plans(plans=views, overdue=overdue)
