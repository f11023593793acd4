"""Streamed CSV and Parquet exports of the read models an analyst may see, and what every
export shares: CSV values, the streamed CSV and Parquet bodies, and a sink that hands
Parquet's bytes on as they are written.

The applications' and the ranking's exports live beside their JSON routes
(`api/applications.py`, `api/scoring.py`); the read models exported here have no filter but
the call, so one description per read model says it all: its rows, its columns with their
Arrow types, and which columns name a person.

Who may export what follows the JSON routes: scoring's and plan tracking's read models
operators, auditors and admins with every column, analysts every row without the columns
that name a person (experts' ids and names, the subjects of actors, the reasons people wrote
about people) and without drafts; the commission's the commission too with every column,
and analysts a decision only once published. Nobody else (403): an applicant reads its own
rows through the JSON routes, and an export is a whole read model. Not exported: what an
analyst may not read at all (the votes member by member, the appeals, the members).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from konkurs_platform.auth import Principal, Role, require
from konkurs_platform.problems import problem_responses
from konkurs_readside.api.commission import INSIDERS as COMMISSION_INSIDERS
from konkurs_readside.api.commission import MEETING_READERS
from konkurs_readside.api.parameters import Identifier
from konkurs_readside.api.scope import STAFF

router = APIRouter(tags=["exports"])

EXPORTERS = (*STAFF, Role.ANALYST)
# The commission's read models: the commission itself as well (its JSON routes' readers).
COMMISSION_EXPORTERS = MEETING_READERS
# Rows fetched from the server-side cursor and written out at a time: memory holds one chunk.
CHUNK_ROWS = 2000

CallFilter = Annotated[
    Identifier | None, Query(description="Only this call's rows; every call's when left out.")
]


def csv_value(value: Any) -> Any:
    """A value as a CSV cell: lists joined with ';', times in ISO 8601."""
    if isinstance(value, list):
        return ";".join(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class Chunks:
    """A write-only file for ParquetWriter whose bytes are taken out as they are written."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        """The bytes written since the last take."""
        out = b"".join(self._parts)
        self._parts.clear()
        return out


Rows = AsyncIterator[list[Sequence[Any]]]


async def cursor_chunks(
    request: Request, sql: str, *params: Any, size: int = CHUNK_ROWS
) -> AsyncIterator[list[Any]]:
    """The rows of `sql`, `size` at a time, through a server-side cursor in one read-only
    transaction: one consistent snapshot, and memory stays flat however large the read
    model. Each row (an asyncpg Record) is a sequence in the select list's order."""
    async with request.app.state.pool.acquire() as conn, conn.transaction(readonly=True):
        chunk: list[Any] = []
        async for row in conn.cursor(sql, *params, prefetch=size):
            chunk.append(row)
            if len(chunk) == size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


def csv_response(filename: str, names: Sequence[str], rows: Rows) -> StreamingResponse:
    """A CSV attachment of `names` then `rows`, one piece of the body per chunk of rows."""

    async def body() -> AsyncIterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(names)
        async for chunk in rows:
            writer.writerows([[csv_value(v) for v in row] for row in chunk])
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue().encode()

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def parquet_response(filename: str, schema: pa.Schema, rows: Rows) -> StreamingResponse:
    """A Parquet attachment of `rows` (values in the order of `schema`'s fields), one row
    group per chunk of rows, each sent as soon as it is written."""

    async def body() -> AsyncIterator[bytes]:
        sink = Chunks()
        with pq.ParquetWriter(pa.PythonFile(sink, mode="w"), schema) as writer:
            async for chunk in rows:
                columns = {n: [row[i] for row in chunk] for i, n in enumerate(schema.names)}
                writer.write_table(pa.table(columns, schema=schema))
                yield sink.take()
        yield sink.take()

    return StreamingResponse(
        body(),
        media_type="application/vnd.apache.parquet",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@dataclass(frozen=True)
class Column:
    """A column of an export: its name, Arrow type, SQL expression over the export's
    source, and whether it is for insiders only (it names a person)."""

    name: str
    type: pa.DataType
    sql: str
    insiders_only: bool = False


@dataclass(frozen=True)
class TableExport:
    """A read model as an export: its rows (`source`, a FROM clause over the schema `{s}`,
    in `order`), the column its call is in, its columns, who of those its routes let in
    gets every column (`insiders`; the others get none that names a person), and the rows
    the others may see (`outsider_rows`, an SQL condition; all when None)."""

    name: str
    source: str
    call_column: str
    order: str
    columns: tuple[Column, ...]
    insiders: tuple[Role, ...] = STAFF
    outsider_rows: str | None = None

    def visible(self, principal: Principal) -> list[Column]:
        """The columns `principal` may read."""
        insider = principal.role in self.insiders
        return [c for c in self.columns if insider or not c.insiders_only]

    def rows(
        self, request: Request, principal: Principal, columns: Sequence[Column], call_id: str | None
    ) -> Rows:
        """The rows `principal` may read, in chunks (`cursor_chunks`)."""
        schema: str = request.app.state.schema
        selected = ", ".join(f'{c.sql} AS "{c.name}"' for c in columns)
        condition = f"($1::text IS NULL OR {self.call_column} = $1)"
        if principal.role not in self.insiders and self.outsider_rows is not None:
            condition += f" AND {self.outsider_rows}"
        sql = (
            f"SELECT {selected} FROM {self.source.format(s=schema)} "
            f"WHERE {condition} ORDER BY {self.order}"
        )
        return cursor_chunks(request, sql, call_id)

    def csv(self, request: Request, principal: Principal, call_id: str | None) -> StreamingResponse:
        """The export as CSV for `principal`."""
        columns = self.visible(principal)
        return csv_response(
            f"{self.name}.csv",
            [c.name for c in columns],
            self.rows(request, principal, columns, call_id),
        )

    def parquet(
        self, request: Request, principal: Principal, call_id: str | None
    ) -> StreamingResponse:
        """The export as Parquet for `principal`."""
        columns = self.visible(principal)
        return parquet_response(
            f"{self.name}.parquet",
            pa.schema([(c.name, c.type) for c in columns]),
            self.rows(request, principal, columns, call_id),
        )


_TIME = pa.timestamp("us", tz="UTC")
_TEXTS = pa.list_(pa.string())

SCREENING = TableExport(
    name="screening",
    source="{s}.screening sc LEFT JOIN {s}.applications a USING (application_id)",
    call_column="sc.call_id",
    order="sc.call_id, a.registration_number NULLS LAST, sc.application_id",
    columns=(
        Column("application_id", pa.string(), "sc.application_id"),
        Column("call_id", pa.string(), "sc.call_id"),
        Column("registration_number", pa.string(), "a.registration_number"),
        Column("eligible", pa.bool_(), "sc.eligible"),
        Column("assessed_eligible", pa.bool_(), "sc.assessed_eligible"),
        Column("overridden", pa.bool_(), "sc.overridden"),
        Column(
            "failed_rules",
            _TEXTS,
            "ARRAY(SELECT r->>'rule' FROM jsonb_array_elements(sc.results) r "
            "WHERE NOT (r->>'passed')::boolean)",
        ),
        Column("application_version", pa.int64(), "sc.application_version"),
        Column("call_version", pa.int64(), "sc.call_version"),
        Column("assessed_at", _TIME, "sc.assessed_at"),
        Column("last_changed_at", _TIME, "sc.last_changed_at"),
    ),
)

ASSIGNMENTS = TableExport(
    name="assignments",
    source=(
        "{s}.assignments x LEFT JOIN {s}.experts ex USING (expert_id) "
        "LEFT JOIN {s}.applications a USING (application_id)"
    ),
    call_column="x.call_id",
    order="x.call_id, a.registration_number NULLS LAST, x.application_id, x.assigned_at, "
    "x.expert_id",
    columns=(
        Column("application_id", pa.string(), "x.application_id"),
        Column("call_id", pa.string(), "x.call_id"),
        Column("registration_number", pa.string(), "a.registration_number"),
        Column("mode", pa.string(), "x.mode"),
        Column("assigned_at", _TIME, "x.assigned_at"),
        Column("due_at", _TIME, "x.due_at"),
        Column("current", pa.bool_(), "x.current"),
        Column("declaration", pa.string(), "x.declaration"),
        Column("declared_at", _TIME, "x.declared_at"),
        Column("overdue", pa.bool_(), "x.overdue"),
        Column("unassignment_cause", pa.string(), "x.unassignment_cause"),
        Column("unassigned_at", _TIME, "x.unassigned_at"),
        Column("completed_at", _TIME, "x.completed_at"),
        Column("expert_id", pa.string(), "x.expert_id", insiders_only=True),
        Column("expert_name", pa.string(), "ex.name", insiders_only=True),
        Column("reason", pa.string(), "x.reason", insiders_only=True),
        Column("conflict_nature", pa.string(), "x.conflict_nature", insiders_only=True),
        Column("unassignment_reason", pa.string(), "x.unassignment_reason", insiders_only=True),
    ),
)

EVALUATIONS = TableExport(
    name="evaluations",
    source="{s}.evaluations e LEFT JOIN {s}.applications a USING (application_id)",
    call_column="e.call_id",
    order="e.call_id, a.registration_number NULLS LAST, e.application_id",
    columns=(
        Column("application_id", pa.string(), "e.application_id"),
        Column("call_id", pa.string(), "e.call_id"),
        Column("registration_number", pa.string(), "a.registration_number"),
        Column("round", pa.int32(), "e.round"),
        Column("drafts", pa.int32(), "cardinality(e.drafting)"),
        Column("submitted", pa.int32(), "cardinality(e.submitted)"),
        Column("consensus_required", pa.bool_(), "e.consensus_required"),
        Column("consensus_recorded", pa.bool_(), "e.consensus_recorded"),
        Column("final", pa.bool_(), "e.final"),
        Column("overall", pa.float64(), "e.overall_numerator::float8 / e.overall_denominator"),
        Column("overall_numerator", pa.int64(), "e.overall_numerator"),
        Column("overall_denominator", pa.int64(), "e.overall_denominator"),
        Column("fundable", pa.bool_(), "e.fundable"),
        Column("failed_thresholds", _TEXTS, "e.failed_thresholds"),
        Column("finalised_at", _TIME, "e.finalised_at"),
        Column("last_changed_at", _TIME, "e.last_changed_at"),
        # The experts of the panel by id: who is slower or stricter is for staff to know.
        Column("drafting_experts", _TEXTS, "e.drafting", insiders_only=True),
        Column("submitted_experts", _TEXTS, "e.submitted", insiders_only=True),
        Column("rapporteur", pa.string(), "e.rapporteur", insiders_only=True),
    ),
)


# --- the commission -----------------------------------------------------------------------

# Analysts see the meetings and the decisions without people, and a decision only once it is
# published: until then it is the commission's and the staff's alone.
MEETINGS = TableExport(
    name="meetings",
    source="{s}.commission_meetings m",
    call_column="m.call_id",
    order="m.call_id, m.scheduled_for, m.meeting_id",
    insiders=COMMISSION_INSIDERS,
    columns=(
        Column("meeting_id", pa.string(), "m.meeting_id"),
        Column("call_id", pa.string(), "m.call_id"),
        Column("status", pa.string(), "m.status"),
        Column("scheduled_for", _TIME, "m.scheduled_for"),
        Column("venue", pa.string(), "m.venue"),
        Column("ranking_version", pa.int32(), "m.ranking_version"),
        Column("ranking_content_hash", pa.string(), "m.ranking_content_hash"),
        Column("quota", pa.int32(), "m.quota"),
        Column("composition_version", pa.int32(), "m.composition_version"),
        Column("reconsidered", _TEXTS, "m.reconsidered"),
        Column("opened_at", _TIME, "m.opened_at"),
        Column("quorum_required", pa.int32(), "m.quorum_required"),
        Column("quorum_met", pa.bool_(), "m.quorum_met"),
        Column("present", pa.int32(), "cardinality(m.present_member_ids)"),
        Column("decided_at", _TIME, "m.decided_at"),
        Column("reserve", _TEXTS, "m.reserve"),
        Column("minutes_sha256", pa.string(), "m.minutes_sha256"),
        Column("published_at", _TIME, "m.published_at"),
        Column("appeals_close_at", _TIME, "m.appeals_close_at"),
        Column("appeal_window_closed_at", _TIME, "m.appeal_window_closed_at"),
        Column("present_member_ids", _TEXTS, "m.present_member_ids", insiders_only=True),
    ),
)

DECISIONS = TableExport(
    name="decisions",
    source="{s}.commission_candidates c JOIN {s}.commission_meetings m USING (meeting_id)",
    call_column="c.call_id",
    order="c.call_id, m.scheduled_for, c.meeting_id, c.rank",
    insiders=COMMISSION_INSIDERS,
    outsider_rows="m.status = 'published'",
    columns=(
        Column("meeting_id", pa.string(), "c.meeting_id"),
        Column("call_id", pa.string(), "c.call_id"),
        Column("application_id", pa.string(), "c.application_id"),
        Column("registration_number", pa.string(), "c.registration_number"),
        Column("rank", pa.int32(), "c.rank"),
        Column("cluster_name", pa.string(), "c.cluster_name"),
        Column("region_code", pa.string(), "c.region_code"),
        Column("overall", pa.string(), "c.overall"),
        Column("fundable", pa.bool_(), "c.fundable"),
        Column("failed_thresholds", _TEXTS, "c.failed_thresholds"),
        Column("reconsidered", pa.bool_(), "c.reconsidered"),
        Column("vote", pa.string(), "c.vote"),
        Column("votes_for", pa.int32(), "(c.tally->>'votes_for')::integer"),
        Column("votes_against", pa.int32(), "(c.tally->>'votes_against')::integer"),
        Column("abstentions", pa.int32(), "(c.tally->>'abstentions')::integer"),
        Column("recused", pa.int32(), "(c.tally->>'recused')::integer"),
        Column("not_voted", pa.int32(), "(c.tally->>'not_voted')::integer"),
        Column("casting_vote_used", pa.bool_(), "(c.tally->>'casting_vote_used')::boolean"),
        Column("carried", pa.bool_(), "c.carried"),
        Column("outcome", pa.string(), "c.outcome"),
        Column("rationale", pa.string(), "c.rationale"),
        Column("reason", pa.string(), "c.reason"),
        Column("reserve_position", pa.int32(), "c.reserve_position"),
        Column("published", pa.bool_(), "c.published"),
        Column("from_reserve", pa.bool_(), "c.from_reserve"),
        Column("replaced_cause", pa.string(), "c.replaced_cause"),
        Column("replaced_reason", pa.string(), "c.replaced_reason"),
        # What recusals are checked against: the applicants' business, not the public's.
        Column("participant_bins", _TEXTS, "c.participant_bins", insiders_only=True),
    ),
)

# --- plan tracking ------------------------------------------------------------------------

# Analysts see every plan without people (actors by role, never by subject) and the versions
# that were the plan at some time, no draft. Exact decimals stay exact: written as text.
PLANS = TableExport(
    name="plans",
    source="{s}.plans p",
    call_column="p.call_id",
    order="p.call_id, p.registration_number, p.plan_id",
    columns=(
        Column("plan_id", pa.string(), "p.plan_id"),
        Column("call_id", pa.string(), "p.call_id"),
        Column("registration_number", pa.string(), "p.registration_number"),
        Column("cluster_name", pa.string(), "p.cluster_name"),
        Column("region_code", pa.string(), "p.region_code"),
        Column("coordinator_bin", pa.string(), "p.coordinator_bin"),
        Column("current_version", pa.int32(), "p.current_version"),
        Column("milestones", pa.int32(), "jsonb_array_length(p.milestones)"),
        Column(
            "milestones_met",
            pa.int32(),
            "(SELECT count(*) FROM jsonb_array_elements(p.milestones) x "
            "WHERE x->>'status' = 'met')::integer",
        ),
        Column("latest_accepted_period", pa.string(), "p.latest_accepted_period"),
        Column("opened_at", _TIME, "p.opened_at"),
        Column("last_changed_at", _TIME, "p.last_changed_at"),
        # A version in the making is the coordinator's and the staff's.
        Column("pending_version", pa.int32(), "p.pending_version", insiders_only=True),
        Column("pending_state", pa.string(), "p.pending_state", insiders_only=True),
    ),
)

PLAN_VERSIONS = TableExport(
    name="plan_versions",
    source="{s}.plan_versions v JOIN {s}.plans p USING (plan_id)",
    call_column="p.call_id",
    order="p.call_id, p.registration_number, v.plan_id, v.version",
    outsider_rows="v.state IN ('approved', 'superseded')",
    columns=(
        Column("plan_id", pa.string(), "v.plan_id"),
        Column("call_id", pa.string(), "p.call_id"),
        Column("registration_number", pa.string(), "p.registration_number"),
        Column("version", pa.int32(), "v.version"),
        Column("state", pa.string(), "v.state"),
        Column("reason", pa.string(), "v.reason"),
        Column("comments", pa.string(), "v.comments"),
        Column("drafted_at", _TIME, "v.drafted_at"),
        Column("drafted_by_role", pa.string(), "v.drafted_by_role"),
        Column("submitted_at", _TIME, "v.submitted_at"),
        Column("returned_at", _TIME, "v.returned_at"),
        Column("decided_by_role", pa.string(), "v.decided_by_role"),
        Column("effective_from", _TIME, "v.effective_from"),
        Column("effective_to", _TIME, "v.effective_to"),
        # {milestones, indicators, support_measures, summary}, as JSON text.
        Column("content", pa.string(), "v.content::text"),
        Column("drafted_by", pa.string(), "v.drafted_by", insiders_only=True),
        Column("decided_by", pa.string(), "v.decided_by", insiders_only=True),
    ),
)

PLAN_REPORTS = TableExport(
    name="plan_reports",
    source="{s}.plan_reports r JOIN {s}.plans p USING (plan_id)",
    call_column="p.call_id",
    order="p.call_id, p.registration_number, r.plan_id, r.period_id",
    columns=(
        Column("plan_id", pa.string(), "r.plan_id"),
        Column("call_id", pa.string(), "p.call_id"),
        Column("registration_number", pa.string(), "p.registration_number"),
        Column("period_id", pa.string(), "r.period_id"),
        Column("plan_version", pa.int32(), "r.plan_version"),
        Column("state", pa.string(), "r.state"),
        # As JSON text: [{code, value, evidence_sha256}], [{milestone_id, status, met_on}],
        # [{measure_id, on, amount}].
        Column("actuals", pa.string(), "r.actuals::text"),
        Column("milestones", pa.string(), "r.milestones::text"),
        Column("disbursements", pa.string(), "r.disbursements::text"),
        Column("narrative", pa.string(), "r.narrative"),
        Column("comments", pa.string(), "r.comments"),
        Column("submissions", pa.int32(), "r.submissions"),
        Column("submitted_at", _TIME, "r.submitted_at"),
        Column("decided_at", _TIME, "r.decided_at"),
        Column("decided_by_role", pa.string(), "r.decided_by_role"),
        Column("submitted_by", pa.string(), "r.submitted_by", insiders_only=True),
        Column("decided_by", pa.string(), "r.decided_by", insiders_only=True),
    ),
)

PLAN_ATTAINMENT = TableExport(
    name="plan_attainment",
    source="{s}.plan_attainment t JOIN {s}.plans p USING (plan_id)",
    call_column="p.call_id",
    order="p.call_id, p.registration_number, t.plan_id, t.period_index, t.code",
    columns=(
        Column("plan_id", pa.string(), "t.plan_id"),
        Column("call_id", pa.string(), "p.call_id"),
        Column("registration_number", pa.string(), "p.registration_number"),
        Column("period_id", pa.string(), "t.period_id"),
        Column("code", pa.string(), "t.code"),
        Column("plan_version", pa.int32(), "t.plan_version"),
        Column("name", pa.string(), "t.name"),
        Column("unit", pa.string(), "t.unit"),
        Column("direction", pa.string(), "t.direction"),
        Column("baseline_year", pa.int32(), "t.baseline_year"),
        Column("baseline_value", pa.string(), "t.baseline_value::text"),
        Column("target", pa.string(), "t.target::text"),
        Column("actual", pa.string(), "t.actual::text"),
        Column("attainment", pa.string(), "t.attainment::text"),
        Column("report_state", pa.string(), "t.report_state"),
    ),
)

PLAN_BUDGET = TableExport(
    name="plan_budget",
    source="{s}.plan_budget b JOIN {s}.plans p USING (plan_id)",
    call_column="p.call_id",
    order="p.call_id, p.registration_number, b.plan_id, b.measure_id",
    columns=(
        Column("plan_id", pa.string(), "b.plan_id"),
        Column("call_id", pa.string(), "p.call_id"),
        Column("registration_number", pa.string(), "p.registration_number"),
        Column("measure_id", pa.string(), "b.measure_id"),
        Column("plan_version", pa.int32(), "b.plan_version"),
        Column("kind", pa.string(), "b.kind"),
        Column("budget_source", pa.string(), "b.budget_source"),
        Column("amount", pa.string(), "b.amount::text"),
        Column("planned_total", pa.string(), "b.planned_total::text"),
        Column("disbursed_total", pa.string(), "b.disbursed_total::text"),
        # As JSON text: [{on, amount}] and [{on, amount, period_id}] in date order.
        Column("planned", pa.string(), "b.planned::text"),
        Column("disbursed", pa.string(), "b.disbursed::text"),
    ),
)

PLAN_OVERDUE = TableExport(
    name="plan_overdue",
    source="{s}.plan_overdue o JOIN {s}.plans p USING (plan_id)",
    call_column="p.call_id",
    order="p.call_id, p.registration_number, o.plan_id, o.due_on, o.kind, o.item_id",
    columns=(
        Column("plan_id", pa.string(), "o.plan_id"),
        Column("call_id", pa.string(), "p.call_id"),
        Column("registration_number", pa.string(), "p.registration_number"),
        Column("kind", pa.string(), "o.kind"),
        Column("item_id", pa.string(), "o.item_id"),
        Column("due_on", pa.date32(), "o.due_on"),
        Column("marked_at", _TIME, "o.marked_at"),
    ),
)

_RESPONSES = problem_responses(401, 403, 422)
Exporter = Annotated[Principal, Depends(require(*EXPORTERS))]
CommissionExporter = Annotated[Principal, Depends(require(*COMMISSION_EXPORTERS))]


@router.get(
    "/v1/exports/screening.csv",
    responses=_RESPONSES,
    response_class=StreamingResponse,
    summary="Scoring's screening as CSV (streamed)",
)
async def export_screening_csv(
    request: Request, principal: Exporter, call_id: CallFilter = None
) -> StreamingResponse:
    """One row per screened application: the result that holds, the assessed one, whether
    overridden, and the rules it failed (joined with ';')."""
    return SCREENING.csv(request, principal, call_id)


@router.get(
    "/v1/exports/screening.parquet",
    responses=_RESPONSES,
    response_class=StreamingResponse,
    summary="Scoring's screening as Parquet (streamed)",
)
async def export_screening_parquet(
    request: Request, principal: Exporter, call_id: CallFilter = None
) -> StreamingResponse:
    """The CSV export's columns with their types."""
    return SCREENING.parquet(request, principal, call_id)


@router.get(
    "/v1/exports/assignments.csv",
    responses=_RESPONSES,
    response_class=StreamingResponse,
    summary="The experts' assignments as CSV (streamed)",
)
async def export_assignments_csv(
    request: Request, principal: Exporter, call_id: CallFilter = None
) -> StreamingResponse:
    """One row per expert ever assigned to an application; analysts get no expert and none
    of the reasons people wrote."""
    return ASSIGNMENTS.csv(request, principal, call_id)


@router.get(
    "/v1/exports/assignments.parquet",
    responses=_RESPONSES,
    response_class=StreamingResponse,
    summary="The experts' assignments as Parquet (streamed)",
)
async def export_assignments_parquet(
    request: Request, principal: Exporter, call_id: CallFilter = None
) -> StreamingResponse:
    """The CSV export's columns with their types."""
    return ASSIGNMENTS.parquet(request, principal, call_id)


@router.get(
    "/v1/exports/evaluations.csv",
    responses=_RESPONSES,
    response_class=StreamingResponse,
    summary="The evaluations as CSV (streamed)",
)
async def export_evaluations_csv(
    request: Request, principal: Exporter, call_id: CallFilter = None
) -> StreamingResponse:
    """One row per evaluated application in its current round: drafts and submissions
    counted, consensus, the final score (as a number and exactly), fundable or not;
    analysts get no expert."""
    return EVALUATIONS.csv(request, principal, call_id)


@router.get(
    "/v1/exports/evaluations.parquet",
    responses=_RESPONSES,
    response_class=StreamingResponse,
    summary="The evaluations as Parquet (streamed)",
)
async def export_evaluations_parquet(
    request: Request, principal: Exporter, call_id: CallFilter = None
) -> StreamingResponse:
    """The CSV export's columns with their types."""
    return EVALUATIONS.parquet(request, principal, call_id)


@router.get(
    "/v1/exports/meetings.csv",
    responses=_RESPONSES,
    response_class=StreamingResponse,
    summary="The commission's meetings as CSV (streamed)",
)
async def export_meetings_csv(
    request: Request, principal: CommissionExporter, call_id: CallFilter = None
) -> StreamingResponse:
    """One row per meeting: its agenda's ranking, quorum, decision and publication;
    members counted, named to the commission and the staff only."""
    return MEETINGS.csv(request, principal, call_id)


@router.get(
    "/v1/exports/meetings.parquet",
    responses=_RESPONSES,
    response_class=StreamingResponse,
    summary="The commission's meetings as Parquet (streamed)",
)
async def export_meetings_parquet(
    request: Request, principal: CommissionExporter, call_id: CallFilter = None
) -> StreamingResponse:
    """The CSV export's columns with their types."""
    return MEETINGS.parquet(request, principal, call_id)


@router.get(
    "/v1/exports/decisions.csv",
    responses=_RESPONSES,
    response_class=StreamingResponse,
    summary="The commission's decisions, candidate by candidate as CSV (streamed)",
)
async def export_decisions_csv(
    request: Request, principal: CommissionExporter, call_id: CallFilter = None
) -> StreamingResponse:
    """One row per candidate of each meeting: as ranked, its tally, carried or not, the
    outcome with its rationale or reason; to analysts only published decisions."""
    return DECISIONS.csv(request, principal, call_id)


@router.get(
    "/v1/exports/decisions.parquet",
    responses=_RESPONSES,
    response_class=StreamingResponse,
    summary="The commission's decisions, candidate by candidate as Parquet (streamed)",
)
async def export_decisions_parquet(
    request: Request, principal: CommissionExporter, call_id: CallFilter = None
) -> StreamingResponse:
    """The CSV export's columns with their types."""
    return DECISIONS.parquet(request, principal, call_id)


@router.get(
    "/v1/exports/plans.csv",
    responses=_RESPONSES,
    response_class=StreamingResponse,
    summary="The development plans as CSV (streamed)",
)
async def export_plans_csv(
    request: Request, principal: Exporter, call_id: CallFilter = None
) -> StreamingResponse:
    """One row per plan: whose, the version in effect, milestones met of the current version's."""
    return PLANS.csv(request, principal, call_id)


@router.get(
    "/v1/exports/plans.parquet",
    responses=_RESPONSES,
    response_class=StreamingResponse,
    summary="The development plans as Parquet (streamed)",
)
async def export_plans_parquet(
    request: Request, principal: Exporter, call_id: CallFilter = None
) -> StreamingResponse:
    """The CSV export's columns with their types."""
    return PLANS.parquet(request, principal, call_id)


@router.get(
    "/v1/exports/plan_versions.csv",
    responses=_RESPONSES,
    response_class=StreamingResponse,
    summary="The development plans' versions as CSV (streamed)",
)
async def export_plan_versions_csv(
    request: Request, principal: Exporter, call_id: CallFilter = None
) -> StreamingResponse:
    """One row per version with its content as JSON; analysts get the versions that were
    the plan at some time, and actors by role only."""
    return PLAN_VERSIONS.csv(request, principal, call_id)


@router.get(
    "/v1/exports/plan_versions.parquet",
    responses=_RESPONSES,
    response_class=StreamingResponse,
    summary="The development plans' versions as Parquet (streamed)",
)
async def export_plan_versions_parquet(
    request: Request, principal: Exporter, call_id: CallFilter = None
) -> StreamingResponse:
    """The CSV export's columns with their types."""
    return PLAN_VERSIONS.parquet(request, principal, call_id)


@router.get(
    "/v1/exports/plan_reports.csv",
    responses=_RESPONSES,
    response_class=StreamingResponse,
    summary="The reports on the plans' periods as CSV (streamed)",
)
async def export_plan_reports_csv(
    request: Request, principal: Exporter, call_id: CallFilter = None
) -> StreamingResponse:
    """One row per period's report as last submitted, with the operator's decision;
    actors by role only to analysts."""
    return PLAN_REPORTS.csv(request, principal, call_id)


@router.get(
    "/v1/exports/plan_reports.parquet",
    responses=_RESPONSES,
    response_class=StreamingResponse,
    summary="The reports on the plans' periods as Parquet (streamed)",
)
async def export_plan_reports_parquet(
    request: Request, principal: Exporter, call_id: CallFilter = None
) -> StreamingResponse:
    """The CSV export's columns with their types."""
    return PLAN_REPORTS.parquet(request, principal, call_id)


@router.get(
    "/v1/exports/plan_attainment.csv",
    responses=_RESPONSES,
    response_class=StreamingResponse,
    summary="Each plan indicator's attainment per period as CSV (streamed)",
)
async def export_plan_attainment_csv(
    request: Request, principal: Exporter, call_id: CallFilter = None
) -> StreamingResponse:
    """One row per plan, period and indicator: baseline, target, actual and attainment
    as exact decimals."""
    return PLAN_ATTAINMENT.csv(request, principal, call_id)


@router.get(
    "/v1/exports/plan_attainment.parquet",
    responses=_RESPONSES,
    response_class=StreamingResponse,
    summary="Each plan indicator's attainment per period as Parquet (streamed)",
)
async def export_plan_attainment_parquet(
    request: Request, principal: Exporter, call_id: CallFilter = None
) -> StreamingResponse:
    """The CSV export's columns with their types."""
    return PLAN_ATTAINMENT.parquet(request, principal, call_id)


@router.get(
    "/v1/exports/plan_budget.csv",
    responses=_RESPONSES,
    response_class=StreamingResponse,
    summary="Each plan support measure's budget as CSV (streamed)",
)
async def export_plan_budget_csv(
    request: Request, principal: Exporter, call_id: CallFilter = None
) -> StreamingResponse:
    """One row per support measure: amount, planned and disbursed (accepted reports
    only), exact decimals."""
    return PLAN_BUDGET.csv(request, principal, call_id)


@router.get(
    "/v1/exports/plan_budget.parquet",
    responses=_RESPONSES,
    response_class=StreamingResponse,
    summary="Each plan support measure's budget as Parquet (streamed)",
)
async def export_plan_budget_parquet(
    request: Request, principal: Exporter, call_id: CallFilter = None
) -> StreamingResponse:
    """The CSV export's columns with their types."""
    return PLAN_BUDGET.parquet(request, principal, call_id)


@router.get(
    "/v1/exports/plan_overdue.csv",
    responses=_RESPONSES,
    response_class=StreamingResponse,
    summary="What plan tracking marked overdue as CSV (streamed)",
)
async def export_plan_overdue_csv(
    request: Request, principal: Exporter, call_id: CallFilter = None
) -> StreamingResponse:
    """One row per milestone or report the plans service's timers marked overdue."""
    return PLAN_OVERDUE.csv(request, principal, call_id)


@router.get(
    "/v1/exports/plan_overdue.parquet",
    responses=_RESPONSES,
    response_class=StreamingResponse,
    summary="What plan tracking marked overdue as Parquet (streamed)",
)
async def export_plan_overdue_parquet(
    request: Request, principal: Exporter, call_id: CallFilter = None
) -> StreamingResponse:
    """The CSV export's columns with their types."""
    return PLAN_OVERDUE.parquet(request, principal, call_id)
