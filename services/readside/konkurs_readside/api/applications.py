"""`GET /v1/applications` (filters, sorting, keyset pagination), `GET /v1/applications/{id}`
with its revision history, and the streamed CSV and Parquet exports."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import pyarrow as pa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from konkurs_platform.auth import Principal, authenticated, forbidden
from konkurs_platform.problems import (
    NOT_FOUND,
    VALIDATION_FAILED,
    FieldError,
    Problem,
    problem_responses,
)
from konkurs_readside.api.exports import Rows, csv_response, cursor_chunks, parquet_response
from konkurs_readside.api.parameters import (
    MAX_REPEATS,
    Cursor,
    Identifier,
    OkedCode,
    RegionCode,
    Status,
)
from konkurs_readside.api.scope import PII_COLUMNS, Scope, Where, scope_of
from konkurs_readside.storable import NUL

router = APIRouter(tags=["applications"])

Sort = Literal[
    "submitted_at",
    "-submitted_at",
    "registration_number",
    "-registration_number",
    "cluster_name",
    "-cluster_name",
    "last_changed_at",
    "-last_changed_at",
]
_TIME_KEYS = frozenset({"submitted_at", "last_changed_at"})

LIST_COLUMNS = (
    "application_id",
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
    "illustrative",
    "submitted_at",
    "last_changed_at",
    "withdrawn_at",
    "stream_version",
    *PII_COLUMNS,
)


def _schema(request: Request) -> str:
    schema: str = request.app.state.schema
    return schema


@dataclass(frozen=True)
class Filters:
    """The query parameters every applications query shares."""

    call_id: str | None
    region: list[str] | None
    status: list[Status] | None
    specialisation: str | None

    def where(self, scope: Scope) -> Where:
        w = Where()
        scope.restrict(w)
        if self.call_id is not None:
            w.add("call_id = {0}", self.call_id)
        if self.region:
            w.add("region_code = ANY({0}::text[])", self.region)
        if self.status:
            w.add("status = ANY({0}::text[])", self.status)
        if self.specialisation is not None:
            w.add("specialisation @> ARRAY[{0}]::text[]", self.specialisation)
        return w


def filters(
    call_id: Annotated[
        Identifier | None, Query(description="Only this call's applications.")
    ] = None,
    region: Annotated[
        list[RegionCode] | None,
        Query(description="Region codes, e.g. KZ-75; repeat for several.", max_length=MAX_REPEATS),
    ] = None,
    status: Annotated[
        list[Status] | None,
        Query(description="Statuses (submitted, withdrawn); repeatable.", max_length=MAX_REPEATS),
    ] = None,
    specialisation: Annotated[
        OkedCode | None, Query(description="An OKED code among the cluster's specialisations.")
    ] = None,
) -> Filters:
    """The filters of the query string; FastAPI refuses values outside their form (422)."""
    return Filters(call_id, region, status, specialisation)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def application_summary(row: Any, scope: Scope) -> dict[str, Any]:
    """One applications row as the API shows it to `scope`."""
    out: dict[str, Any] = {
        "application_id": row["application_id"],
        "call_id": row["call_id"],
        "registration_number": row["registration_number"],
        "status": row["status"],
        "revision": row["revision"],
        "cluster_name": row["cluster_name"],
        "region_code": row["region_code"],
        "specialisation": list(row["specialisation"]),
        "coordinator": {"bin": row["coordinator_bin"], "name": row["coordinator_name"]},
        "participant_count": row["participant_count"],
        "requested_support": {
            "currency": row["currency"],
            "minor_units": row["requested_support_minor"],
        },
        "co_financing": {
            "currency": row["currency"],
            "minor_units": row["co_financing_minor"],
            "share_percent": row["co_financing_share_percent"],
        },
        "document_count": row["document_count"],
        "illustrative": row["illustrative"],
        "submitted_at": _iso(row["submitted_at"]),
        "last_changed_at": _iso(row["last_changed_at"]),
        "withdrawn_at": _iso(row["withdrawn_at"]),
        "version": row["stream_version"],
    }
    if scope.pii:
        out["contact"] = {
            "name": row["contact_name"],
            "phone": row["contact_phone"],
            "email": row["contact_email"],
        }
    return out


def _content(raw: str, scope: Scope) -> dict[str, Any]:
    content: dict[str, Any] = json.loads(raw)
    if not scope.pii:
        content.pop("contact", None)
    return content


# --- keyset pagination -------------------------------------------------------------------


def _encode_cursor(sort: str, key: Any, application_id: str) -> str:
    value = key.isoformat() if isinstance(key, datetime) else key
    raw = json.dumps([sort, value, application_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: str) -> tuple[Any, str]:
    """The sort key and application id that a cursor issued for `sort` resumes after; a 422
    problem for anything this API did not issue."""

    def bad(reason: str) -> Problem:
        return Problem(
            VALIDATION_FAILED,
            f"The cursor is not valid: {reason}.",
            errors=[FieldError.of_parameter("query", "cursor", reason)],
        )

    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        cursor_sort, value, application_id = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(value, str) or not isinstance(application_id, str):
            raise TypeError("cursor values are strings")
        # The values go to PostgreSQL as parameters: a NUL would fail the query (text cannot
        # hold one), and a time must be one this API issues: aware, in range once in UTC.
        if NUL in value or NUL in application_id:
            raise ValueError("NUL in a cursor value")
        key: Any = value
        if sort.lstrip("-") in _TIME_KEYS:
            key = datetime.fromisoformat(value)
            if key.tzinfo is None:
                raise ValueError("a cursor time is never naive")
            key = key.astimezone(UTC)
    except (ValueError, TypeError, OverflowError, binascii.Error):
        raise bad("it was not issued by this API") from None
    if cursor_sort != sort:
        raise bad(f"it belongs to sort={cursor_sort}, not sort={sort}")
    return key, application_id


@router.get(
    "/v1/applications",
    responses=problem_responses(401, 403, 422),
    summary="Applications, filtered and sorted, a page at a time",
)
async def list_applications(
    request: Request,
    principal: Annotated[Principal, Depends(authenticated)],
    f: Annotated[Filters, Depends(filters)],
    sort: Annotated[Sort, Query(description="Sort key; a leading '-' sorts descending.")] = (
        "submitted_at"
    ),
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[Cursor | None, Query(description="next_cursor of the previous page.")] = None,
) -> dict[str, Any]:
    """A page of the applications the caller may see; `next_cursor` fetches the next one.

    Keyset pagination: a page starts after the last (sort key, application id) of the
    previous one, so pages stay consistent while applications arrive, and a deep page costs
    what the first one does.
    """
    scope = scope_of(request, principal)
    w = f.where(scope)
    column = sort.lstrip("-")
    descending = sort.startswith("-")
    if cursor is not None:
        key, after = _decode_cursor(cursor, sort)
        w.add(f"({column}, application_id) {'<' if descending else '>'} ({{0}}, {{1}})", key, after)
    direction = "DESC" if descending else "ASC"
    sql = (
        f"SELECT {', '.join(LIST_COLUMNS)} FROM {_schema(request)}.applications "
        f"WHERE {w.sql()} ORDER BY {column} {direction}, application_id {direction} "
        f"LIMIT {limit + 1}"
    )
    async with request.app.state.pool.acquire() as conn:
        rows = await conn.fetch(sql, *w.params)
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = _encode_cursor(sort, last[column], last["application_id"])
    return {"items": [application_summary(r, scope) for r in page], "next_cursor": next_cursor}


@router.get(
    "/v1/applications/{application_id}",
    responses=problem_responses(401, 403, 404),
    summary="An application with its revision history",
)
async def get_application(
    application_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(authenticated)],
) -> dict[str, Any]:
    """The application's latest state, every revision of its content, and its journal."""
    scope = scope_of(request, principal)
    s = _schema(request)
    async with request.app.state.pool.acquire() as conn:
        row = await conn.fetchrow(
            f"SELECT {', '.join(LIST_COLUMNS)}, content, withdrawal_reason "
            f"FROM {s}.applications WHERE application_id = $1",
            application_id,
        )
        if row is None:
            raise Problem(NOT_FOUND, f"No application {application_id} in the read model (yet).")
        if not scope.allows(row):
            raise forbidden(request, principal, "this application is outside the caller's scope")
        revisions = await conn.fetch(
            f"SELECT revision, stream_version, occurred_at, actor_subject, actor_role, content "
            f"FROM {s}.application_revisions WHERE application_id = $1 ORDER BY revision",
            application_id,
        )
        history = await conn.fetch(
            f"SELECT stream_version, entry, detail, occurred_at, recorded_at, actor_subject, "
            f"actor_role FROM {s}.registration_journal WHERE application_id = $1 "
            "ORDER BY stream_version",
            application_id,
        )
    out = application_summary(row, scope)
    out["withdrawal_reason"] = row["withdrawal_reason"]
    out["content"] = _content(row["content"], scope)
    out["revisions"] = [
        {
            "revision": r["revision"],
            "version": r["stream_version"],
            "occurred_at": _iso(r["occurred_at"]),
            "actor": actor(r, scope),
            "content": _content(r["content"], scope),
        }
        for r in revisions
    ]
    out["history"] = [
        {
            "version": h["stream_version"],
            "entry": h["entry"],
            "detail": h["detail"],
            "occurred_at": _iso(h["occurred_at"]),
            "recorded_at": _iso(h["recorded_at"]),
            "actor": actor(h, scope),
        }
        for h in history
    ]
    return out


def actor(row: Any, scope: Scope) -> dict[str, Any]:
    """Who acted; the subject names a person, so analysts get only the role."""
    out: dict[str, Any] = {"role": row["actor_role"]}
    if scope.pii:
        out["subject"] = row["actor_subject"]
    return out


# --- exports -----------------------------------------------------------------------------

# The export's columns, in order, with their Arrow types (CSV writes the same columns).
_EXPORT_FIELDS: tuple[tuple[str, pa.DataType], ...] = (
    ("application_id", pa.string()),
    ("call_id", pa.string()),
    ("registration_number", pa.string()),
    ("status", pa.string()),
    ("revision", pa.int32()),
    ("cluster_name", pa.string()),
    ("region_code", pa.string()),
    ("specialisation", pa.list_(pa.string())),
    ("coordinator_bin", pa.string()),
    ("coordinator_name", pa.string()),
    ("participant_count", pa.int32()),
    ("currency", pa.string()),
    ("requested_support_minor", pa.int64()),
    ("co_financing_minor", pa.int64()),
    ("co_financing_share_percent", pa.int32()),
    ("document_count", pa.int32()),
    ("illustrative", pa.bool_()),
    ("submitted_at", pa.timestamp("us", tz="UTC")),
    ("last_changed_at", pa.timestamp("us", tz="UTC")),
    ("withdrawn_at", pa.timestamp("us", tz="UTC")),
    ("contact_name", pa.string()),
    ("contact_phone", pa.string()),
    ("contact_email", pa.string()),
)
_CHUNK_ROWS = 5000


def _export_fields(scope: Scope) -> list[tuple[str, pa.DataType]]:
    return [(n, t) for n, t in _EXPORT_FIELDS if scope.pii or n not in PII_COLUMNS]


def _export_rows(request: Request, scope: Scope, f: Filters, names: list[str]) -> Rows:
    """The rows the caller may see, `names` in order, in chunks (`cursor_chunks`)."""
    w = f.where(scope)
    sql = (
        f"SELECT {', '.join(names)} FROM {_schema(request)}.applications WHERE {w.sql()} "
        "ORDER BY call_id, registration_number, application_id"
    )
    return cursor_chunks(request, sql, *w.params, size=_CHUNK_ROWS)


@router.get(
    "/v1/exports/applications.csv",
    responses=problem_responses(401, 403),
    response_class=StreamingResponse,
    summary="The applications read model as CSV (streamed)",
)
async def export_csv(
    request: Request,
    principal: Annotated[Principal, Depends(authenticated)],
    f: Annotated[Filters, Depends(filters)],
) -> StreamingResponse:
    """Every application the caller may see, one CSV row each; without personal data for
    analysts. List columns (specialisation) are joined with ';'."""
    scope = scope_of(request, principal)
    names = [n for n, _ in _export_fields(scope)]
    return csv_response("applications.csv", names, _export_rows(request, scope, f, names))


@router.get(
    "/v1/exports/applications.parquet",
    responses=problem_responses(401, 403),
    response_class=StreamingResponse,
    summary="The applications read model as Parquet (streamed)",
)
async def export_parquet(
    request: Request,
    principal: Annotated[Principal, Depends(authenticated)],
    f: Annotated[Filters, Depends(filters)],
) -> StreamingResponse:
    """Every application the caller may see as a Parquet file, one row group per chunk of
    rows, each sent as soon as it is written; without personal data for analysts."""
    scope = scope_of(request, principal)
    schema = pa.schema(_export_fields(scope))
    rows = _export_rows(request, scope, f, schema.names)
    return parquet_response("applications.parquet", schema, rows)
