"""The audit log: append-only in the database, one hash chain, and every kind of tampering
(a changed payload, a deleted row, two swapped rows, a forged row) found by verification.

Tampering needs the append-only trigger out of the way: these tests disable it as the
superuser, which is exactly what an attacker with full database access would do."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import asyncpg
import httpx
import pytest
from readside_support import Events, new_world

from konkurs_platform.auth import Role, mint_token
from konkurs_platform.envelope import decode_envelope
from konkurs_platform.settings import Settings
from konkurs_readside import audit
from konkurs_readside.bootstrap import create_app

pytestmark = pytest.mark.integration

KONKURS = str(Path(sys.executable).parent / "konkurs")


def received(events: Events) -> list[audit.Received]:
    return [
        audit.Received(raw, decode_envelope(raw), "konkurs.intake.events.v1", 0, offset)
        for offset, (_, raw) in enumerate(events.published)
    ]


async def chain(settings: Settings, pool: asyncpg.Pool, n: int = 10) -> tuple[str, Events]:
    """A fresh schema whose audit log holds a call and `n - 1` events of applications."""
    _, schema = await new_world(settings, pool)
    events = Events()
    events.announce("audited")
    app = events.submit("audited", 1, "KZ-75", coordinator="123456789012")
    while len(events.published) < n:
        events.attach(app, f"doc-{len(events.published)}.pdf")
    async with pool.acquire() as conn, conn.transaction():
        assert await audit.append(conn, schema, received(events)) == n
    return schema, events


async def tamper(pool: asyncpg.Pool, schema: str, *statements: str) -> audit.Verification:
    async with pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute(f"ALTER TABLE {schema}.audit_log DISABLE TRIGGER USER")
            for sql in statements:
                await conn.execute(sql.format(log=f"{schema}.audit_log"))
            await conn.execute(f"ALTER TABLE {schema}.audit_log ENABLE TRIGGER USER")
        return await audit.verify(conn, schema)


async def test_an_untouched_chain_verifies_and_a_duplicate_event_enters_it_once(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    schema, events = await chain(settings, pool)
    async with pool.acquire() as conn, conn.transaction():
        assert await audit.append(conn, schema, received(events)[3:5]) == 0
    async with pool.acquire() as conn:
        outcome = await audit.verify(conn, schema)
        first = await conn.fetchrow(f"SELECT prev_hash, hash, envelope FROM {schema}.audit_log")
    assert outcome.as_dict() == {"ok": True, "checked": 10, "head_seq": 10}
    assert bytes(first["prev_hash"]) == bytes(32)
    assert bytes(first["hash"]) == audit.link(bytes(32), events.published[0][1])


async def test_updates_deletes_and_truncation_are_refused_by_the_database(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    schema, _ = await chain(settings, pool, n=3)
    async with pool.acquire() as conn:
        for sql in (
            f"UPDATE {schema}.audit_log SET actor_subject = 'someone else' WHERE seq = 2",
            f"DELETE FROM {schema}.audit_log WHERE seq = 3",
            f"TRUNCATE {schema}.audit_log",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute(sql)
        assert await conn.fetchval(f"SELECT count(*) FROM {schema}.audit_log") == 3


async def test_a_changed_payload_is_detected(settings: Settings, pool: asyncpg.Pool) -> None:
    schema, events = await chain(settings, pool)
    forged = events.published[8][1]  # a genuine envelope, put in the place of another
    outcome = await tamper(
        pool, schema, f"UPDATE {{log}} SET envelope = '\\x{forged.hex()}' WHERE seq = 5"
    )
    assert (outcome.broken_at, outcome.reason) == (
        5,
        "hash does not match the link's envelope bytes",
    )


async def test_a_changed_column_is_detected(settings: Settings, pool: asyncpg.Pool) -> None:
    schema, _ = await chain(settings, pool)
    outcome = await tamper(pool, schema, "UPDATE {log} SET actor_subject = 'x' WHERE seq = 6")
    assert (outcome.broken_at, outcome.reason) == (
        6,
        "column actor_subject differs from the envelope's bytes",
    )


async def test_a_deleted_row_is_detected(settings: Settings, pool: asyncpg.Pool) -> None:
    schema, _ = await chain(settings, pool)
    outcome = await tamper(pool, schema, "DELETE FROM {log} WHERE seq = 4")
    assert outcome.broken_at == 4 and outcome.reason is not None
    assert outcome.reason.startswith("sequence gap")


async def test_deleting_the_newest_rows_is_detected(settings: Settings, pool: asyncpg.Pool) -> None:
    schema, _ = await chain(settings, pool)
    outcome = await tamper(pool, schema, "DELETE FROM {log} WHERE seq >= 9")
    assert (outcome.broken_at, outcome.checked) == (9, 8)


async def test_two_swapped_rows_are_detected(settings: Settings, pool: asyncpg.Pool) -> None:
    schema, _ = await chain(settings, pool)
    outcome = await tamper(
        pool,
        schema,
        "UPDATE {log} SET seq = -3 WHERE seq = 3",
        "UPDATE {log} SET seq = 3 WHERE seq = 4",
        "UPDATE {log} SET seq = 4 WHERE seq = -3",
    )
    assert (outcome.broken_at, outcome.reason) == (
        3,
        "prev_hash is not the hash of the link before it",
    )


async def test_an_inserted_forged_row_is_detected(settings: Settings, pool: asyncpg.Pool) -> None:
    schema, _ = await chain(settings, pool)
    forged_event = Events()
    forged_event.announce("forged")
    raw = forged_event.published[0][1]
    async with pool.acquire() as conn:
        prev = bytes(await conn.fetchval(f"SELECT hash FROM {schema}.audit_log WHERE seq = 6"))
    digest = audit.link(prev, raw)
    e = decode_envelope(raw)
    # Make room after link 6 and insert a row whose own hash is computed correctly.
    outcome = await tamper(
        pool,
        schema,
        "UPDATE {log} SET seq = -seq WHERE seq > 6",
        "UPDATE {log} SET seq = -seq + 1 WHERE seq < 0",
        f"""INSERT INTO {{log}} (seq, event_id, stream_id, stream_version, event_type,
                occurred_at, recorded_at, actor_subject, actor_role, correlation_id, imported,
                topic, kafka_partition, kafka_offset, envelope, prev_hash, hash)
            SELECT 7, '{e.event_id}', '{e.stream_id}', 1, '{e.event_type}',
                '{e.occurred_at.isoformat()}', '{e.recorded_at.isoformat()}',
                '{e.actor.subject}', '{e.actor.role}', '{e.correlation_id}', false,
                't', 0, 0, '\\x{raw.hex()}', '\\x{prev.hex()}', '\\x{digest.hex()}'""",
    )
    assert (outcome.broken_at, outcome.reason) == (
        8,
        "prev_hash is not the hash of the link before it",
    )


async def test_a_forged_row_appended_after_the_head_is_detected(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    schema, _ = await chain(settings, pool, n=4)
    forged = Events()
    forged.announce("forged")
    async with pool.acquire() as conn:
        async with conn.transaction():
            await audit.append(conn, schema, received(forged))
            # ... and the head put back where it was, as if the row had never been appended.
            await conn.execute(
                f"UPDATE {schema}.audit_chain_head SET seq = 4, "
                f"hash = (SELECT hash FROM {schema}.audit_log WHERE seq = 4)"
            )
        outcome = await audit.verify(conn, schema)
    assert outcome.broken_at == 5


async def run(command: list[str], env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def test_the_api_and_the_command_report_the_first_broken_link(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    schema, events = await chain(settings, pool)
    app = create_app(settings, schema=schema)
    auditor = mint_token(settings, Role.AUDITOR, "auditor-1")
    analyst = mint_token(settings, Role.ANALYST, "analyst-1")
    stream_id = events.published[1][0]
    env = dict(os.environ, DATABASE_URL=settings.dsn, KAFKA_BOOTSTRAP=settings.kafka_bootstrap)
    command = [KONKURS, "audit", "verify", "--schema", schema]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://readside") as http:
            as_auditor = {"Authorization": f"Bearer {auditor}"}
            ok = await http.get("/v1/audit/verify", headers=as_auditor)
            history = await http.get(f"/v1/audit/streams/{stream_id}", headers=as_auditor)
            refused = await http.get(
                f"/v1/audit/streams/{stream_id}", headers={"Authorization": f"Bearer {analyst}"}
            )
            intact = await run(command, env)
            await tamper(pool, schema, "DELETE FROM {log} WHERE seq = 2")
            broken = await http.get("/v1/audit/verify", headers=as_auditor)
            found = await run(command, env)
    assert ok.json() == {"ok": True, "checked": 10, "head_seq": 10}
    assert broken.json()["first_broken_link"]["seq"] == 2
    assert (intact[0], found[0]) == (0, 1), intact[1] + found[1]
    assert "BROKEN at link 2" in found[1]
    assert refused.status_code == 403
    entries = history.json()["events"]
    assert [e["stream_version"] for e in entries] == list(range(1, 10))
    first = entries[0]
    assert first["event_type"] == "konkurs.intake.v1.ApplicationSubmitted"
    assert first["actor"]["subject"] == "applicant-1"
    assert first["payload"]["registration_number"] == "TC-2017-001"
    assert first["correlation_id"] and first["hash"] != first["prev_hash"]
