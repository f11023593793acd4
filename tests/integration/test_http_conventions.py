"""The HTTP conventions every service shares, exercised on intake's calls against the real
database: Idempotency-Key, ETag and If-Match, denied requests leaving no trace, readiness."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

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


def auth(settings: Settings, role: Role = Role.OPERATOR, **claims: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, role, 'tester', **claims)}"}


def body(call_id: str) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "call_id": call_id,
        "title": {"kk": "Өңірлік кластерлер", "ru": "Региональные кластеры"},
        "programme": "conventions",
        "opens_at": (now + timedelta(days=10)).isoformat(),
        "closes_at": (now + timedelta(days=40)).isoformat(),
        "quota": 3,
        "region_set": "current",
        "regions": ["KZ-79"],
        "eligibility": {
            "min_participants": 3,
            "min_sme_share_percent": 40,
            "require_university_or_research": False,
        },
        "methodology": {
            "criteria": [
                {"id": "c", "name": {"en": "C"}, "weight": 100, "kind": "expert", "threshold": 2}
            ],
            "overall_threshold": 50,
        },
    }


async def events_of(pool: asyncpg.Pool, call_id: str) -> int:
    async with pool.acquire() as conn:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM intake.events WHERE stream_id = $1", f"call-{call_id}"
            )
        )


async def test_a_replayed_idempotency_key_returns_the_first_answer_and_appends_once(
    http: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    call_id = f"idem-{uuid.uuid4().hex[:8]}"
    payload, headers = body(call_id), auth(settings) | {"Idempotency-Key": call_id}
    first = await http.post("/v1/calls", json=payload, headers=headers)
    again = await http.post("/v1/calls", json=payload, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"] == '"1"'
    assert again.headers["idempotent-replayed"] == "true"
    assert await events_of(pool, call_id) == 1


async def test_the_same_key_with_a_different_body_is_422_and_changes_nothing(
    http: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    call_id = f"idem-{uuid.uuid4().hex[:8]}"
    headers = auth(settings) | {"Idempotency-Key": call_id}
    assert (await http.post("/v1/calls", json=body(call_id), headers=headers)).status_code == 201
    other = body(f"{call_id}-b")
    answer = await http.post("/v1/calls", json=other, headers=headers)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"][0]["parameter"] == "Idempotency-Key"
    assert await events_of(pool, f"{call_id}-b") == 0


async def test_without_a_key_a_second_announcement_is_a_409_conflict(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    call_id = f"dup-{uuid.uuid4().hex[:8]}"
    assert (
        await http.post("/v1/calls", json=body(call_id), headers=auth(settings))
    ).status_code == 201
    answer = await http.post("/v1/calls", json=body(call_id), headers=auth(settings))
    assert answer.status_code == 409
    assert answer.json()["type"].endswith("/call-exists")


async def test_amend_with_the_current_etag_succeeds_and_a_stale_one_is_412(
    http: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    call_id = f"etag-{uuid.uuid4().hex[:8]}"
    created = await http.post("/v1/calls", json=body(call_id), headers=auth(settings))
    definition = {k: v for k, v in body(call_id).items() if k != "call_id"}
    amended = copy.deepcopy(definition) | {"quota": 4}
    ok = await http.put(
        f"/v1/calls/{call_id}",
        json=amended,
        headers=auth(settings) | {"If-Match": created.headers["etag"]},
    )
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
    stale = await http.put(
        f"/v1/calls/{call_id}",
        json=amended | {"quota": 5},
        headers=auth(settings) | {"If-Match": created.headers["etag"]},
    )
    assert stale.status_code == 412
    assert await events_of(pool, call_id) == 2
    read = await http.get(f"/v1/calls/{call_id}", headers=auth(settings))
    assert read.headers["etag"] == '"2"' and read.json()["definition"]["quota"] == 4


async def test_a_denied_request_is_answered_and_leaves_no_trace(
    http: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    call_id = f"deny-{uuid.uuid4().hex[:8]}"
    anonymous = await http.post("/v1/calls", json=body(call_id))
    applicant = await http.post(
        "/v1/calls", json=body(call_id), headers=auth(settings, Role.APPLICANT, org="940140000385")
    )
    assert (anonymous.status_code, applicant.status_code) == (401, 403)
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert await events_of(pool, call_id) == 0


async def test_readyz_checks_postgres_and_kafka(http: httpx.AsyncClient) -> None:
    answer = await http.get("/readyz")
    assert answer.status_code == 200
    assert answer.json()["checks"] == {"postgres": "ok", "kafka": "ok"}
