"""Every event says what caused it: a request's events name the request (issue 13, item 6)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from test_http_conventions import body

from konkurs_intake.bootstrap import create_app
from konkurs_platform.auth import Role, mint_token
from konkurs_platform.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            yield client


async def test_a_request_is_the_cause_of_the_events_it_appends(
    http: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    headers = {"Authorization": f"Bearer {mint_token(settings, Role.OPERATOR, 'tester')}"}
    call_id = f"cause-{uuid.uuid4().hex[:8]}"
    first = await http.post("/v1/calls", json=body(call_id), headers=headers)
    assert first.status_code == 201, first.text
    request_id = first.headers["X-Request-ID"]
    uuid.UUID(request_id)
    async with pool.acquire() as conn:
        causes = await conn.fetch(
            "SELECT causation_id FROM intake.events WHERE stream_id = $1", f"call-{call_id}"
        )
    assert [r["causation_id"] for r in causes] == [f"request:{request_id}"]

    # The correlation id is the client's to choose; the request id never is.
    again = await http.get(
        f"/v1/calls/{call_id}", headers={**headers, "X-Correlation-ID": "conv-1"}
    )
    assert again.headers["X-Correlation-ID"] == "conv-1"
    assert again.headers["X-Request-ID"] != request_id
