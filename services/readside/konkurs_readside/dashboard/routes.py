"""`/dashboard`: the programme in server-rendered pages (Jinja2, escaped by default), in
Kazakh, Russian and English, for the roles that may read it (`access`).

Each page handler reads its figures through `queries` and renders one template. A refused or
unknown page is the platform's problem document for API clients, and a page in the browser's
language for browsers (`DashboardRoute`): the sign-in form for a 401.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from konkurs_platform.auth import InvalidToken, Principal, TokenVerifier, log_denial
from konkurs_platform.problems import NOT_FOUND, Problem
from konkurs_readside.api.audit import event_entry as audit_entry
from konkurs_readside.api.parameters import Identifier
from konkurs_readside.dashboard import queries
from konkurs_readside.dashboard.access import (
    AUDITORS,
    CSRF_COOKIE,
    LANGUAGE_COOKIE,
    READERS,
    SESSION_COOKIE,
    allow,
    form_fields,
    insider,
    new_csrf_token,
    personal_data_visible,
    set_cookie,
)
from konkurs_readside.dashboard.i18n import LANGUAGE_NAMES, LANGUAGES, Language, Words, choose

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
# The files the pages link to, and nothing else from that folder.
ASSETS = {"dashboard.css": "text/css; charset=utf-8"}

_templates = Environment(
    loader=PackageLoader("konkurs_readside.dashboard", "templates"),
    # Every value is escaped unless a template says otherwise (none does): names, reasons
    # and payloads come from events, and an event may carry any string its producer took.
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

LangParam = Annotated[
    Language | None, Query(description="kk, ru or en; the browser's choice when left out.")
]


def _words(request: Request, lang: str | None, time_zone: str = "Asia/Almaty") -> Words:
    chosen = choose(
        lang, request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")
    )
    return Words(chosen, time_zone)


async def _freshness(request: Request) -> dict[str, Any]:
    """The projection lag in events (None when Kafka does not answer now) and when the
    newest projected event was recorded."""
    try:
        measured = await request.app.state.lag.measure()
        lag: int | None = max(m["lag"] for m in measured.values())
    except Exception:  # the page still shows what the read models hold
        log.warning("projection lag not measured for the dashboard", exc_info=True)
        lag = None
    async with request.app.state.pool.acquire() as conn:
        last = await queries.last_projected(conn, request.app.state.schema)
    return {"lag": lag, "last": last}


async def _render(
    request: Request,
    template: str,
    words: Words,
    principal: Principal | None,
    *,
    status: int = 200,
    lang_param: str | None = None,
    **context: Any,
) -> HTMLResponse:
    # One CSRF token per browser session, kept while the cookie lives, so that several
    # open pages can each still sign in or out.
    csrf = request.cookies.get(CSRF_COOKIE) or new_csrf_token()
    page = _templates.get_template(template).render(
        t=words,
        principal=principal,
        path=request.url.path,
        languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        freshness=await _freshness(request) if principal is not None else None,
        csrf=csrf,
        **context,
    )
    response = HTMLResponse(page, status_code=status)
    set_cookie(request, response, CSRF_COOKIE, csrf)
    if lang_param is not None:
        # The switch holds for the next pages too, which link without `lang`.
        set_cookie(request, response, LANGUAGE_COOKIE, lang_param)
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


async def _login_page(request: Request, status: int, error: bool = False) -> HTMLResponse:
    words = _words(request, request.query_params.get("lang"))
    return await _render(request, "login.html", words, None, status=status, error=error)


class DashboardRoute(APIRoute):
    """A dashboard route: a 401, 403 or 404 problem becomes a page when a browser asked."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except Problem as problem:
                if problem.status_code not in (401, 403, 404) or not _wants_html(request):
                    raise
                if problem.status_code == 401:
                    return await _login_page(request, 401)
                words = _words(request, request.query_params.get("lang"))
                key = "forbidden" if problem.status_code == 403 else "not_found"
                return await _render(
                    request, "message.html", words, None, status=problem.status_code, key=key
                )

        return answer


router = APIRouter(tags=["dashboard"], route_class=DashboardRoute)


@router.get(
    "/dashboard/login",
    response_class=HTMLResponse,
    summary="The dashboard's sign-in form",
)
async def login_form(request: Request, lang: LangParam = None) -> HTMLResponse:
    """A form that takes a token (as `konkurs token` mints it) and keeps it in a cookie."""
    return await _login_page(request, 200)


@router.post(
    "/dashboard/login",
    response_class=HTMLResponse,
    summary="Sign in: the token into an HttpOnly, SameSite=Strict cookie",
)
async def login(request: Request) -> Response:
    """Verify the form's token; keep it in the session cookie and go to the dashboard, or
    show the form again with a 401."""
    fields = await form_fields(request)
    token = fields.get("token", "").strip()
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        verifier.verify(token)
    except InvalidToken as refused:
        log_denial(request, None, 401, f"dashboard sign-in: {refused.reason}")
        return await _login_page(request, 401, error=True)
    response = RedirectResponse("/dashboard", status_code=303)
    set_cookie(request, response, SESSION_COOKIE, token)
    return response


@router.post("/dashboard/logout", summary="Sign out: the session cookie removed")
async def logout(request: Request) -> Response:
    await form_fields(request)
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/dashboard")
    return response


@router.get("/dashboard/static/{name}", include_in_schema=False)
async def static_asset(name: str) -> Response:
    if name not in ASSETS:
        raise Problem(NOT_FOUND, "No such asset.")
    return FileResponse(STATIC / name, media_type=ASSETS[name])


@router.get("/dashboard", response_class=HTMLResponse, summary="The calls")
async def calls_page(
    request: Request,
    principal: Annotated[Principal, Depends(allow(*READERS))],
    lang: LangParam = None,
) -> HTMLResponse:
    """Every call in the read model, each linking to its pages."""
    async with request.app.state.pool.acquire() as conn:
        rows = await queries.calls(conn, request.app.state.schema)
    return await _render(
        request,
        "calls.html",
        _words(request, lang),
        principal,
        lang_param=lang,
        calls=rows,
    )


async def _call_or_404(conn: Any, schema: str, call_id: str) -> Any:
    row = await queries.call(conn, schema, call_id)
    if row is None:
        raise Problem(NOT_FOUND, f"No call {call_id} in the read model (yet).")
    return row


@router.get(
    "/dashboard/calls/{call_id}",
    response_class=HTMLResponse,
    summary="A call's overview: funnel, regions, sectors, applications",
)
async def overview_page(
    call_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(allow(*READERS))],
    lang: LangParam = None,
) -> HTMLResponse:
    """The funnel from received to plans on track, the applications by region (for the
    2017 call, the press release's table) and by sector, and the applications themselves;
    contact persons only for staff."""
    people = personal_data_visible(principal)
    async with request.app.state.pool.acquire() as conn:
        call = await _call_or_404(conn, request.app.state.schema, call_id)
        view = await queries.overview(
            conn, request.app.state.schema, call, people=people, insider=insider(principal)
        )
    return await _render(
        request,
        "overview.html",
        _words(request, lang, call["time_zone"]),
        principal,
        lang_param=lang,
        view=view,
        call=call,
        people=people,
        tab="overview",
    )


@router.get(
    "/dashboard/calls/{call_id}/evaluation",
    response_class=HTMLResponse,
    summary="A call's evaluation: score distributions, the ranking, consensus cases",
)
async def evaluation_page(
    call_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(allow(*READERS))],
    lang: LangParam = None,
) -> HTMLResponse:
    """The distribution of every criterion's scores, the latest ranking with the line the
    thresholds draw, and the panels that needed a consensus (rapporteurs for staff only)."""
    people = personal_data_visible(principal)
    async with request.app.state.pool.acquire() as conn:
        call = await _call_or_404(conn, request.app.state.schema, call_id)
        view = await queries.evaluation(conn, request.app.state.schema, call_id, people=people)
    return await _render(
        request,
        "evaluation.html",
        _words(request, lang, call["time_zone"]),
        principal,
        lang_param=lang,
        view=view,
        call=call,
        people=people,
        tab="evaluation",
    )


@router.get(
    "/dashboard/calls/{call_id}/commission",
    response_class=HTMLResponse,
    summary="A call's commission decisions: tallies, recusals, rationales",
)
async def commission_page(
    call_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(allow(*READERS))],
    lang: LangParam = None,
) -> HTMLResponse:
    """Each decision the caller may see (published ones; also those not yet published for
    the commission and the staff): the candidates selected and declined with their tallies,
    the rationale of a departure from the ranking, the reserve list and the recusals."""
    async with request.app.state.pool.acquire() as conn:
        call = await _call_or_404(conn, request.app.state.schema, call_id)
        view = await queries.decisions(
            conn, request.app.state.schema, call_id, insider=insider(principal)
        )
    return await _render(
        request,
        "commission.html",
        _words(request, lang, call["time_zone"]),
        principal,
        lang_param=lang,
        decisions=view,
        call=call,
        insider=insider(principal),
        tab="commission",
    )


@router.get(
    "/dashboard/calls/{call_id}/plans",
    response_class=HTMLResponse,
    summary="A call's development plans: milestones, indicators, budget, overdue items",
)
async def plans_page(
    call_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(allow(*READERS))],
    lang: LangParam = None,
) -> HTMLResponse:
    """Each selected cluster's plan: its milestones on a timeline (met, late, upcoming), its
    indicators against their targets, its budget execution; and the open overdue items."""
    async with request.app.state.pool.acquire() as conn:
        call = await _call_or_404(conn, request.app.state.schema, call_id)
        view = await queries.plans(conn, request.app.state.schema, call_id)
    return await _render(
        request,
        "plans.html",
        _words(request, lang, call["time_zone"]),
        principal,
        lang_param=lang,
        view=view,
        call=call,
        tab="plans",
    )


def _history_entry(row: Any) -> dict[str, Any]:
    """An audit log row as the audit API shows it, with its payload as readable text (an
    undecodable one: the start of its envelope) and its time for formatting."""
    entry = audit_entry(row)
    payload = entry["payload"]
    entry["payload_text"] = (
        json.dumps(payload, ensure_ascii=False, indent=2)
        if payload is not None
        else f"({entry['envelope_base64'][:60]}…)"
    )
    entry["occurred"] = row["occurred_at"]
    return entry


@router.get(
    "/dashboard/applications/{application_id}/audit",
    response_class=HTMLResponse,
    summary="An application's whole history, event by event",
)
async def audit_page(
    application_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(allow(*AUDITORS))],
    lang: LangParam = None,
) -> HTMLResponse:
    """Every event of every stream of the application (its submission and amendments, its
    screening, assignments and evaluation, and what later services record about it), in the
    audit log's order, with who acted, what caused it and the payload."""
    async with request.app.state.pool.acquire() as conn:
        rows = await queries.application_history(conn, request.app.state.schema, application_id)
    if not rows:
        raise Problem(NOT_FOUND, f"No events of application {application_id} in the audit log.")
    return await _render(
        request,
        "audit.html",
        _words(request, lang),
        principal,
        lang_param=lang,
        application_id=application_id,
        events=[_history_entry(r) for r in rows],
    )
