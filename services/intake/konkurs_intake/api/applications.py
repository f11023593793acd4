"""HTTP: submit, amend, withdraw and read applications; file and fetch their documents;
bulk intake and the historical import.

Each route parses the request, calls one handler of `konkurs_intake.app.applications` and
answers. Who may act on an application (its region, its coordinator) is checked by
`_scope`, which the handlers call once they know the application.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from konkurs_intake.api import batch
from konkurs_intake.api.bodies import (
    MALFORMED_PROTOBUF,
    MEDIA_TYPES,
    ApplicationBody,
    content_json,
    document_json,
    parse_application,
    parse_json_model,
)
from konkurs_intake.api.calls import CallIdPath
from konkurs_intake.api.deps import Intake, intake
from konkurs_intake.api.errors import (
    APPLICATION_NOT_FOUND,
    DOCUMENT_TYPE_MISMATCH,
    DOMAIN_PROBLEMS,
    INVALID_APPLICATION,
    PRECONDITION_REQUIRED,
    problem_of,
)
from konkurs_intake.api.text import Line, Prose
from konkurs_intake.api.uploads import (
    DOCUMENT_MEDIA_TYPES,
    MAX_DOCUMENT_BYTES,
    attachment,
    content_mismatch,
)
from konkurs_intake.app.applications import Authorise, Submission
from konkurs_intake.domain.applications import Application, ApplicationState, Document
from konkurs_platform.auth import Principal, Role, forbidden, require
from konkurs_platform.db import Connection
from konkurs_platform.domain import DomainError
from konkurs_platform.problems import (
    NOT_FOUND,
    VALIDATION_FAILED,
    FieldError,
    Problem,
    problem_responses,
)
from konkurs_platform.ratelimit import TOO_MANY_REQUESTS, limit_writes
from konkurs_platform.service import command_metadata, idempotent, refusals_as_problems
from konkurs_platform.settings import Settings
from konkurs_platform.web import etag_for, parse_if_match, require_content_type

SUBMITTERS = (Role.APPLICANT, Role.REGIONAL_OPERATOR)
READERS = (Role.APPLICANT, Role.REGIONAL_OPERATOR, Role.OPERATOR, Role.ADMIN, Role.AUDITOR)
IMPORTERS = (Role.OPERATOR,)
BATCH_SUBMITTERS = (Role.REGIONAL_OPERATOR, Role.OPERATOR)

_BODY_PROBLEMS = (400, 413, 415, 422, MALFORMED_PROTOBUF, INVALID_APPLICATION, TOO_MANY_REQUESTS)

# Writes are limited per caller (429 with Retry-After); reads are not.
router = APIRouter(prefix="/v1", tags=["applications"], dependencies=[Depends(limit_writes)])
# The bulk route alone takes the larger body limit (`create_router`).
batch_router = APIRouter(prefix="/v1", tags=["applications"], dependencies=[Depends(limit_writes)])


def create_router(settings: Settings) -> APIRouter:
    """The application routes; the bulk route takes `settings.max_batch_body_bytes`."""
    routes = APIRouter()
    routes.include_router(router)
    routes.include_router(batch_router, max_body_size=settings.max_batch_body_bytes)
    return routes


# Views ------------------------------------------------------------------------------------


class SubmittedView(BaseModel):
    """The answer to a submission."""

    application_id: uuid.UUID
    call_id: str
    registration_number: str = Field(
        description="Unique within the call; a gapless series per region: "
        "<region>-<year the call opens>-<number>, e.g. KZ-75-2017-0004.",
        examples=["KZ-75-2017-0004"],
    )
    status: Literal["submitted", "withdrawn"]
    revision: int
    version: int = Field(description="The stream version; also the ETag.")


class DocumentView(BaseModel):
    kind: str
    filename: str
    media_type: str
    size_bytes: int
    sha256: str


class ApplicationView(SubmittedView):
    """An application as it stands (or stood, for a revision or `as_of`)."""

    illustrative: bool
    imported: bool = Field(description="Recorded through the historical-import path.")
    submitted_at: datetime
    updated_at: datetime
    withdrawal_reason: str | None = None
    content: ApplicationBody
    documents: list[DocumentView] = Field(
        description="Every document on file: the revision's and those attached since."
    )


def _summary(state: Application, version: int) -> dict[str, Any]:
    return {
        "application_id": state.application_id,
        "call_id": state.call_id,
        "registration_number": state.registration_number,
        "status": state.status.value,
        "revision": state.revision,
        "version": version,
    }


def _answer(state: ApplicationState, version: int, status: int = 200) -> JSONResponse:
    assert isinstance(state, Application)
    return JSONResponse(
        _summary(state, version),
        status_code=status,
        headers={
            "ETag": etag_for(version),
            "Location": f"/v1/applications/{state.application_id}",
        },
    )


# Scope ------------------------------------------------------------------------------------


def check_scope(request: Request, principal: Principal, region: str, coordinator: str) -> None:
    """An applicant acts for its own organisation, a regional operator for its region."""
    if principal.role is Role.APPLICANT and principal.organisation != coordinator:
        raise forbidden(
            request, principal, "an applicant acts only for its own organisation (coordinator BIN)"
        )
    if principal.role is Role.REGIONAL_OPERATOR and principal.region != region:
        raise forbidden(
            request, principal, f"a regional operator acts only for its region {principal.region}"
        )


def _scope(request: Request, principal: Principal) -> Authorise:
    """`check_scope` for the handlers, which call it once they know the application."""
    return lambda region, coordinator: check_scope(request, principal, region, coordinator)


async def _read_body(request: Request) -> ApplicationBody:
    media_type = require_content_type(request, MEDIA_TYPES)
    return parse_application(await request.body(), media_type)


def _content_body() -> dict[str, Any]:
    """OpenAPI: the routes that read the body themselves take JSON or protobuf."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ApplicationBody"}},
                "application/x-protobuf": {
                    "schema": {
                        "type": "string",
                        "format": "binary",
                        "description": "konkurs.intake.v1.ApplicationContent",
                    }
                },
            },
        }
    }


class ImportBody(BaseModel):
    """An application received on paper or by an earlier system."""

    model_config = ConfigDict(extra="forbid")
    application_id: uuid.UUID | None = Field(
        None, description="Keep the earlier system's id; a new one is made when absent."
    )
    received_at: AwareDatetime = Field(
        description="When the application was received: the events occur then."
    )
    illustrative: bool = Field(False, description="Demo data, invented from public figures.")
    application: ApplicationBody


class WithdrawBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Prose = Field(min_length=1, max_length=2000)


@router.post(
    "/calls/{call_id}/applications",
    status_code=201,
    response_model=SubmittedView,
    responses=problem_responses(401, 403, 404, 409, *_BODY_PROBLEMS, *DOMAIN_PROBLEMS),
    openapi_extra=_content_body(),
    summary="Submit an application",
)
async def submit_application(
    call_id: CallIdPath,
    request: Request,
    principal: Annotated[Principal, Depends(require(*SUBMITTERS))],
    svc: Annotated[Intake, Depends(intake)],
) -> Response:
    """Submit a cluster's application to an open call: JSON or
    `application/x-protobuf` (`konkurs.intake.v1.ApplicationContent`). An applicant
    submits for its own organisation (the coordinator's BIN), a regional operator for
    its region. Send `Idempotency-Key` to make a retry safe."""
    content = (await _read_body(request)).domain()
    submission = Submission(str(uuid.uuid4()), call_id, content, new_id=True)
    now = svc.clock()

    async def run(conn: Connection) -> Response:
        with refusals_as_problems(None, problem_of):
            outcome = await svc.applications.handle_submit_application(
                submission, now, command_metadata(principal), conn, _scope(request, principal)
            )
        return _answer(outcome.state, outcome.version, 201)

    return await idempotent(request, principal, svc.pool, svc.idempotency, run)


@router.post(
    "/calls/{call_id}/applications:import",
    status_code=201,
    response_model=SubmittedView,
    responses=problem_responses(401, 403, 404, 409, *_BODY_PROBLEMS, *DOMAIN_PROBLEMS),
    summary="Import a historical application (operators)",
)
async def import_application(
    call_id: CallIdPath,
    request: Request,
    principal: Annotated[Principal, Depends(require(*IMPORTERS))],
    svc: Annotated[Intake, Depends(intake)],
) -> Response:
    """Record an application received on paper or by an earlier system. Its events occur
    at `received_at`, which must lie within the call's window, and are marked as
    imported; a live submission always occurs at the server's clock."""
    require_content_type(request, ("application/json",))
    body = parse_json_model(ImportBody, await request.body())
    if body.received_at > svc.clock():
        raise Problem(
            VALIDATION_FAILED,
            "An import records the past.",
            errors=[FieldError("/received_at", "lies in the future")],
        )
    application_id = str(body.application_id or uuid.uuid4())
    submission = Submission(application_id, call_id, body.application.domain(), body.illustrative)

    async def run(conn: Connection) -> Response:
        with refusals_as_problems(None, problem_of):
            outcome = await svc.applications.handle_submit_application(
                submission, body.received_at, command_metadata(principal, imported=True), conn
            )
        return _answer(outcome.state, outcome.version, 201)

    return await idempotent(request, principal, svc.pool, svc.idempotency, run)


@batch_router.post(
    "/calls/{call_id}/applications:batch",
    response_model=None,
    responses={
        200: {
            "description": "One JSON line per input line or message, in input order: "
            '`{"line": 3, "status": 201, "application_id": ..., "registration_number": '
            '...}` or `{"line": 4, "status": 422, "problem": {...}}`.',
            "content": {"application/x-ndjson": {"schema": batch.RESULT_LINES_SCHEMA}},
        },
        **problem_responses(401, 403, 413, 415, TOO_MANY_REQUESTS),
    },
    openapi_extra={"requestBody": batch.REQUEST_BODY},
    summary="Submit many applications (regional operators, migrations)",
)
async def submit_batch(
    call_id: CallIdPath,
    request: Request,
    principal: Annotated[Principal, Depends(require(*BATCH_SUBMITTERS))],
    svc: Annotated[Intake, Depends(intake)],
) -> Response:
    """Thousands of applications in one request, read as a stream: JSON lines
    (`application/x-ndjson`, one `ApplicationBody` a line) or length-delimited protobuf.
    Each line is submitted on its own: valid lines are accepted even when others fail, and
    the answer has one result per line. With `Idempotency-Key`, a retried batch replays
    each line's first result instead of submitting it again."""
    media_type = require_content_type(request, batch.MEDIA_TYPES)
    settings: Settings = request.app.state.settings
    results = await batch.submit_all(
        request, principal, svc, call_id, media_type, settings.max_body_bytes, check_scope
    )

    def lines() -> Iterator[bytes]:
        with results:
            yield from results

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.get(
    "/applications/{application_id}",
    response_model=ApplicationView,
    responses=problem_responses(400, 401, 403, 404, APPLICATION_NOT_FOUND),
    summary="An application, as it stands or stood",
)
async def get_application(
    application_id: uuid.UUID,
    request: Request,
    principal: Annotated[Principal, Depends(require(*READERS))],
    svc: Annotated[Intake, Depends(intake)],
    as_of: Annotated[
        AwareDatetime | None,
        Query(description="Show the application exactly as it stood at this instant."),
    ] = None,
) -> Response:
    """Read from the event store: strongly consistent with every acknowledged write."""
    return await _read(request, principal, svc, str(application_id), as_of=as_of)


@router.get(
    "/applications/{application_id}/revisions/{revision}",
    response_model=ApplicationView,
    responses=problem_responses(401, 403, 404, APPLICATION_NOT_FOUND),
    summary="One revision of an application",
)
async def get_revision(
    application_id: uuid.UUID,
    revision: Annotated[int, Field(ge=1)],
    request: Request,
    principal: Annotated[Principal, Depends(require(*READERS))],
    svc: Annotated[Intake, Depends(intake)],
) -> Response:
    """Revision 1 is the submission, 2 the first amendment, and so on."""
    return await _read(request, principal, svc, str(application_id), revision=revision)


@router.put(
    "/applications/{application_id}",
    response_model=SubmittedView,
    responses=problem_responses(
        401, 403, 404, 409, 412, PRECONDITION_REQUIRED, *_BODY_PROBLEMS, *DOMAIN_PROBLEMS
    ),
    openapi_extra=_content_body(),
    summary="Amend an application until the call closes",
)
async def amend_application(
    application_id: uuid.UUID,
    request: Request,
    principal: Annotated[Principal, Depends(require(*SUBMITTERS))],
    svc: Annotated[Intake, Depends(intake)],
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Replace the content (documents included) with a new revision. `If-Match` with the
    ETag you read is required: 412 if the application changed since."""
    expected = _required_if_match(if_match)
    content = (await _read_body(request)).domain()
    async with svc.pool.acquire() as conn, conn.transaction():
        with refusals_as_problems(expected, problem_of):
            outcome = await svc.applications.handle_amend_application(
                str(application_id),
                content,
                svc.clock(),
                command_metadata(principal),
                conn,
                expected,
                _scope(request, principal),
            )
    return _answer(outcome.state, outcome.version)


@router.post(
    "/applications/{application_id}/withdrawal",
    response_model=SubmittedView,
    responses=problem_responses(
        400, 401, 403, 404, 409, 412, 413, 415, 422, TOO_MANY_REQUESTS, *DOMAIN_PROBLEMS
    ),
    summary="Withdraw an application until the call closes",
)
async def withdraw_application(
    application_id: uuid.UUID,
    body: WithdrawBody,
    request: Request,
    principal: Annotated[Principal, Depends(require(*SUBMITTERS))],
    svc: Annotated[Intake, Depends(intake)],
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The application is not screened or scored any further. Withdrawing twice changes
    nothing."""
    expected = parse_if_match(if_match)
    async with svc.pool.acquire() as conn, conn.transaction():
        with refusals_as_problems(expected, problem_of):
            outcome = await svc.applications.handle_withdraw_application(
                str(application_id),
                body.reason,
                svc.clock(),
                command_metadata(principal),
                conn,
                expected,
                _scope(request, principal),
            )
    return _answer(outcome.state, outcome.version)


@router.post(
    "/applications/{application_id}/documents",
    status_code=201,
    response_model=DocumentView,
    max_body_size=MAX_DOCUMENT_BYTES,
    responses=problem_responses(
        400,
        401,
        403,
        404,
        409,
        413,
        415,
        422,
        DOCUMENT_TYPE_MISMATCH,
        TOO_MANY_REQUESTS,
        *DOMAIN_PROBLEMS,
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}} for t in DOCUMENT_MEDIA_TYPES
            },
        }
    },
    summary="File a document with an application",
)
async def attach_document(
    application_id: uuid.UUID,
    request: Request,
    principal: Annotated[Principal, Depends(require(*SUBMITTERS))],
    svc: Annotated[Intake, Depends(intake)],
    kind: Annotated[str, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", examples=["charter"])],
    filename: Annotated[Line, Query(min_length=1, max_length=255)],
) -> Response:
    """The body is the file itself (at most 20 MiB; PDF, JPEG, PNG, Word or Excel), and
    must be what its `Content-Type` says (the bytes are checked). It is stored apart from
    the events, addressed by its SHA-256, which DocumentAttached records. Filing the same
    bytes again changes nothing."""
    media_type = require_content_type(request, DOCUMENT_MEDIA_TYPES)
    content = await request.body()
    if not content:
        raise Problem(
            VALIDATION_FAILED, "The document is empty.", errors=[FieldError("", "is empty")]
        )
    if mismatch := content_mismatch(content, media_type):
        raise Problem(
            DOCUMENT_TYPE_MISMATCH,
            f"The document's Content-Type {mismatch}.",
            errors=[FieldError.of_parameter("header", "Content-Type", mismatch)],
        )
    sha256 = hashlib.sha256(content).hexdigest()
    document = Document(kind, filename, media_type, len(content), sha256)
    async with svc.pool.acquire() as conn, conn.transaction():
        with refusals_as_problems(None, problem_of):
            outcome = await svc.applications.handle_attach_document(
                str(application_id),
                document,
                content,
                svc.clock(),
                command_metadata(principal),
                conn,
                _scope(request, principal),
            )
    return JSONResponse(
        document_json(document),
        status_code=201,
        headers={
            "ETag": etag_for(outcome.version),
            "Location": f"/v1/applications/{application_id}/documents/{sha256}",
        },
    )


@router.get(
    "/applications/{application_id}/documents/{sha256}",
    response_class=Response,
    responses={
        200: {
            "description": "The document's bytes, as an attachment",
            "content": {t: {} for t in DOCUMENT_MEDIA_TYPES},
        },
        **problem_responses(401, 403, 404, APPLICATION_NOT_FOUND),
    },
    summary="Download a document filed with an application",
)
async def download_document(
    application_id: uuid.UUID,
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")],
    request: Request,
    principal: Annotated[Principal, Depends(require(*READERS))],
    svc: Annotated[Intake, Depends(intake)],
) -> Response:
    """Any document the application ever filed, by the SHA-256 its events record. It is
    sent as an attachment under its filename, never to be rendered by the browser."""
    try:
        filed = await svc.applications.filed_document(
            str(application_id), sha256, _scope(request, principal)
        )
    except DomainError as exc:
        raise problem_of(exc) from exc
    if filed is None:
        raise Problem(NOT_FOUND, "No document with this SHA-256 is on file for the application.")
    return Response(
        filed.content,
        media_type=filed.media_type,
        headers={
            "ETag": f'"{sha256}"',
            "Cache-Control": "private, max-age=31536000, immutable",
            "Content-Disposition": attachment(filed.document.filename),
            "X-Content-Type-Options": "nosniff",
        },
    )


def _required_if_match(header: str | None) -> int:
    expected = parse_if_match(header)
    if expected is None:
        raise Problem(
            PRECONDITION_REQUIRED,
            "Send If-Match with the ETag of the application you amend.",
            errors=[FieldError.of_parameter("header", "If-Match", "is required")],
        )
    return expected


async def _read(
    request: Request,
    principal: Principal,
    svc: Intake,
    application_id: str,
    *,
    revision: int | None = None,
    as_of: datetime | None = None,
) -> Response:
    found = await svc.applications.revision(application_id, revision=revision, as_of=as_of)
    if found is None:
        what = f"revision {revision} of " if revision else ""
        when = f" at {as_of.isoformat()}" if as_of else ""
        raise Problem(
            APPLICATION_NOT_FOUND, f"There is no {what}application {application_id}{when}."
        )
    state = found.state
    check_scope(
        request, principal, state.content.cluster.region_code, state.content.coordinator.bin
    )
    first, last = found.history[0], found.history[-1]
    view = {
        **_summary(state, found.version),
        "illustrative": state.illustrative,
        "imported": first.imported,
        "submitted_at": first.occurred_at.isoformat(),
        "updated_at": last.occurred_at.isoformat(),
        "withdrawal_reason": state.withdrawal_reason or None,
        "content": content_json(state.content),
        "documents": [document_json(d) for d in state.documents],
    }
    return Response(
        json.dumps(view, ensure_ascii=False),
        media_type="application/json",
        headers={"ETag": etag_for(found.version)},
    )
