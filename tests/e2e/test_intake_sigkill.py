"""A SIGKILL of the intake API, or of the Kafka broker, during a burst of submissions loses
no acknowledged submission and creates no duplicate.

Clients do what a careful client does: send every submission with an Idempotency-Key and,
when the answer is lost (connection reset by the kill), send it again with the same key.
Afterwards every acknowledged application is in the event store exactly once, every key
produced exactly one application, and the registration series has no gaps.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from helpers import read_topic
from processes import wait_healthy

from chaos.client import call_body, send_until_answered
from konkurs_intake.api.bodies import content_json
from konkurs_intake.demo import SKETCHES, content
from konkurs_ops import stack
from konkurs_ops.processes import Process, free_port, service_env
from konkurs_platform.auth import Role, mint_token
from konkurs_platform.envelope import EnvelopeError, decode_envelope
from konkurs_platform.settings import Settings

pytestmark = pytest.mark.integration

BURST = 120
APPLICATION = content_json(content(0, SKETCHES[0]))  # an Almaty (KZ-75) cluster


Crash = Callable[[dict[str, Process]], Awaitable[None]]


async def burst_through(
    crash: Crash, settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> tuple[str, dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Submit BURST applications with keys, retrying lost answers; `crash` strikes after a
    third are acknowledged. Returns the call, the acknowledged answers before the crash,
    and all of them."""
    port = free_port()
    env = service_env(settings, tmp_path / "home", KONKURS_INTAKE_PORT=str(port))
    procs = {
        "api": Process("intake-api", ["api", "intake"], env, tmp_path),
        "relay": Process("intake-relay", ["relay", "intake"], env, tmp_path),
    }
    for p in procs.values():
        p.start()
    operator = {"Authorization": f"Bearer {mint_token(settings, Role.OPERATOR, 'op')}"}
    almaty = mint_token(settings, Role.REGIONAL_OPERATOR, "ro", region="KZ-75")
    regional = {"Authorization": f"Bearer {almaty}"}
    call_id = f"kill-{uuid.uuid4().hex[:8]}"
    acknowledged: dict[str, dict[str, Any]] = {}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            await wait_healthy(http, "/healthz")
            now = datetime.now(UTC)
            body = call_body(call_id, now - timedelta(days=1), now + timedelta(days=10), ["KZ-75"])
            assert (await http.post("/v1/calls", json=body, headers=operator)).status_code == 201

            async def submit(key: str) -> None:
                # A careful client: the same key (and correlation id) until an answer comes.
                answer, _ = await send_until_answered(
                    http,
                    "POST",
                    f"/v1/calls/{call_id}/applications",
                    correlation_id=key,
                    headers=regional,
                    json=APPLICATION,
                    idempotency_key=key,
                    give_up_at=time.monotonic() + 120,
                )
                assert answer.status_code == 201, answer.text
                acknowledged[key] = answer.json()

            # Keys are per caller: this call's keys must not be another test's.
            burst = asyncio.gather(*(submit(f"{call_id}-{i}") for i in range(BURST)))
            while len(acknowledged) < BURST // 3:
                await asyncio.sleep(0.01)
            await crash(procs)  # mid-burst
            before = dict(acknowledged)
            await asyncio.wait_for(burst, 120)
            # Everything appended is published: the relay has emptied the outbox.
            for _ in range(600):
                async with pool.acquire() as conn:
                    if not await conn.fetchval("SELECT count(*) FROM intake.outbox"):
                        break
                await asyncio.sleep(0.2)
    finally:
        for p in procs.values():
            p.stop()
        print("\n".join(p.tail() for p in procs.values()))
    return call_id, before, acknowledged


async def assert_nothing_lost_or_doubled(
    settings: Settings,
    pool: asyncpg.Pool,
    call_id: str,
    before: dict[str, dict[str, Any]],
    acknowledged: dict[str, dict[str, Any]],
) -> None:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT application_id::text AS id, registration_number FROM intake.applications_index "
            "WHERE call_id = $1",
            call_id,
        )
        submitted = await conn.fetch(
            "SELECT event_id FROM intake.events WHERE event_type LIKE '%ApplicationSubmitted' "
            "AND stream_id = ANY($1::text[])",
            [f"application-{r['id']}" for r in rows],
        )
    stored = {r["id"]: r["registration_number"] for r in rows}
    assert len(acknowledged) == BURST
    # Acknowledged before the crash: still there, with the number the client was given.
    for answer in before.values():
        assert stored[answer["application_id"]] == answer["registration_number"]
    # One application per key, none extra, and the region's series has no gaps.
    assert {a["application_id"] for a in acknowledged.values()} == set(stored)
    year = next(iter(stored.values()))[6:10]
    assert sorted(stored.values()) == [f"KZ-75-{year}-{n:04d}" for n in range(1, BURST + 1)]
    # And every submission reached Kafka (at least once; consumers deduplicate by event id).
    wanted = {r["event_id"] for r in submitted}
    assert len(wanted) == BURST
    # The outbox is empty, so each stored event is in the topic at least once: reading as
    # many records as there are events sees every one of them.
    async with pool.acquire() as conn:
        appended = int(await conn.fetchval("SELECT count(*) FROM intake.events"))
    records = await read_topic(settings, settings.events_topic("intake"), until=appended)
    published: set[uuid.UUID] = set()
    for r in records:
        with contextlib.suppress(EnvelopeError):  # another test's deliberate poison record
            published.add(decode_envelope(r.value).event_id)
    assert wanted <= published


async def test_sigkill_of_the_intake_api_loses_no_acknowledged_submission(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    async def kill_api(procs: dict[str, Process]) -> None:
        procs["api"].kill()
        procs["api"].start()

    call_id, before, acknowledged = await burst_through(kill_api, settings, pool, tmp_path)
    await assert_nothing_lost_or_doubled(settings, pool, call_id, before, acknowledged)


async def test_sigkill_of_the_broker_loses_no_acknowledged_submission(
    settings: Settings, servers: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    async def kill_broker(procs: dict[str, Process]) -> None:
        # Submissions go on while the broker is down: they wait in the outbox, not on Kafka.
        await asyncio.to_thread(stack.stop_kafka, servers, True)
        await asyncio.sleep(2.0)
        await asyncio.to_thread(stack.start_kafka, servers)

    call_id, before, acknowledged = await burst_through(kill_broker, settings, pool, tmp_path)
    await assert_nothing_lost_or_doubled(settings, pool, call_id, before, acknowledged)
