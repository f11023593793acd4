"""The shared HTTP conventions: body limits, correlation ids, health, metrics, versions, logs."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request

from konkurs_platform import web
from konkurs_platform.logs import (
    JsonFormatter,
    bind_correlation_id,
    configure_logging,
    get_correlation_id,
)
from konkurs_platform.problems import Problem
from konkurs_platform.settings import Settings
from konkurs_platform.web import (
    create_app,
    etag_for,
    parse_if_match,
    require_content_type,
    version_conflict,
)

LIMIT = 1000
BATCH_LIMIT = 5000


async def reachable() -> None:
    return None


async def refused() -> None:
    raise ConnectionRefusedError("connection refused by 127.0.0.1:5433")


async def silent() -> None:
    await asyncio.sleep(10)


def build_app(ready_checks: dict[str, web.ReadyCheck] | None = None) -> FastAPI:
    settings = Settings(max_body_bytes=LIMIT, max_batch_body_bytes=BATCH_LIMIT)
    app = create_app(
        settings,
        service="intake",
        title="intake",
        version="0",
        description="",
        ready_checks=ready_checks or {"postgres": reachable},
    )

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, Any]:
        return {"bytes": len(await request.body()), "correlation_id": get_correlation_id()}

    @app.post("/json")
    async def parsed(body: dict[str, Any]) -> dict[str, int]:
        return {"keys": len(body)}

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("password=hunter2 in /srv/konkurs/secret.py")

    @app.put("/versioned")
    async def versioned(request: Request) -> dict[str, Any]:
        media_type = require_content_type(request, ["application/json", "application/x-protobuf"])
        return {
            "media_type": media_type,
            "if_match": parse_if_match(request.headers.get("If-Match")),
        }

    batches = APIRouter()

    @batches.post("/calls/{call_id}/applications:batch", max_body_size=BATCH_LIMIT)
    async def batch(call_id: int, request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    app.include_router(batches, prefix="/v1")
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(build_app()) as c:
        yield c


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def chunks(total: int, size: int = 256) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b"x" * piece


# --- body limit ---------------------------------------------------------------------------------


async def test_a_body_within_the_limit_is_read(client: httpx.AsyncClient) -> None:
    response = await client.post("/echo", content=b"x" * LIMIT)
    assert response.json()["bytes"] == LIMIT


async def test_oversize_content_length_is_413_before_the_route_runs(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/echo", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "https://konkurs.kz/problems/content-too-large"
    assert str(LIMIT) in problem["detail"]


async def test_oversize_chunked_body_is_413_when_it_streams_past_the_limit(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/echo", "/json"):
        response = await client.post(path, content=chunks(LIMIT + 100))
        assert response.status_code == 413, path
        assert response.json()["type"] == "https://konkurs.kz/problems/content-too-large"


async def test_a_bulk_route_accepts_up_to_its_own_limit(client: httpx.AsyncClient) -> None:
    path = "/v1/calls/7/applications:batch"
    declared = await client.post(path, content=b"x" * BATCH_LIMIT)
    assert declared.json() == {"bytes": BATCH_LIMIT}
    streamed = await client.post(path, content=chunks(BATCH_LIMIT))
    assert streamed.json() == {"bytes": BATCH_LIMIT}
    assert (await client.post(path, content=b"x" * (BATCH_LIMIT + 1))).status_code == 413
    assert (await client.post(path, content=chunks(BATCH_LIMIT + 1))).status_code == 413


# --- correlation id -----------------------------------------------------------------------------


async def test_correlation_id_is_echoed_and_bound(client: httpx.AsyncClient) -> None:
    response = await client.post("/echo", headers={"X-Correlation-ID": "batch-17:row.3"})
    assert response.headers["x-correlation-id"] == "batch-17:row.3"
    assert response.json()["correlation_id"] == "batch-17:row.3"


@pytest.mark.parametrize("supplied", [None, "", "has space", "x" * 129, "<script>"])
async def test_correlation_id_is_generated_when_missing_or_malformed(
    client: httpx.AsyncClient, supplied: str | None
) -> None:
    headers = {} if supplied is None else {"X-Correlation-ID": supplied}
    response = await client.post("/echo", headers=headers)
    generated = response.headers["x-correlation-id"]
    assert generated != supplied and len(generated) == 36
    assert response.json()["correlation_id"] == generated


# --- errors -------------------------------------------------------------------------------------


async def test_a_500_leaks_no_traceback_and_is_logged_with_the_correlation_id(
    client: httpx.AsyncClient, captured: io.StringIO
) -> None:
    response = await client.get("/boom", headers={"X-Correlation-ID": "c-500"})
    assert response.status_code == 500
    assert response.headers["x-correlation-id"] == "c-500"
    problem = response.json()
    assert problem["type"] == "https://konkurs.kz/problems/internal-error"
    assert problem["correlation_id"] == "c-500"
    for leak in ("Traceback", "RuntimeError", "hunter2", "secret.py", "test_web"):
        assert leak not in response.text
    [logged] = [line for line in lines(captured) if line["msg"] == "unhandled error"]
    assert logged["correlation_id"] == "c-500"
    assert logged["level"] == "ERROR"
    assert "RuntimeError" in logged["exc"]


# --- health and metrics -------------------------------------------------------------------------


async def test_healthz_is_always_ok() -> None:
    async with client_for(build_app({"postgres": refused})) as c:
        response = await c.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_200_when_every_check_passes(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"postgres": "ok"}}


async def test_readyz_is_503_naming_the_failed_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web, "READY_TIMEOUT", 0.05)
    app = build_app({"postgres": reachable, "kafka": refused, "schema-registry": silent})
    async with client_for(app) as c:
        response = await c.get("/readyz")
    assert response.status_code == 503
    problem = response.json()
    assert problem["type"] == "https://konkurs.kz/problems/not-ready"
    assert problem["checks"]["postgres"] == "ok"
    assert problem["checks"]["kafka"].startswith("failed: ConnectionRefusedError")
    assert problem["checks"]["schema-registry"] == "failed: no answer within 0.05 s"
    assert "kafka" in problem["detail"] and "postgres" not in problem["detail"]


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/items/41")
    await client.get("/items/42")
    await client.post("/v1/calls/7/applications:batch", content=b"{}")
    await client.get("/nowhere/5")
    response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert (
        'konkurs_http_requests_total{method="GET",route="/items/{item_id}",'
        'service="intake",status="200"} 2.0'
    ) in text
    assert 'route="/v1/calls/{call_id}/applications:batch"' in text
    assert 'route="unmatched",service="intake",status="404"' in text
    assert "/items/41" not in text
    assert "konkurs_http_request_duration_seconds_bucket" in text


async def test_two_apps_in_one_process_keep_their_own_metrics() -> None:
    first, second = build_app(), build_app()
    async with client_for(first) as c:
        await c.get("/items/1")
    async with client_for(second) as c:
        text = (await c.get("/metrics")).text
    assert 'route="/items/{item_id}"' not in text


# --- content types and versions -----------------------------------------------------------------


async def test_an_unlisted_content_type_is_415(client: httpx.AsyncClient) -> None:
    response = await client.put("/versioned", content=b"a,b", headers={"content-type": "text/csv"})
    assert response.status_code == 415
    assert response.json()["type"] == "https://konkurs.kz/problems/unsupported-media-type"
    assert response.headers["accept"] == "application/json, application/x-protobuf"


async def test_the_content_type_is_returned_without_parameters(client: httpx.AsyncClient) -> None:
    headers = {"content-type": "Application/JSON; charset=utf-8", "If-Match": '"7"'}
    response = await client.put("/versioned", content=b"{}", headers=headers)
    assert response.json() == {"media_type": "application/json", "if_match": 7}


def test_etag_is_the_quoted_version_and_parses_back() -> None:
    assert etag_for(7) == '"7"'
    assert parse_if_match(etag_for(7)) == 7


@pytest.mark.parametrize("header", [None, "", "*"])
def test_no_if_match_means_no_version_precondition(header: str | None) -> None:
    assert parse_if_match(header) is None


@pytest.mark.parametrize("header", ["7", '"7", "8"', '"7'])
def test_a_malformed_if_match_is_400(header: str) -> None:
    with pytest.raises(Problem) as caught:
        parse_if_match(header)
    assert caught.value.status_code == 400
    [error] = caught.value.errors
    assert error.parameter == "If-Match"


@pytest.mark.parametrize("header", ['W/"7"', '"abc"'])
def test_an_if_match_that_names_no_version_is_412(header: str) -> None:
    with pytest.raises(Problem) as caught:
        parse_if_match(header)
    assert caught.value.status_code == 412


def test_a_lost_write_is_412_with_if_match_and_409_without() -> None:
    assert version_conflict(7).status_code == 412
    assert version_conflict(None).status_code == 409
    assert version_conflict(None).kind.slug == "version-conflict"


# --- logs ---------------------------------------------------------------------------------------


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The JSON lines the platform's loggers write while the test runs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("intake"))
    loggers = [logging.getLogger(name) for name in ("konkurs.http", "konkurs.test")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield stream
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_each_request_is_one_json_line(
    client: httpx.AsyncClient, captured: io.StringIO
) -> None:
    await client.get("/items/3", headers={"X-Correlation-ID": "c-1"})
    [line] = lines(captured)
    assert line["service"] == "intake"
    assert line["correlation_id"] == "c-1"
    assert (line["method"], line["path"], line["route"], line["status"]) == (
        "GET",
        "/items/3",
        "/items/{item_id}",
        200,
    )
    assert line["level"] == "INFO" and line["duration_ms"] >= 0


def test_a_log_line_carries_extra_fields_and_the_bound_correlation_id(
    captured: io.StringIO,
) -> None:
    with bind_correlation_id("c-2"):
        logging.getLogger("konkurs.test").info("appended %d events", 3, extra={"stream": "a-1"})
    assert get_correlation_id() is None
    [line] = lines(captured)
    assert line["msg"] == "appended 3 events"
    assert line["stream"] == "a-1"
    assert line["correlation_id"] == "c-2"
    assert line["logger"] == "konkurs.test"
    assert line["ts"].endswith("+00:00")


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """configure_logging changes process-wide state: put it back after the test."""
    names = ["", "uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"]
    loggers = [logging.getLogger(name) for name in names]
    saved = [(lg.handlers[:], lg.filters[:], lg.level, lg.propagate) for lg in loggers]
    yield
    for logger, (handlers, filters, level, propagate) in zip(loggers, saved, strict=True):
        logger.handlers[:] = handlers
        logger.filters[:] = filters
        logger.setLevel(level)
        logger.propagate = propagate


def test_uvicorn_access_lines_become_structured_json_once(
    restored_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", "intake")
    configure_logging("INFO", "intake")
    access = logging.getLogger("uvicorn.access")
    access.info('%s - "%s %s HTTP/%s" %d', "10.0.0.1:5000", "GET", "/healthz", "1.1", 200)
    [line] = [json.loads(text) for text in capsys.readouterr().err.splitlines()]
    assert line["logger"] == "uvicorn.access" and line["service"] == "intake"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz", 200)
