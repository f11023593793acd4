"""HTTP: erase a data subject, answer an access request, report retention runs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from konkurs_platform.auth import Principal, Role, require
from konkurs_platform.domain import DomainError
from konkurs_platform.problems import problem_responses
from konkurs_platform.service import command_metadata, domain_problem
from konkurs_privacy.api.deps import Privacy, privacy
from konkurs_privacy.app.erasure import as_markdown
from konkurs_privacy.domain.subjects import EraseSubject

router = APIRouter(prefix="/v1", tags=["privacy"])

OPERATORS = (Role.OPERATOR, Role.ADMIN)
SubjectId = Annotated[
    str,
    Query(
        min_length=1,
        max_length=300,
        pattern=r"^[\x21-\x7e]+$",
        examples=["application-…/content.contact"],
    ),
]


class ErasureBody(BaseModel):
    """Whom to erase and why."""

    subject_id: str = Field(min_length=1, max_length=300, pattern=r"^[\x21-\x7e]+$")
    reason: str = Field(min_length=1, max_length=2000)


@router.post(
    "/erasures",
    status_code=201,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Erase a data subject: destroy its key, record who, when and why",
)
async def erase_subject(
    body: ErasureBody,
    service: Annotated[Privacy, Depends(privacy)],
    principal: Annotated[Principal, Depends(require(*OPERATORS))],
) -> dict[str, Any]:
    """From the answer on, every sealed value of the subject reads as erased; the events
    keep their bytes."""
    now = service.clock()
    command = EraseSubject(body.subject_id, body.reason, now)
    try:
        async with service.pool.acquire() as conn, conn.transaction():
            outcome = await service.erasures.handle_erase_subject(
                command, command_metadata(principal), conn
            )
    except DomainError as refusal:
        raise domain_problem(refusal) from refusal
    return {"subject_id": body.subject_id, "erased_at": now.isoformat(), "version": outcome.version}


@router.get(
    "/subjects/access-request",
    responses={**problem_responses(401, 403, 404, 422), 200: {"content": {"text/markdown": {}}}},
    summary="Everything konkurs holds about one data subject",
)
async def access_request(
    subject_id: SubjectId,
    service: Annotated[Privacy, Depends(privacy)],
    _: Annotated[Principal, Depends(require(*OPERATORS))],
    format: Literal["json", "markdown"] = "json",
) -> Any:
    """The document for the operator to send: JSON, or Markdown (`format=markdown`)."""
    try:
        async with service.pool.acquire() as conn:
            document = await service.erasures.access_request(conn, subject_id, service.clock())
    except DomainError as refusal:
        raise domain_problem(refusal) from refusal
    if format == "markdown":
        return PlainTextResponse(as_markdown(document), media_type="text/markdown")
    return document


@router.get(
    "/retention/runs",
    responses=problem_responses(401, 403),
    summary="What retention erased: each run, its rule and the subjects",
)
async def retention_runs(
    service: Annotated[Privacy, Depends(privacy)],
    _: Annotated[Principal, Depends(require(Role.OPERATOR, Role.ADMIN, Role.AUDITOR))],
) -> list[dict[str, Any]]:
    """The report of every retention run, the latest first."""
    async with service.pool.acquire() as conn:
        runs = await service.erasures.book.runs(conn)
    return [
        {**r, "due_at": r["due_at"].isoformat(), "ran_at": r["ran_at"].isoformat()} for r in runs
    ]
