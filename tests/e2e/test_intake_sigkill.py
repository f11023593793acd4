"""A SIGKILL of the intake API during a burst of submissions loses no acknowledged
submission and creates no duplicate.

Clients do what a careful client does: send every submission with an Idempotency-Key and,
when the answer is lost (connection reset by the kill), send it again with the same key.
Afterwards every acknowledged application is in the event store exactly once, every key
produced exactly one application, and the registration series has no gaps.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from konkurs_intake.api.bodies import content_json
from konkurs_intake.demo import SKETCHES, content
from konkurs_platform.auth import Role, mint_token
from konkurs_platform.settings import Settings

pytestmark = pytest.mark.integration

KONKURS = str(Path(sys.executable).parent / "konkurs")
BURST = 120
APPLICATION = content_json(content(0, SKETCHES[0]))  # an Almaty (KZ-75) cluster


def call_body(call_id: str, opens: datetime, closes: datetime) -> dict[str, Any]:
    criterion = {"id": "strategy", "name": {"en": "Strategy"}, "weight": 100}
    return {
        "call_id": call_id,
        "title": {"ru": "Отбор кластеров"},
        "programme": "territorial-clusters",
        "opens_at": opens.isoformat(),
        "closes_at": closes.isoformat(),
        "quota": 6,
        "region_set": "current",
        "regions": ["KZ-75"],
        "eligibility": {
            "min_participants": 3,
            "min_sme_share_percent": 50,
            "require_university_or_research": True,
        },
        "methodology": {
            "criteria": [{**criterion, "kind": "expert", "threshold": 3}],
            "overall_threshold": 60,
        },
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_sigkill_of_the_intake_api_loses_no_acknowledged_submission(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    port = free_port()
    env = dict(os.environ)
    env.update(
        DATABASE_URL=settings.dsn,
        KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
        KONKURS_TOPIC_PREFIX=settings.topic_prefix,
        KONKURS_HOME=str(tmp_path / "home"),
        KONKURS_INTAKE_PORT=str(port),
    )
    log = (tmp_path / "intake-api.log").open("ab")

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([KONKURS, "api", "intake"], env=env, stdout=log, stderr=log)

    api = start()
    url = f"http://127.0.0.1:{port}"
    operator = {"Authorization": f"Bearer {mint_token(settings, Role.OPERATOR, 'op')}"}
    almaty = mint_token(settings, Role.REGIONAL_OPERATOR, "ro", region="KZ-75")
    regional = {"Authorization": f"Bearer {almaty}"}
    call_id = f"kill-{uuid.uuid4().hex[:8]}"
    acknowledged: dict[str, dict[str, Any]] = {}
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            await _ready(http)
            now = datetime.now(UTC)
            body = call_body(call_id, now - timedelta(days=1), now + timedelta(days=10))
            assert (await http.post("/v1/calls", json=body, headers=operator)).status_code == 201

            async def submit(key: str) -> None:
                while True:
                    try:
                        answer = await http.post(
                            f"/v1/calls/{call_id}/applications",
                            json=APPLICATION,
                            headers={**regional, "Idempotency-Key": key},
                        )
                    except httpx.TransportError:
                        await asyncio.sleep(0.2)  # the server died: retry with the same key
                        continue
                    if answer.status_code == 201:
                        acknowledged[key] = answer.json()
                        return
                    await asyncio.sleep(0.2)

            keys = [f"k-{i}" for i in range(BURST)]
            burst = asyncio.gather(*(submit(k) for k in keys))
            while len(acknowledged) < BURST // 3:
                await asyncio.sleep(0.01)
            api.send_signal(signal.SIGKILL)  # mid-burst
            api.wait(10)
            before_restart = dict(acknowledged)
            api = start()
            await asyncio.wait_for(burst, 120)
    finally:
        api.terminate()
        api.wait(20)

    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT application_id::text AS id, registration_number FROM intake.applications_index "
            "WHERE call_id = $1",
            call_id,
        )
    stored = {r["id"]: r["registration_number"] for r in rows}
    assert len(acknowledged) == BURST
    # Acknowledged before the kill: still there, with the number the client was given.
    for answer in before_restart.values():
        assert stored[answer["application_id"]] == answer["registration_number"]
    # One application per key, none extra, and the region's series has no gaps.
    assert {a["application_id"] for a in acknowledged.values()} == set(stored)
    year = next(iter(stored.values()))[6:10]
    assert sorted(stored.values()) == [f"KZ-75-{year}-{n:04d}" for n in range(1, BURST + 1)]


async def _ready(http: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if (await http.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError("the intake API did not start")
