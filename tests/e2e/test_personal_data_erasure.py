"""Personal data through the running system (issue 14, "Done when"): a contact's phone is in
no Kafka record, event row or database dump in clear; after an erasure it is gone from the
read model, both exports and a rebuild, while the audit chain verifies and the event count is
unchanged. Every service runs as a process, as in production, each as its own database role."""

from __future__ import annotations

import asyncio
import io
import sys
import uuid
from asyncio.subprocess import PIPE
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pyarrow.parquet as pq
import pytest
from helpers import eventually, read_topic
from processes import wait_healthy

from konkurs_ops.processes import KONKURS, Process, free_port, service_env
from konkurs_platform.auth import Role, mint_token
from konkurs_platform.personal.sealing import ERASED
from konkurs_platform.settings import Settings

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from test_intake_applications import COORDINATOR, application, call_body

pytestmark = pytest.mark.integration

PG_DUMP = "/usr/lib/postgresql/15/bin/pg_dump"
SERVICES = ("intake", "privacy", "readside")


@pytest.fixture
def system(settings: Settings, tmp_path: Path) -> Iterator[dict[str, str]]:
    ports = {name: free_port() for name in SERVICES}
    env = service_env(
        settings,
        tmp_path / "home",
        **{f"KONKURS_{n.upper()}_PORT": str(p) for n, p in ports.items()},
    )
    procs = [
        Process("intake-api", ["api", "intake"], env, tmp_path),
        Process("intake-relay", ["relay", "intake"], env, tmp_path),
        Process("privacy-api", ["api", "privacy"], env, tmp_path),
        Process("privacy-relay", ["relay", "privacy"], env, tmp_path),
        Process("readside-projector", ["projector", "readside"], env, tmp_path),
        Process("readside-api", ["api", "readside"], env, tmp_path),
    ]
    for p in procs:
        p.start()
    try:
        yield {name: f"http://127.0.0.1:{port}" for name, port in ports.items()} | {
            "home": str(tmp_path / "home")
        }
    finally:
        for p in procs:
            p.stop()
        print("\n".join(p.tail() for p in procs))


def bearer(settings: Settings, role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, role, f'e2e-{role.value}')}"}


async def konkurs(settings: Settings, home: str, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        KONKURS, *args, env=service_env(settings, Path(home)), stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 180)
    assert proc.returncode == 0, err.decode()
    return out.decode() + err.decode()


async def pg_dump(settings: Settings) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        PG_DUMP, "--data-only", "--dbname", settings.dsn, stdout=PIPE
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    return out


async def test_an_erased_contact_is_gone_everywhere_the_record_stays_whole(
    system: dict[str, str], settings: Settings, pool: asyncpg.Pool
) -> None:
    operator = bearer(settings, Role.OPERATOR)
    phone = f"+7 701 {uuid.uuid4().int % 10**7:07d}"
    body = application()
    body["contact"]["phone"] = phone
    call_id = f"pd-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    async with (
        httpx.AsyncClient(base_url=system["intake"], timeout=30) as intake,
        httpx.AsyncClient(base_url=system["privacy"], timeout=30) as privacy,
        httpx.AsyncClient(base_url=system["readside"], timeout=30) as readside,
    ):
        for client in (intake, privacy, readside):
            await wait_healthy(client)
        answer = await intake.post(
            "/v1/calls",
            json=call_body(call_id, now - timedelta(days=1), now + timedelta(days=30)),
            headers=operator,
        )
        assert answer.status_code == 201, answer.text
        applicant = {
            "Authorization": "Bearer "
            + mint_token(settings, Role.APPLICANT, "e2e-applicant", org=COORDINATOR)
        }
        answer = await intake.post(
            f"/v1/calls/{call_id}/applications", json=body, headers=applicant
        )
        assert answer.status_code == 201, answer.text
        application_id = answer.json()["application_id"]

        async def projected_contact() -> object:
            seen = await readside.get(f"/v1/applications/{application_id}", headers=operator)
            return seen.json() if seen.status_code == 200 else None

        before = await eventually(projected_contact, timeout=60, every=0.2)
        assert phone in str(before), "the operator sees the contact while the key exists"

        # In clear nowhere it is stored or published.
        records = await read_topic(settings, settings.events_topic("intake"), until=2)
        assert not any(phone.encode() in (r.value or b"") for r in records)
        async with pool.acquire() as conn:
            events_before = await conn.fetchval("SELECT count(*) FROM intake.events")
            rows = await conn.fetch("SELECT envelope FROM intake.events")
        assert not any(phone.encode() in bytes(r["envelope"]) for r in rows)

        erased = await privacy.post(
            "/v1/erasures",
            json={
                "subject_id": f"application-{application_id}/content.contact",
                "reason": "The applicant's contact asked to be forgotten under the law.",
            },
            headers=operator,
        )
        assert erased.status_code in (200, 201), erased.text

        async def erased_in_read_model() -> object:
            seen = await readside.get(f"/v1/applications/{application_id}", headers=operator)
            return seen.status_code == 200 and phone not in seen.text and ERASED in seen.text

        await eventually(erased_in_read_model, timeout=60, every=0.2)
        csv = await readside.get(
            "/v1/exports/applications.csv", params={"call_id": call_id}, headers=operator
        )
        assert csv.status_code == 200 and application_id in csv.text
        assert phone not in csv.text
        parquet = await readside.get(
            "/v1/exports/applications.parquet", params={"call_id": call_id}, headers=operator
        )
        assert parquet.status_code == 200
        table = pq.read_table(io.BytesIO(parquet.content)).to_pylist()
        assert table and phone not in str(table)

    # A rebuild from offset 0 finds no key: still erased.
    await konkurs(settings, system["home"], "projections", "rebuild")
    async with pool.acquire() as conn:
        rebuilt = await conn.fetchval(
            "SELECT row_to_json(a)::text FROM readside.applications a WHERE application_id = $1",
            application_id,
        )
        events_after = await conn.fetchval("SELECT count(*) FROM intake.events")
    assert phone not in rebuilt and ERASED in rebuilt
    assert phone.encode() not in await pg_dump(settings)
    # History is whole: no intake event was added or changed, and the chain verifies.
    assert events_after == events_before
    assert "audit chain intact" in await konkurs(settings, system["home"], "audit", "verify")
