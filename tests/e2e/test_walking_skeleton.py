"""The walking skeleton, end to end, with real processes, a real broker and a real database.

A command on intake's HTTP API becomes an event in PostgreSQL, the relay publishes it to
Kafka, scoring's faust agent consumes it through the inbox, and the readside projector puts
it in a read model with its offset. Killing the relay, the agent or the projector with
SIGKILL mid-stream and restarting them loses nothing and duplicates nothing.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from helpers import dead_letter_count, read_topic, wait_until
from processes import wait_healthy

from konkurs_ops.processes import Process, free_port, service_env
from konkurs_platform.auth import Role, mint_token
from konkurs_platform.deadletter import HEADER_CONSUMER, HEADER_REASON
from konkurs_platform.envelope import HEADER_EVENT_TYPE
from konkurs_platform.settings import Settings
from konkurs_scoring.adapters.intake_events import CALL_ANNOUNCED

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))

pytestmark = pytest.mark.integration

POISON = b"\x00 not an envelope"


@pytest.fixture
def system(settings: Settings, tmp_path: Path) -> Iterator[dict[str, Any]]:
    port = free_port()
    env = service_env(settings, tmp_path / "home", KONKURS_INTAKE_PORT=str(port))
    procs = {
        "api": Process("intake-api", ["api", "intake"], env, tmp_path),
        "relay": Process("intake-relay", ["relay", "intake"], env, tmp_path),
        "worker": Process("scoring-worker", ["worker", "scoring"], env, tmp_path),
        "projector": Process("readside-projector", ["projector", "readside"], env, tmp_path),
    }
    for p in procs.values():
        p.start()
    try:
        yield {"procs": procs, "url": f"http://127.0.0.1:{port}"}
    except BaseException:
        raise
    finally:
        for p in procs.values():
            p.stop()
        failed = [p.tail() for p in procs.values()]
        print("\n".join(failed))


def call_body(call_id: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "call_id": call_id,
        "title": {"ru": "Отбор кластеров", "kk": "Кластерлерді іріктеу", "en": "Cluster call"},
        "programme": "walking skeleton",
        "opens_at": (now + timedelta(days=30)).isoformat(),
        "closes_at": (now + timedelta(days=90)).isoformat(),
        "timezone": "Asia/Almaty",
        "quota": 6,
        "region_set": "current",
        "regions": ["KZ-75", "KZ-71"],
        "eligibility": {
            "min_participants": 3,
            "min_sme_share_percent": 50,
            "require_university_or_research": True,
        },
        "methodology": {
            "criteria": [
                {
                    "id": "cooperation",
                    "name": {"en": "Cooperation"},
                    "weight": 60,
                    "kind": "expert",
                    "threshold": 3,
                },
                {
                    "id": "size",
                    "name": {"en": "Size"},
                    "weight": 40,
                    "kind": "automatic",
                    "threshold": 2,
                },
            ],
            "overall_threshold": 60,
        },
    }


async def test_commands_flow_to_the_agent_and_the_projection_through_sigkills(
    system: dict[str, Any], settings: Settings, pool: asyncpg.Pool
) -> None:
    procs = system["procs"]
    token = mint_token(settings, Role.OPERATOR, "skeleton-operator")
    headers = {"Authorization": f"Bearer {token}"}
    prefix = f"sk-{uuid.uuid4().hex[:6]}"
    ids = [f"{prefix}-{n:03d}" for n in range(90)]
    bodies = {call_id: call_body(call_id) for call_id in ids}

    async with httpx.AsyncClient(base_url=system["url"], headers=headers, timeout=10) as http:
        await wait_healthy(http)

        async def announce(call_id: str) -> None:
            answer = await http.post(
                "/v1/calls", json=bodies[call_id], headers={"Idempotency-Key": call_id}
            )
            assert answer.status_code == 201, answer.text

        async def count(sql: str) -> int:
            async with pool.acquire() as conn:
                return int(await conn.fetchval(sql, f"{prefix}-%"))

        scored = "SELECT count(*) FROM scoring.calls WHERE call_id LIKE $1"
        projected = "SELECT count(*) FROM readside.calls WHERE call_id LIKE $1"

        for call_id in ids[:30]:
            await announce(call_id)
        procs["relay"].kill()  # mid-stream: some of the 30 may not be published yet
        for call_id in ids[30:60]:
            await announce(call_id)
        procs["relay"].start()
        await wait_until(lambda: _ge(count(projected), 30), 90, "the first calls in the read model")
        procs["worker"].kill()
        procs["projector"].kill()
        for call_id in ids[60:]:
            await announce(call_id)
        # A retried request with the same key is answered again, not executed again.
        replay = await http.post(
            "/v1/calls", json=bodies[ids[0]], headers={"Idempotency-Key": ids[0]}
        )
        assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
        procs["worker"].start()
        procs["projector"].start()

        # A poison record (the right type header, bytes that are no envelope) is parked by
        # the agent and by the projector, and both go on.
        poison = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        await poison.start()
        try:
            await poison.send_and_wait(
                settings.events_topic("intake"),
                POISON,
                key=b"call-poison",
                headers=[(HEADER_EVENT_TYPE, CALL_ANNOUNCED.encode())],
            )
        finally:
            await poison.stop()
        await wait_until(lambda: _ge(count(scored), 90), 120, "scoring to learn every call")
        await wait_until(
            lambda: _ge(count(projected), 90), 120, "the read model to hold every call"
        )
        await asyncio.sleep(2.0)  # would a late duplicate show up?

    async with pool.acquire() as conn:
        assert await count(scored) == 90
        assert await count(projected) == 90
        # Exactly one inbox row and one event per call: nothing applied or appended twice.
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM scoring.inbox i "
                "JOIN intake.events e ON e.event_id = i.event_id WHERE e.stream_id LIKE $1",
                f"call-{prefix}-%",
            )
            == 90
        )
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM intake.events WHERE stream_id LIKE $1", f"call-{prefix}-%"
            )
            == 90
        )
        assert await conn.fetchval("SELECT count(*) FROM intake.outbox") == 0
        versions = await conn.fetch(
            "SELECT DISTINCT stream_version FROM readside.calls WHERE call_id LIKE $1",
            f"{prefix}-%",
        )
        assert [r[0] for r in versions] == [1]
        stored = await conn.fetchval(
            "SELECT sum(next_offset) FROM readside.projection_offsets "
            "WHERE projection = 'readside' AND topic = $1",
            settings.events_topic("intake"),
        )
    assert stored >= 91

    # The session's dead-letter topic is shared with other tests' consumers (a privacy
    # worker, say): only the parkings of this poison record are this test's.
    async def parked_poison() -> list[Any]:
        everything = await read_topic(
            settings, settings.deadletter_topic, until=await dead_letter_count(settings)
        )
        return [r for r in everything if r.value == POISON]

    async with asyncio.timeout(60):
        while len(parked := await parked_poison()) < 2:
            await asyncio.sleep(0.5)
    assert sorted(dict(r.headers)[HEADER_CONSUMER].decode() for r in parked) == [
        "projection.readside",
        "scoring.intake-events",
    ]
    assert all(dict(r.headers)[HEADER_REASON].startswith(b"not a konkurs envelope") for r in parked)


async def _ge(value: Any, n: int) -> bool:
    return bool(await value >= n)
