"""Streamed CSV and Parquet exports of the read models an analyst may see, and what every
export shares: CSV values, the streamed CSV and Parquet bodies, and a sink that hands
Parquet's bytes on as they are written.

The applications' and the ranking's exports live beside their JSON routes
(`api/applications.py`, `api/scoring.py`); the read models exported here have no filter but
the call, so one description per read model says it all: its rows, its columns with their
Arrow types, and which columns name a person.

Who may export what follows the JSON routes (`scope.scoring_scope`): operators, auditors and
admins every column; analysts every row without the columns that name a person (experts'
ids and names, the reasons people wrote about people); nobody else (403). An applicant reads
its own rows through the JSON routes: an export is a whole read model.
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
from konkurs_readside.api.parameters import Identifier
from konkurs_readside.api.scope import STAFF, scoring_scope

router = APIRouter(tags=["exports"])

EXPORTERS = (*STAFF, Role.ANALYST)
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
    source, and whether it names a person (then staff only)."""

    name: str
    type: pa.DataType
    sql: str
    personal: bool = False


@dataclass(frozen=True)
class TableExport:
    """A read model as an export: its rows (`source`, a FROM clause over the schema `{s}`,
    in `order`), the column its call is in, and its columns."""

    name: str
    source: str
    call_column: str
    order: str
    columns: tuple[Column, ...]

    def visible(self, principal: Principal) -> list[Column]:
        """The columns `principal` may read."""
        pii = scoring_scope(principal).pii
        return [c for c in self.columns if pii or not c.personal]

    async def rows(self, request: Request, columns: Sequence[Column], call_id: str | None) -> Rows:
        """The rows in chunks, read through a server-side cursor in one read-only
        transaction: one consistent snapshot, and memory stays flat however large the
        read model."""
        schema: str = request.app.state.schema
        selected = ", ".join(f'{c.sql} AS "{c.name}"' for c in columns)
        sql = (
            f"SELECT {selected} "
            f"FROM {self.source.format(s=schema)} "
            f"WHERE ($1::text IS NULL OR {self.call_column} = $1) ORDER BY {self.order}"
        )
        async with request.app.state.pool.acquire() as conn, conn.transaction(readonly=True):
            chunk: list[Sequence[Any]] = []
            async for row in conn.cursor(sql, call_id, prefetch=CHUNK_ROWS):
                chunk.append(tuple(row.values()))
                if len(chunk) == CHUNK_ROWS:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk

    def csv(self, request: Request, principal: Principal, call_id: str | None) -> StreamingResponse:
        """The export as CSV for `principal`."""
        columns = self.visible(principal)
        return csv_response(
            f"{self.name}.csv", [c.name for c in columns], self.rows(request, columns, call_id)
        )

    def parquet(
        self, request: Request, principal: Principal, call_id: str | None
    ) -> StreamingResponse:
        """The export as Parquet for `principal`."""
        columns = self.visible(principal)
        return parquet_response(
            f"{self.name}.parquet",
            pa.schema([(c.name, c.type) for c in columns]),
            self.rows(request, columns, call_id),
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
        Column("expert_id", pa.string(), "x.expert_id", personal=True),
        Column("expert_name", pa.string(), "ex.name", personal=True),
        Column("reason", pa.string(), "x.reason", personal=True),
        Column("conflict_nature", pa.string(), "x.conflict_nature", personal=True),
        Column("unassignment_reason", pa.string(), "x.unassignment_reason", personal=True),
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
        Column("drafting_experts", _TEXTS, "e.drafting", personal=True),
        Column("submitted_experts", _TEXTS, "e.submitted", personal=True),
        Column("rapporteur", pa.string(), "e.rapporteur", personal=True),
    ),
)

_RESPONSES = problem_responses(401, 403, 422)
Exporter = Annotated[Principal, Depends(require(*EXPORTERS))]


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
