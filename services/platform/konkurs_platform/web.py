"""The HTTP conventions every konkurs service shares, applied by one `create_app`.

What `create_app` gives a service:

- problem details for every error (`konkurs_platform.problems`); an unexpected exception is
  logged with its traceback and answered 500 with a generic problem, never the traceback;
- `X-Correlation-ID`: taken from the request when well-formed (at most 128 characters of
  `[A-Za-z0-9._:-]`), generated (uuid4) otherwise, bound for logging
  (`konkurs_platform.logs`), echoed on the response and quoted in problem bodies;
- one JSON log line per request (logger `konkurs.http`: method, path, route, status,
  duration_ms; DEBUG for the health and metrics endpoints, so probes do not drown the log);
- a request body limit: `settings.max_body_bytes` bytes, refused with 413 whether the client
  declares a larger `Content-Length` or streams past the limit without one. A bulk route
  raises its own limit with FastAPI's per-route parameter, which this middleware honours:
  `@router.post("/calls/{call_id}/applications:batch",
  max_body_size=settings.max_batch_body_bytes)` (an `include_router(..., max_body_size=)`
  applies to every route of that router);
- `/healthz` (alive), `/readyz` (every ready check passes within `READY_TIMEOUT`), `/metrics`
  (Prometheus text, from a registry of the app's own, `app.state.metrics_registry`, where the
  service registers its own metrics too);
- `/docs` (Swagger UI) and `/redoc` with their scripts, styles and icon served from the
  package (`docs_assets/`, under `/docs/assets`), never from a CDN: government networks are
  often closed, and there FastAPI's default pages stay blank;
- `app.state.settings`, `app.state.service` and `app.state.token_verifier` (used by
  `konkurs_platform.auth`).

Versioned resources: answer with `ETag: etag_for(version)`; a write reads
`parse_if_match(request.headers.get("If-Match"))`. When the stream's current version differs
from the If-Match version, or the append finds the expected version taken, raise
`version_conflict(if_match)`: 412 when the client sent If-Match (its copy is stale), 409 when
it did not (another writer got in first).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Annotated, Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.routing import RouteContext, iter_route_contexts
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from pydantic import StringConstraints
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Lifespan, Message, Receive, Scope, Send

from konkurs_platform.auth import TokenVerifier
from konkurs_platform.logs import bind_correlation_id, bind_request_id, configure_logging
from konkurs_platform.problems import (
    BAD_REQUEST,
    CONTENT_TOO_LARGE,
    INTERNAL_ERROR,
    NOT_READY,
    PRECONDITION_FAILED,
    UNSUPPORTED_MEDIA_TYPE,
    VERSION_CONFLICT,
    FieldError,
    Problem,
    catalogue_markdown,
    document_problems,
    install_problem_handlers,
    problem_response,
    problem_responses,
)
from konkurs_platform.settings import Settings
from konkurs_platform.spec import by_name, discover

log = logging.getLogger("konkurs.http")

CORRELATION_HEADER = "X-Correlation-ID"
# Each request's own id: answered in this header, logged with the request, and recorded as
# the `causation_id` of the events the request appends ("request:<id>").
REQUEST_ID_HEADER = "X-Request-ID"
READY_TIMEOUT = 2.0  # seconds; an orchestrator's probe usually gives up after a few more

ReadyCheck = Callable[[], Awaitable[None]]
ReadyDetail = Callable[[], Awaitable[Any]]

_CORRELATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_UNMATCHED = "unmatched"


# Names the service whose API `service_app_from_env` builds: set by `konkurs api` for the
# worker processes uvicorn starts, which import the factory by name and pass it nothing.
API_SERVICE_ENV = "KONKURS_API_SERVICE"
SERVICE_APP_FACTORY = "konkurs_platform.web:service_app_from_env"


def service_app_from_env() -> FastAPI:
    """The HTTP API of the service named by `KONKURS_API_SERVICE`, with its settings read
    from the environment and its logging configured: the zero-argument factory uvicorn's
    worker processes import as `SERVICE_APP_FACTORY` (each process builds its own app, with
    its own pool, from the registered service's `spec.api` factory)."""
    spec = by_name(discover(), os.environ[API_SERVICE_ENV])
    if spec.api is None:
        raise LookupError(f"{spec.name} has no HTTP API")
    settings = Settings.from_env()
    configure_logging(settings.log_level, spec.name)
    app: FastAPI = spec.api.load()(settings.for_service(spec.name))
    return app


def create_app(
    settings: Settings,
    *,
    service: str,
    title: str,
    version: str,
    description: str,
    ready_checks: Mapping[str, ReadyCheck],
    ready_details: Mapping[str, ReadyDetail] | None = None,
    lifespan: Lifespan[FastAPI] | None = None,
) -> FastAPI:
    """A FastAPI app with the platform's conventions (see the module docstring).

    `ready_checks` are named coroutines that raise when their dependency is unreachable
    (`{"postgres": ..., "kafka": ...}`); `ready_details` are named coroutines whose answer
    `/readyz` shows once the checks pass, never making the service unready (a projection's
    lag); `lifespan` opens and closes the service's resources.
    Logging is configured by the entry point (`configure_logging`), not here: it is process-
    wide, and several apps may live in one test process.
    """
    app = _App(
        title=title,
        version=version,
        description=f"{description}\n\n## Problem types\n\n{catalogue_markdown()}",
        lifespan=lifespan,
        # Replaced by _add_docs_routes: FastAPI's own pages load their assets from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    registry = CollectorRegistry(auto_describe=True)
    app.state.settings = settings
    app.state.service = service
    app.state.token_verifier = TokenVerifier(settings)
    app.state.metrics_registry = registry
    install_problem_handlers(app)
    _add_operational_routes(app, registry, dict(ready_checks), dict(ready_details or {}))
    _add_docs_routes(app)
    # add_middleware wraps what is already there: the last added runs first, so the request
    # middleware sees (and logs) the 413 the body limit answers.
    app.add_middleware(
        BodyLimitMiddleware,
        router_routes=lambda: app.router.routes,
        default_limit=settings.max_body_bytes,
    )
    app.add_middleware(
        RequestContextMiddleware,
        service=service,
        router_routes=lambda: app.router.routes,
        metrics=HttpMetrics(registry),
    )
    return app


class _App(FastAPI):
    def openapi(self) -> dict[str, Any]:
        # FastAPI caches the document in openapi_schema; amend it once, when first built.
        if self.openapi_schema is None:
            self.openapi_schema = document_problems(super().openapi())
        return self.openapi_schema


def _add_operational_routes(
    app: FastAPI,
    registry: CollectorRegistry,
    checks: dict[str, ReadyCheck],
    details: dict[str, ReadyDetail],
) -> None:
    @app.get("/healthz", tags=["operations"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Every dependency is reachable",
        responses=problem_responses(503),
    )
    async def readyz() -> JSONResponse:
        names = list(checks)
        outcomes = await asyncio.gather(*(_run_check(name, checks[name]) for name in names))
        results = dict(zip(names, outcomes, strict=True))
        failed = [name for name, outcome in results.items() if outcome != "ok"]
        if failed:
            raise Problem(
                NOT_READY, f"not ready: {', '.join(failed)}", extensions={"checks": results}
            )
        answer: dict[str, Any] = {"status": "ok", "checks": results}
        for name, detail in details.items():
            answer[name] = await _run_detail(detail)
        return JSONResponse(answer)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


# Swagger UI 5.35.0 (swagger-ui-dist) and Redoc 2.5.4, as their npm packages ship them, with
# their licences beside them (docs_assets/README.md).
DOCS_ASSETS = os.path.join(os.path.dirname(__file__), "docs_assets")
DOCS_ASSETS_PATH = "/docs/assets"
# Nothing but the service itself: Redoc's footer shows its maker's logo from their CDN, which
# a closed network would leave hanging; the inline script is FastAPI's page set-up, the
# inline styles and blob: workers are how both bundles render.
_DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'"
)


def _add_docs_routes(app: FastAPI) -> None:
    """`/docs` and `/redoc`, loading nothing from outside the service."""
    app.mount(DOCS_ASSETS_PATH, StaticFiles(directory=DOCS_ASSETS), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    favicon = f"{DOCS_ASSETS_PATH}/favicon-32x32.png"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> Response:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{DOCS_ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=favicon,
            # Swagger UI would otherwise ask validator.swagger.io to check the document.
            swagger_ui_parameters={"validatorUrl": None},
        )
        page.headers["Content-Security-Policy"] = _DOCS_POLICY
        return page

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> Response:
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{DOCS_ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = _DOCS_POLICY
        return page


async def _run_detail(detail: ReadyDetail) -> Any:
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            return await detail()
    except Exception as exc:  # shown, not fatal: the dependencies answered just now
        return f"unknown: {type(exc).__name__}: {exc}"


async def _run_check(name: str, check: ReadyCheck) -> str:
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await check()
    except TimeoutError:
        log.warning("ready check %s timed out", name, extra={"check": name})
        return f"failed: no answer within {READY_TIMEOUT:g} s"
    except Exception as e:
        log.warning("ready check %s failed", name, exc_info=True, extra={"check": name})
        return f"failed: {type(e).__name__}: {e}"
    return "ok"


# ---------------------------------------------------------------------------------------------
# Middleware, pure ASGI rather than BaseHTTPMiddleware: the body limit must see every
# receive() and the request context every send() (status, correlation header), and neither
# should move the app into a task group of its own.


_ROUTE_KEY = "konkurs.route"


def _route_for(routes: Sequence[BaseRoute], scope: Scope) -> RouteContext | None:
    """The route the router will pick for `scope` (a partial match is a 405).

    Matched once per request and kept in the scope: both middlewares ask, and matching costs
    tens of microseconds.
    """
    if _ROUTE_KEY not in scope:
        scope[_ROUTE_KEY] = _match(routes, scope)
    route: RouteContext | None = scope[_ROUTE_KEY]
    return route


def _match(routes: Sequence[BaseRoute], scope: Scope) -> RouteContext | None:
    partial = None
    # iter_route_contexts flattens included routers with their prefixes and per-router
    # settings; app.router.routes alone holds routers, not routes, since FastAPI 0.137.
    for context in iter_route_contexts(routes):
        match, _ = context.matches(scope)
        if match is Match.FULL:
            return context
        if match is Match.PARTIAL and partial is None:
            partial = context
    return partial


class HttpMetrics:
    """The request counter and latency histogram, labelled by service, method, route template
    (never the raw path: ids in paths would make a series per resource) and status."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["service", "method", "route", "status"]
        self.requests = Counter(
            "konkurs_http_requests", "HTTP requests answered.", labels, registry=registry
        )
        self.duration = Histogram(
            "konkurs_http_request_duration_seconds",
            "Time from receiving a request to sending its last byte.",
            labels,
            registry=registry,
        )

    def observe(self, service: str, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        labels = (service, method if method in _METHODS else "OTHER", route, str(status))
        self.requests.labels(*labels).inc()
        self.duration.labels(*labels).observe(seconds)


class RequestContextMiddleware:
    """Correlation id, request log line, metrics, and the last-resort 500 problem."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        router_routes: Callable[[], Sequence[BaseRoute]],
        metrics: HttpMetrics,
    ) -> None:
        self.app = app
        self.service = service
        self.router_routes = router_routes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        supplied = Headers(scope=scope).get(CORRELATION_HEADER)
        correlation_id = (
            supplied if supplied and _CORRELATION_ID.fullmatch(supplied) else str(uuid.uuid4())
        )
        # Made here, never taken from the client: it names this request in the logs and as
        # the cause of its events, so it must be unique.
        request_id = str(uuid.uuid4())
        # Matched before the app runs: routing rewrites the scope (mounts change its path).
        route = _route_for(self.router_routes(), scope)
        template = route.path_format if route is not None else None
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers.append(CORRELATION_HEADER, correlation_id)
                headers.append(REQUEST_ID_HEADER, request_id)
            await send(message)

        with bind_correlation_id(correlation_id), bind_request_id(request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                log.exception(
                    "unhandled error", extra={"method": scope["method"], "path": scope["path"]}
                )
                if response_started:
                    # Part of the response is on the wire: nothing else can be said.
                    raise
                problem = Problem(
                    INTERNAL_ERROR,
                    "An unexpected error occurred. Quote the correlation_id when reporting it.",
                )
                # Answered here rather than re-raised: the error is logged above with its
                # correlation id, and Starlette's outer handler would log it again without.
                await problem_response(problem, instance=scope["path"])(
                    scope, receive, send_with_id
                )
            finally:
                elapsed = time.perf_counter() - started
                self._record(scope, template, status, elapsed)

    def _record(self, scope: Scope, template: str | None, status: int, seconds: float) -> None:
        method, path = scope["method"], scope["path"]
        self.metrics.observe(self.service, method, template or _UNMATCHED, status, seconds)
        log.log(
            logging.DEBUG if path in _QUIET_PATHS else logging.INFO,
            "%s %s %d",
            method,
            path,
            status,
            extra={
                "method": method,
                "path": path,
                "route": template,
                "status": status,
                "duration_ms": round(seconds * 1000, 1),
            },
        )


class BodyLimitMiddleware:
    """Refuses request bodies larger than the route's limit with a 413 problem.

    The limit is the route's `max_body_size` (FastAPI's per-route and per-router parameter)
    or `default_limit`. A declared `Content-Length` above it is refused before the app runs;
    a body without one (chunked) is counted as it is received and refused when it passes it.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        router_routes: Callable[[], Sequence[BaseRoute]],
        default_limit: int,
    ) -> None:
        self.app = app
        self.router_routes = router_routes
        self.default_limit = default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = _route_for(self.router_routes(), scope)
        route_limit = getattr(route, "max_body_size", None) if route is not None else None
        limit: int = self.default_limit if route_limit is None else route_limit
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await problem_response(_too_large(limit), instance=scope["path"])(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised into whoever reads the body (FastAPI's body parsing or the route);
                    # the problem handlers answer it.
                    raise _too_large(limit)
            return message

        await self.app(scope, counting_receive, send)


def _too_large(limit: int) -> Problem:
    return Problem(CONTENT_TOO_LARGE, f"The request body exceeds the limit of {limit} bytes.")


# ---------------------------------------------------------------------------------------------
# Content types and versions


# An id in a path or a query (a call, an application, an expert, a stream): printable text
# of sensible length. No C0 or C1 control character can name anything, and PostgreSQL
# refuses a NUL outright, so such a value is a 422 naming the parameter, never a 500.
MAX_ID_LENGTH = 200
# The same rule for an id a body names (it may become a stream id, a column, a subject).
ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]+$"
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN)
]


def require_content_type(request: Request, allowed: Collection[str]) -> str:
    """The request's media type (lower case, without parameters) if it is one of `allowed`,
    else a 415 problem whose `Accept` header lists them. For routes that read the body
    themselves, e.g. to take both `application/json` and `application/x-protobuf`."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    accepted = [a.lower() for a in allowed]
    if media_type not in accepted:
        raise Problem(
            UNSUPPORTED_MEDIA_TYPE,
            f"Content-Type {media_type or '(none)'} is not accepted; send one of: "
            f"{', '.join(accepted)}.",
            headers={"Accept": ", ".join(accepted)},
        )
    return media_type


def etag_for(version: int) -> str:
    """The strong ETag of a resource at stream `version`: `"7"`. The URL names the stream,
    so the version alone identifies the representation."""
    return f'"{version}"'


_ENTITY_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"')


def parse_if_match(header: str | None) -> int | None:
    """The version an `If-Match` header names, or None when there is none (or `*`, which
    asks only that the resource exist).

    A header that is not an entity tag, or names several, is a 400 problem. A well-formed tag
    that cannot be one of ours (weak, which If-Match's strong comparison never matches, or not
    a version) is a 412 problem.
    """
    if header is None or header.strip() in ("", "*"):
        return None
    value = header.strip()
    match = _ENTITY_TAG.fullmatch(value)
    if match is None:
        reason = (
            "must name exactly one version" if "," in value else 'must be an entity tag such as "7"'
        )
        raise Problem(
            BAD_REQUEST,
            f"If-Match {reason}.",
            errors=[FieldError.of_parameter("header", "If-Match", reason)],
        )
    weak, tag = match.groups()
    if weak or not tag.isdigit():
        raise Problem(PRECONDITION_FAILED, f"If-Match {value} matches no version of this resource.")
    return int(tag)


def version_conflict(if_match: int | None) -> Problem:
    """The problem for a write that lost to another: 412 when the client sent If-Match (its
    copy is stale), 409 when it did not (a concurrent write got in first)."""
    if if_match is not None:
        return Problem(PRECONDITION_FAILED, f"The resource is no longer at version {if_match}.")
    return Problem(VERSION_CONFLICT, "The resource was changed by another request; retry.")
