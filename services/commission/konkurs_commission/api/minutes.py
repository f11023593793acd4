"""HTTP: a meeting's minutes as a document, HTML or PDF, in Russian, Kazakh or English.

The secretary, the members (the chair too), auditors and admins read the whole minutes at any
time. An applicant reads them only once the decision is published, and then redacted for its
own application (`domain.minutes.redacted_for`): the token's organisation is the BIN of the
coordinator of an application on the agenda. To an applicant whose organisation has no
application on the agenda, or before publication, the minutes do not exist (404), so a
refusal tells nothing about a meeting it has no part in.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from konkurs_commission.api.deps import commission
from konkurs_commission.app.minutes import CommissionState, load_minutes
from konkurs_commission.domain.minutes import redacted_for
from konkurs_commission.minutes_documents import render_html, render_pdf
from konkurs_platform.auth import Principal, Role, require
from konkurs_platform.problems import NOT_FOUND, Problem, problem_responses
from konkurs_platform.service import refusals_as_problems
from konkurs_platform.web import Identifier

router = APIRouter(tags=["minutes"])

READERS = (
    Role.COMMISSION_SECRETARY,
    Role.COMMISSION_MEMBER,
    Role.AUDITOR,
    Role.ADMIN,
    Role.APPLICANT,
)
HTML = "text/html"
PDF = "application/pdf"
Format = Literal["html", "pdf"]
Language = Literal["ru", "kk", "en"]


def _format(request: Request, asked: Format | None) -> Format:
    """The query's `format`, else what `Accept` prefers of HTML and PDF; HTML by default."""
    if asked is not None:
        return asked
    accept = request.headers.get("accept", "")
    ranked: list[tuple[float, int, Format]] = []
    for position, item in enumerate(accept.split(",")):
        media, _, params = item.strip().partition(";")
        quality = 1.0
        if match := re.search(r"q=([0-9.]+)", params):
            try:
                quality = float(match.group(1))
            except ValueError:
                quality = 0.0
        if media.strip().lower() == PDF:
            ranked.append((quality, -position, "pdf"))
        elif media.strip().lower() == HTML:
            ranked.append((quality, -position, "html"))
    ranked = [r for r in ranked if r[0] > 0]
    return max(ranked)[2] if ranked else "html"


def _filename(meeting_id: str, lang: str, extension: str) -> str:
    # The meeting id is printable (Identifier) but may hold quotes or slashes.
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", meeting_id)
    return f'inline; filename="minutes-{safe}-{lang}.{extension}"'


@router.get(
    "/v1/meetings/{meeting_id}/minutes",
    responses={
        **problem_responses(401, 403, 404, 422),
        200: {
            "description": "The minutes as an HTML page or a PDF document.",
            "content": {HTML: {}, PDF: {}},
        },
    },
    response_class=Response,
    summary="A meeting's minutes as HTML or PDF, in Russian, Kazakh or English",
)
async def get_minutes(
    meeting_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(require(*READERS))],
    state: Annotated[CommissionState, Depends(commission)],
    lang: Annotated[Language, Query(description="The language of the document.")] = "ru",
    format: Annotated[
        Format | None,
        Query(description="html or pdf; when left out, the Accept header decides (HTML first)."),
    ] = None,
) -> Response:
    """The minutes as the events give them, members named; an applicant's redacted for its
    application and only after publication."""
    with refusals_as_problems():
        minutes, info = await load_minutes(state, meeting_id)
    redacted: str | None = None
    if principal.role is Role.APPLICANT:
        own = [
            a
            for a in info.application_ids
            if info.coordinator_bins.get(a) == principal.organisation
        ]
        if not own or not info.published:
            raise Problem(NOT_FOUND, f"No published minutes of meeting {meeting_id} for you.")
        # One application per coordinator on an agenda; were there two, the extract for the
        # first hides the second's confidential content too, which errs on the safe side.
        redacted = own[0]
        minutes = redacted_for(minutes, redacted)
    chosen = _format(request, format)
    headers = {
        "Content-Language": lang,
        "Vary": "Accept",
        # Names of people and, for the commission, applicants' confidential content.
        "Cache-Control": "private, no-store",
    }
    if chosen == "pdf":
        # Laying out and subsetting the fonts takes a while: off the event loop.
        body = await run_in_threadpool(render_pdf, minutes, lang, redacted_for=redacted)
        headers["Content-Disposition"] = _filename(meeting_id, lang, "pdf")
        return Response(body, media_type=PDF, headers=headers)
    page = render_html(minutes, lang, redacted_for=redacted)
    return Response(page, media_type=f"{HTML}; charset=utf-8", headers=headers)
