"""Rate limits per token on intake's writes: past its burst a caller gets a 429 problem with
`Retry-After`, nothing of the refused write is recorded, another caller is unaffected, reads
pass, and the bucket refills with time. The buckets themselves are checked on a moved clock.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from test_intake_applications import call_body

from konkurs_intake.bootstrap import create_app
from konkurs_platform.auth import Role, mint_token
from konkurs_platform.ratelimit import RateLimiter
from konkurs_platform.settings import Settings

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


class Clock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    http: httpx.AsyncClient
    clock: Clock
    settings: Settings

    def token(self, role: Role, subject: str, **scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(self.settings, role, subject, **scope)}"}

    async def announce(self, headers: dict[str, str]) -> tuple[str, httpx.Response]:
        call_id = f"rl-{uuid.uuid4().hex[:10]}"
        now = datetime.now(UTC)
        body = call_body(call_id, now + timedelta(days=1), now + timedelta(days=30))
        return call_id, await self.http.post("/v1/calls", json=body, headers=headers)


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    app = create_app(settings)
    clock = Clock()
    # Six writes a minute after a burst of three: one token back every ten seconds.
    app.state.rate_limiter = RateLimiter(per_minute=6, burst=3, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
            yield World(http, clock, settings)


async def stream_exists(pool: asyncpg.Pool, call_id: str) -> bool:
    async with pool.acquire() as conn:
        return bool(
            await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM intake.events WHERE stream_id = $1)",
                f"call-{call_id}",
            )
        )


async def test_a_write_past_the_burst_is_a_429_problem_with_retry_after_and_records_nothing(
    world: World, pool: asyncpg.Pool
) -> None:
    operator = world.token(Role.OPERATOR, "rl-operator-1")
    for _ in range(3):
        call_id, answer = await world.announce(operator)
        assert answer.status_code == 201, answer.text
        assert await stream_exists(pool, call_id)

    refused_id, refused = await world.announce(operator)

    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == PROBLEM
    assert refused.headers["Retry-After"] == "10"
    assert refused.json()["type"].endswith("/too-many-requests")
    assert not await stream_exists(pool, refused_id)
    # Reads are not limited.
    listed = await world.http.get("/v1/calls", headers=operator)
    assert listed.status_code == 200


async def test_another_token_is_unaffected_by_a_limited_one(world: World) -> None:
    limited = world.token(Role.OPERATOR, "rl-operator-2")
    for _ in range(3):
        assert (await world.announce(limited))[1].status_code == 201
    assert (await world.announce(limited))[1].status_code == 429

    other_subject = world.token(Role.OPERATOR, "rl-operator-3")
    assert (await world.announce(other_subject))[1].status_code == 201
    # The same subject under another role is another principal.
    same_subject_as_admin = world.token(Role.ADMIN, "rl-operator-2")
    assert (await world.announce(same_subject_as_admin))[1].status_code == 201


async def test_every_intake_write_route_is_limited_and_the_bucket_refills_with_time(
    world: World,
) -> None:
    regional = world.token(Role.REGIONAL_OPERATOR, "rl-regional", region="KZ-75")
    application = f"/v1/applications/{uuid.uuid4()}"
    writes = [
        ("POST", "/v1/calls", {}),
        ("PUT", "/v1/calls/rl-unknown", {}),
        ("POST", "/v1/calls/rl-unknown/applications", {"Content-Type": "application/json"}),
        ("POST", "/v1/calls/rl-unknown/applications:import", {}),
        ("POST", "/v1/calls/rl-unknown/applications:batch", {}),
        ("PUT", application, {"If-Match": '"1"'}),
        ("POST", f"{application}/withdrawal", {}),
        ("POST", f"{application}/documents?kind=charter&filename=a.pdf", {}),
    ]
    for method, path, headers in writes:
        # A fresh bucket for each route: three writes pass the limiter (whatever the route
        # then answers), the fourth is refused by it.
        world.clock.now += 60
        for _ in range(3):
            answer = await world.http.request(
                method, path, content=b"{}", headers=regional | headers
            )
            assert answer.status_code != 429, (method, path)
        limited = await world.http.request(method, path, content=b"{}", headers=regional | headers)
        assert limited.status_code == 429, (method, path, limited.text)

    world.clock.now += 9.9
    assert (await world.http.post("/v1/calls", headers=regional)).status_code == 429
    world.clock.now += 0.2
    assert (await world.http.post("/v1/calls", headers=regional)).status_code != 429


def test_a_bucket_gives_its_burst_then_one_token_per_interval() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=30, burst=2, clock=clock)
    assert [limiter.take("a"), limiter.take("a")] == [0, 0]
    assert limiter.take("a") == pytest.approx(2.0)
    clock.now += 1.5
    assert limiter.take("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.take("a") == 0
    # A refused request spends nothing: waiting out the answer is enough.
    assert limiter.take("a") == pytest.approx(2.0)
    clock.now += 2.0
    assert limiter.take("a") == 0


def test_buckets_of_callers_gone_quiet_are_dropped_without_changing_any_answer() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=5, clock=clock)
    for n in range(1000):
        limiter.take(f"caller-{n}")
    clock.now += 10  # past one refill time: every bucket is full again
    assert limiter.take("late") == 0
    assert len(limiter._buckets) == 1
    for _ in range(4):
        assert limiter.take("caller-1") == 0


@pytest.mark.parametrize(("per_minute", "burst"), [(0, 1), (-1, 5), (10, 0)])
def test_a_limit_that_lets_nothing_through_is_refused(per_minute: float, burst: int) -> None:
    with pytest.raises(ValueError):
        RateLimiter(per_minute, burst)


def test_the_limit_comes_from_the_environment_and_zero_switches_it_off() -> None:
    env = {"KONKURS_WRITE_RATE_PER_MINUTE": "30", "KONKURS_WRITE_RATE_BURST": "4"}
    limiter = RateLimiter.for_writes(Settings.from_env(env))
    assert limiter is not None and (limiter.rate * 60, limiter.burst) == (30, 4)
    assert RateLimiter.for_writes(Settings.from_env({})) is not None, "on by default"
    assert RateLimiter.for_writes(Settings.from_env({"KONKURS_WRITE_RATE_PER_MINUTE": "0"})) is None
