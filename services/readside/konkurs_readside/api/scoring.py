"""Scoring's read models per call: the screening, the experts' assignments, the evaluation
progress and the published ranking (JSON, and streamed CSV and Parquet exports).

Who sees what (`scope.scoring_scope`):
- operators, auditors, admins: everything, experts and the actors of overrides named;
- analysts: every row without people: no expert's name or id, no actor's subject, and none
  of the free texts people wrote about people (assignment and unassignment reasons, the
  nature of a declared conflict);
- applicants: their own applications' screening and, once a ranking is published, their
  own entries in it; never an expert, never another application;
- the commission: the ranking, which holds no personal data (as in scoring);
- experts, regional operators and any other role: nothing here (403). An expert's views
  live in scoring, where the blind review is enforced.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from fractions import Fraction
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from konkurs_platform.auth import Principal, Role, require
from konkurs_platform.problems import NOT_FOUND, Problem, problem_responses
from konkurs_readside.api.applications import actor
from konkurs_readside.api.calls import require_call
from konkurs_readside.api.exports import Rows, csv_response, cursor_chunks, parquet_response
from konkurs_readside.api.parameters import Identifier
from konkurs_readside.api.scope import STAFF, Scope, Where, scoring_scope

router = APIRouter(tags=["scoring"])

SCREENING_READERS = (*STAFF, Role.ANALYST, Role.APPLICANT)
ASSIGNMENT_READERS = (*STAFF, Role.ANALYST)
PROGRESS_READERS = (*STAFF, Role.ANALYST)
RANKING_EXPORTERS = (*STAFF, Role.ANALYST, Role.COMMISSION_SECRETARY, Role.COMMISSION_MEMBER)
RANKING_READERS = (*RANKING_EXPORTERS, Role.APPLICANT)

Version = Annotated[
    int | None,
    Query(ge=1, le=1_000_000, description="A ranking version; the latest when left out."),
]


def _schema(request: Request) -> str:
    schema: str = request.app.state.schema
    return schema


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _number(numerator: int, denominator: int) -> dict[str, Any]:
    """An exact score, with its value rounded for reading."""
    value = Fraction(numerator, denominator)
    return {"value": round(float(value), 4), "exact": f"{value.numerator}/{value.denominator}"}


# --- screening ----------------------------------------------------------------------------


@router.get(
    "/v1/calls/{call_id}/screening",
    responses=problem_responses(401, 403, 404, 422),
    summary="The screening of a call's applications, rule by rule, with the overrides",
)
async def call_screening(
    call_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(require(*SCREENING_READERS))],
) -> dict[str, Any]:
    """Each screened application with the result that holds, each rule's result as last
    assessed and every override with its justification; an applicant gets its own only."""
    scope = scoring_scope(principal)
    s = _schema(request)
    w = Where()
    w.add("sc.call_id = {0}", call_id)
    scope.restrict(w)
    async with request.app.state.pool.acquire() as conn:
        await require_call(conn, s, call_id)
        rows = await conn.fetch(
            f"""SELECT sc.*, a.registration_number FROM {s}.screening sc
                LEFT JOIN {s}.applications a USING (application_id)
                WHERE {w.sql()} ORDER BY a.registration_number NULLS LAST, sc.application_id""",
            *w.params,
        )
        overrides = await conn.fetch(
            f"""SELECT * FROM {s}.screening_overrides WHERE application_id = ANY($1)
                ORDER BY application_id, stream_version""",
            [r["application_id"] for r in rows],
        )
    by_application: dict[str, list[dict[str, Any]]] = {}
    for o in overrides:
        by_application.setdefault(o["application_id"], []).append(
            {
                "eligible": o["eligible"],
                "justification": o["justification"],
                "overrides_version": o["overrides_version"],
                "occurred_at": _iso(o["occurred_at"]),
                "actor": actor(o, scope),
            }
        )
    applications = [
        {
            "application_id": r["application_id"],
            "registration_number": r["registration_number"],
            "eligible": r["eligible"],
            "overridden": r["overridden"],
            "assessed_eligible": r["assessed_eligible"],
            "application_version": r["application_version"],
            "call_version": r["call_version"],
            "assessed_at": _iso(r["assessed_at"]),
            "results": json.loads(r["results"]),
            "overrides": by_application.get(r["application_id"], []),
            "version": r["stream_version"],
        }
        for r in rows
    ]
    eligible = sum(a["eligible"] for a in applications)
    return {
        "call_id": call_id,
        "screened": len(applications),
        "eligible": eligible,
        "ineligible": len(applications) - eligible,
        "overridden": sum(a["overridden"] for a in applications),
        "applications": applications,
    }


# --- assignments --------------------------------------------------------------------------


def _assignment(row: Any, scope: Scope) -> dict[str, Any]:
    out: dict[str, Any] = {
        "mode": row["mode"],
        "assigned_at": _iso(row["assigned_at"]),
        "due_at": _iso(row["due_at"]),
        "current": row["current"],
        "declaration": row["declaration"],
        "declared_at": _iso(row["declared_at"]),
        "overdue": row["overdue"],
        "unassignment_cause": row["unassignment_cause"],
        "unassigned_at": _iso(row["unassigned_at"]),
        "completed_at": _iso(row["completed_at"]),
    }
    if scope.pii:
        # An expert assigned before the registry reached the read model has no name yet.
        out["expert"] = {"expert_id": row["expert_id"], "name": row["name"]}
        out["reason"] = row["reason"]
        out["conflict_nature"] = row["conflict_nature"]
        out["unassignment_reason"] = row["unassignment_reason"]
    return out


@router.get(
    "/v1/calls/{call_id}/assignments",
    responses=problem_responses(401, 403, 404, 422),
    summary="The experts assigned to a call's applications, their declarations, overdue ones",
)
async def call_assignments(
    call_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(require(*ASSIGNMENT_READERS))],
) -> dict[str, Any]:
    """Per application, every assignment (current or ended) in the order it was made."""
    scope = scoring_scope(principal)
    s = _schema(request)
    async with request.app.state.pool.acquire() as conn:
        await require_call(conn, s, call_id)
        rows = await conn.fetch(
            f"""SELECT x.*, ex.name, a.registration_number FROM {s}.assignments x
                LEFT JOIN {s}.experts ex USING (expert_id)
                LEFT JOIN {s}.applications a USING (application_id)
                WHERE x.call_id = $1
                ORDER BY a.registration_number NULLS LAST, x.application_id, x.assigned_at,
                    x.expert_id""",
            call_id,
        )
    applications: dict[str, dict[str, Any]] = {}
    for r in rows:
        entry = applications.setdefault(
            r["application_id"],
            {
                "application_id": r["application_id"],
                "registration_number": r["registration_number"],
                "current": 0,
                "declared": 0,
                "overdue": 0,
                "assignments": [],
            },
        )
        entry["assignments"].append(_assignment(r, scope))
        if r["current"]:
            entry["current"] += 1
            entry["declared"] += r["declaration"] == "no_conflict"
            entry["overdue"] += r["overdue"]
    return {"call_id": call_id, "applications": list(applications.values())}


# --- progress -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Progress:
    """One application's evaluation, counted: experts on the panel, and its round's state."""

    eligible: bool | None
    assigned: int
    declared: int
    overdue: int
    conflicts: int
    panel_submitted: int
    round: int | None
    drafts: int
    submitted: int
    consensus_required: bool
    consensus_recorded: bool
    final: bool

    @property
    def fully_declared(self) -> bool:
        return self.assigned > 0 and self.declared == self.assigned

    @property
    def fully_submitted(self) -> bool:
        return self.assigned > 0 and self.panel_submitted == self.assigned

    @property
    def stage(self) -> str:
        """Where it stands, the furthest step first."""
        if self.eligible is False:
            return "ineligible"
        if self.final:
            return "final"
        if self.consensus_required and not self.consensus_recorded:
            return "awaiting_consensus"
        if self.assigned == 0:
            return "awaiting_assignment"
        if not self.fully_declared:
            return "awaiting_declarations"
        return "evaluating"


_PROGRESS_SQL = """
WITH ids AS (
    SELECT application_id FROM {s}.screening WHERE call_id = $1
    UNION SELECT application_id FROM {s}.assignments WHERE call_id = $1
    UNION SELECT application_id FROM {s}.evaluations WHERE call_id = $1
), panel AS (
    SELECT x.application_id,
        count(*) FILTER (WHERE x.current) AS assigned,
        count(*) FILTER (WHERE x.current AND x.declaration = 'no_conflict') AS declared,
        count(*) FILTER (WHERE x.current AND x.overdue) AS overdue,
        count(*) FILTER (WHERE x.declaration = 'conflict') AS conflicts,
        count(*) FILTER (WHERE x.current AND x.expert_id = ANY(e.submitted)) AS panel_submitted
    FROM {s}.assignments x LEFT JOIN {s}.evaluations e USING (application_id)
    WHERE x.call_id = $1
    GROUP BY x.application_id
)
SELECT ids.application_id, a.registration_number, sc.eligible,
    coalesce(p.assigned, 0) AS assigned, coalesce(p.declared, 0) AS declared,
    coalesce(p.overdue, 0) AS overdue, coalesce(p.conflicts, 0) AS conflicts,
    coalesce(p.panel_submitted, 0) AS panel_submitted, e.round,
    coalesce(cardinality(e.drafting), 0) AS drafts,
    coalesce(cardinality(e.submitted), 0) AS submitted,
    coalesce(e.consensus_required, false) AS consensus_required,
    coalesce(e.consensus_recorded, false) AS consensus_recorded,
    coalesce(e.final, false) AS final
FROM ids
LEFT JOIN {s}.applications a USING (application_id)
LEFT JOIN {s}.screening sc USING (application_id)
LEFT JOIN panel p USING (application_id)
LEFT JOIN {s}.evaluations e USING (application_id)
ORDER BY a.registration_number NULLS LAST, ids.application_id
"""


@router.get(
    "/v1/calls/{call_id}/progress",
    responses=problem_responses(401, 403, 404, 422),
    summary="How far the evaluation of a call's applications has come",
)
async def call_progress(
    call_id: Identifier,
    request: Request,
    _: Annotated[Principal, Depends(require(*PROGRESS_READERS))],
) -> dict[str, Any]:
    """Per application: the experts assigned and declared, drafts and submissions of the
    current round, consensus and whether it is final; in `applications`, how many have
    reached each step (`assigned`: at least one expert; `declared`: the whole panel declared
    no conflict; `submitted`: the whole panel submitted). Counts only: no expert, no score."""
    s = _schema(request)
    async with request.app.state.pool.acquire() as conn:
        await require_call(conn, s, call_id)
        rows = await conn.fetch(_PROGRESS_SQL.format(s=s), call_id)
    items = []
    counted = {
        "applications": 0,
        "eligible": 0,
        "assigned": 0,
        "declared": 0,
        "drafts": 0,
        "submitted": 0,
        "consensus_required": 0,
        "consensus_recorded": 0,
        "final": 0,
        "overdue": 0,
    }
    for r in rows:
        p = _Progress(**{f.name: r[f.name] for f in fields(_Progress)})
        items.append(
            {
                "application_id": r["application_id"],
                "registration_number": r["registration_number"],
                "stage": p.stage,
                "eligible": p.eligible,
                "round": p.round,
                "assigned": p.assigned,
                "declared": p.declared,
                "conflicts": p.conflicts,
                "overdue": p.overdue,
                "drafts": p.drafts,
                "submitted": p.submitted,
                "consensus_required": p.consensus_required,
                "consensus_recorded": p.consensus_recorded,
                "final": p.final,
            }
        )
        for key, reached in (
            ("applications", True),
            ("eligible", p.eligible is True),
            ("assigned", p.assigned > 0),
            ("declared", p.fully_declared),
            ("drafts", p.drafts > 0),
            ("submitted", p.fully_submitted),
            ("consensus_required", p.consensus_required),
            ("consensus_recorded", p.consensus_recorded),
            ("final", p.final),
            ("overdue", p.overdue > 0),
        ):
            counted[key] += reached
    by_stage: dict[str, int] = {}
    for item in items:
        by_stage[item["stage"]] = by_stage.get(item["stage"], 0) + 1
    return {"call_id": call_id, **counted, "by_stage": by_stage, "items": items}


# --- the ranking --------------------------------------------------------------------------


async def _ranking_head(conn: Any, schema: str, call_id: str, version: int | None) -> Any:
    """The ranking version asked for (the latest when None), or a 404 problem."""
    row = await conn.fetchrow(
        f"""SELECT * FROM {schema}.rankings WHERE call_id = $1
                AND ($2::integer IS NULL OR ranking_version = $2)
            ORDER BY ranking_version DESC LIMIT 1""",
        call_id,
        version,
    )
    if row is None:
        if version is None:
            raise Problem(NOT_FOUND, f"No ranking of call {call_id} is published (yet).")
        raise Problem(NOT_FOUND, f"Call {call_id} has no ranking version {version} (yet).")
    return row


def _entry(row: Any, scope: Scope) -> dict[str, Any]:
    out = {
        "rank": row["rank"],
        "application_id": row["application_id"],
        "registration_number": row["registration_number"],
        "round": row["round"],
        "scores": [
            {"criterion_id": c["criterion_id"], **_number(c["numerator"], c["denominator"])}
            for c in json.loads(row["scores"])
        ],
        "overall": _number(row["overall_numerator"], row["overall_denominator"]),
        "fundable": row["fundable"],
        "failed_thresholds": list(row["failed_thresholds"]),
        "decided_by": row["decided_by"],
    }
    # The events a score stands on are for those who can read them (the audit trail);
    # an applicant gets its place and scores.
    if scope.principal.role is not Role.APPLICANT:
        out["event_ids"] = list(row["event_ids"])
    return out


@router.get(
    "/v1/calls/{call_id}/ranking",
    responses=problem_responses(401, 403, 404, 422),
    summary="A call's published ranking: the latest version, or the one asked for",
)
async def call_ranking(
    call_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(require(*RANKING_READERS))],
    version: Version = None,
) -> dict[str, Any]:
    """Every entry with its score per criterion and overall (exact, and rounded to read),
    fundable or not, the thresholds it fails and what placed it below the one above; the
    tie-break chain and the content hash. An applicant gets its own entries only."""
    scope = scoring_scope(principal)
    s = _schema(request)
    async with request.app.state.pool.acquire() as conn:
        head = await _ranking_head(conn, s, call_id, version)
        w = Where()
        w.add("r.call_id = {0} AND r.ranking_version = {1}", call_id, head["ranking_version"])
        scope.restrict(w)
        entries = await conn.fetch(
            f"""SELECT r.* FROM {s}.ranking_entries r
                LEFT JOIN {s}.applications a USING (application_id)
                WHERE {w.sql()} ORDER BY r.rank""",
            *w.params,
        )
    return {
        "call_id": call_id,
        "ranking_version": head["ranking_version"],
        "call_version": head["call_version"],
        "published_at": _iso(head["published_at"]),
        "content_hash": head["content_hash"],
        "tie_break": list(head["tie_break"]),
        "of": head["entry_count"],
        "entries": [_entry(r, scope) for r in entries],
    }


# --- the ranking's exports ----------------------------------------------------------------

_CHUNK_ROWS = 1000
_FIELDS: tuple[tuple[str, pa.DataType], ...] = (
    ("call_id", pa.string()),
    ("ranking_version", pa.int32()),
    ("rank", pa.int32()),
    ("application_id", pa.string()),
    ("registration_number", pa.string()),
    ("round", pa.int32()),
    ("overall", pa.float64()),
    ("overall_exact", pa.string()),
    ("fundable", pa.bool_()),
    ("failed_thresholds", pa.list_(pa.string())),
    ("decided_by", pa.string()),
    ("event_ids", pa.list_(pa.string())),
)


def _export_fields(criteria: list[str]) -> list[tuple[str, pa.DataType]]:
    """The fixed columns, then two per criterion of the ranking (in the methodology's
    order): its score as a number and exactly."""
    per_criterion = [
        field
        for c in criteria
        for field in ((f"score_{c}", pa.float64()), (f"score_{c}_exact", pa.string()))
    ]
    return [*_FIELDS, *per_criterion]


def _export_record(row: Any) -> dict[str, Any]:
    overall = Fraction(row["overall_numerator"], row["overall_denominator"])
    record = {
        "call_id": row["call_id"],
        "ranking_version": row["ranking_version"],
        "rank": row["rank"],
        "application_id": row["application_id"],
        "registration_number": row["registration_number"],
        "round": row["round"],
        "overall": float(overall),
        "overall_exact": f"{overall.numerator}/{overall.denominator}",
        "fundable": row["fundable"],
        "failed_thresholds": list(row["failed_thresholds"]),
        "decided_by": row["decided_by"],
        "event_ids": list(row["event_ids"]),
    }
    for c in json.loads(row["scores"]):
        score = Fraction(c["numerator"], c["denominator"])
        record[f"score_{c['criterion_id']}"] = float(score)
        record[f"score_{c['criterion_id']}_exact"] = f"{score.numerator}/{score.denominator}"
    return record


@dataclass(frozen=True)
class _Export:
    """A ranking version to export: its call, number and criteria."""

    call_id: str
    ranking_version: int
    criteria: list[str]

    async def rows(self, request: Request, names: Sequence[str]) -> Rows:
        """The entries in rank order, `names` in order, in chunks (`cursor_chunks`)."""
        sql = (
            f"SELECT * FROM {_schema(request)}.ranking_entries "
            "WHERE call_id = $1 AND ranking_version = $2 ORDER BY rank"
        )
        chunks = cursor_chunks(request, sql, self.call_id, self.ranking_version, size=_CHUNK_ROWS)
        async for chunk in chunks:
            records = [_export_record(row) for row in chunk]
            yield [[record.get(n) for n in names] for record in records]


async def _export(request: Request, call_id: str, version: int | None) -> _Export:
    """The version to export, found before the 200 starts streaming (else a 404)."""
    async with request.app.state.pool.acquire() as conn:
        head = await _ranking_head(conn, _schema(request), call_id, version)
    return _Export(call_id, head["ranking_version"], list(head["criteria"]))


def _filename(export: _Export, extension: str) -> str:
    # The call id is printable (Identifier) but may hold quotes: the name is ours instead.
    return f"ranking-v{export.ranking_version}.{extension}"


@router.get(
    "/v1/exports/ranking.csv",
    responses=problem_responses(401, 403, 404, 422),
    response_class=StreamingResponse,
    summary="A call's published ranking as CSV (streamed)",
)
async def export_ranking_csv(
    request: Request,
    _: Annotated[Principal, Depends(require(*RANKING_EXPORTERS))],
    call_id: Annotated[Identifier, Query(description="The call whose ranking to export.")],
    version: Version = None,
) -> StreamingResponse:
    """One row per entry in rank order: the fixed columns, then per criterion
    `score_<id>` (a number) and `score_<id>_exact` (numerator/denominator). Lists are
    joined with ';'."""
    export = await _export(request, call_id, version)
    names = [n for n, _ in _export_fields(export.criteria)]
    return csv_response(_filename(export, "csv"), names, export.rows(request, names))


@router.get(
    "/v1/exports/ranking.parquet",
    responses=problem_responses(401, 403, 404, 422),
    response_class=StreamingResponse,
    summary="A call's published ranking as Parquet (streamed)",
)
async def export_ranking_parquet(
    request: Request,
    _: Annotated[Principal, Depends(require(*RANKING_EXPORTERS))],
    call_id: Annotated[Identifier, Query(description="The call whose ranking to export.")],
    version: Version = None,
) -> StreamingResponse:
    """The CSV export's columns with their types, one row group per chunk of entries, each
    sent as soon as it is written."""
    export = await _export(request, call_id, version)
    schema = pa.schema(_export_fields(export.criteria))
    rows = export.rows(request, schema.names)
    return parquet_response(_filename(export, "parquet"), schema, rows)
