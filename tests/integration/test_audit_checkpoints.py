"""Signed checkpoints anchor the audit chain outside the database (issue 13, item 9): a
rewrite of the log *and* its head together, which the chain alone cannot see, is caught."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from asyncio.subprocess import PIPE
from pathlib import Path

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from helpers import read_topic
from readside_support import new_world
from test_readside_audit import chain

from konkurs.envelope.v1 import envelope_pb2
from konkurs_ops.processes import KONKURS, service_env
from konkurs_platform.settings import Settings
from konkurs_readside import audit, checkpoints

pytestmark = pytest.mark.integration


async def rewrite_history(pool: asyncpg.Pool, schema: str) -> None:
    """What a database superuser could do: make link 2 name another actor, in its bytes and
    its columns alike, and recompute every hash after it, head included, so that the chain
    verifies again."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"ALTER TABLE {schema}.audit_log DISABLE TRIGGER USER")
        rows = await conn.fetch(f"SELECT seq, envelope FROM {schema}.audit_log ORDER BY seq")
        prev = audit.GENESIS
        for row in rows:
            envelope = envelope_pb2.Envelope.FromString(bytes(row["envelope"]))
            if row["seq"] == 2:
                envelope.actor.subject = "someone-else"
            raw = envelope.SerializeToString(deterministic=True)
            digest = hashlib.sha256(prev + raw).digest()
            await conn.execute(
                f"UPDATE {schema}.audit_log SET envelope = $2, prev_hash = $3, hash = $4, "
                "actor_subject = $5 WHERE seq = $1",
                row["seq"],
                raw,
                prev,
                digest,
                envelope.actor.subject,
            )
            prev = digest
        await conn.execute(f"UPDATE {schema}.audit_chain_head SET hash = $1", prev)
        await conn.execute(f"ALTER TABLE {schema}.audit_log ENABLE TRIGGER USER")


async def test_a_rewrite_of_log_and_head_together_fails_the_signed_checkpoint(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    schema, _ = await chain(settings, pool, n=6)
    key = Ed25519PrivateKey.generate()
    async with pool.acquire() as conn:
        cp = await checkpoints.take(conn, schema, key)
        assert cp.seq == 6
        (held,) = await checkpoints.check(conn, schema, [cp], key.public_key())
        assert held.ok, held.problem

    await rewrite_history(pool, schema)
    async with pool.acquire() as conn:
        # The chain alone is fooled: every link matches its bytes and the head.
        assert (await audit.verify(conn, schema)).ok
        (held,) = await checkpoints.check(conn, schema, [cp], key.public_key())
    assert not held.ok
    assert held.problem == "link 6 differs from the signed hash: the log was rewritten"


async def test_a_forged_or_foreign_checkpoint_is_refused(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    schema, _ = await chain(settings, pool, n=3)
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    async with pool.acquire() as conn:
        cp = await checkpoints.take(conn, schema, key)
        forged = dataclasses.replace(cp, hash=bytes(32))
        results = await checkpoints.check(conn, schema, [forged, cp], other.public_key())
        (own,) = await checkpoints.check(conn, schema, [forged], key.public_key())
    assert [r.problem for r in results] == [
        "the signature is not valid for this key",
        "the signature is not valid for this key",
    ]
    assert own.problem == "the signature is not valid for this key"


async def test_the_commands_file_publish_and_verify_checkpoints(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    world, _ = await new_world(settings, pool)
    schema, _ = await chain(settings, pool, n=4)
    env = service_env(world, tmp_path)
    file = tmp_path / "auditor" / "checkpoints.jsonl"

    async def konkurs(*args: str, schema_flag: bool = True) -> tuple[int, str]:
        flags = ["--schema", schema] if schema_flag else []
        proc = await asyncio.create_subprocess_exec(
            KONKURS, "audit", *args, *flags, env=env, stdout=PIPE, stderr=PIPE
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode is not None
        return proc.returncode, out.decode() + err.decode()

    code, taken = await konkurs("checkpoint", "--checkpoints", str(file))
    assert code == 0, taken
    assert "checkpoint of link 4" in taken
    (line,) = file.read_text().splitlines()
    (record,) = await read_topic(world, world.analytics_topic, until=1)
    assert record.value.decode() == line
    headers = dict(record.headers)
    assert headers["ce_type"] == checkpoints.CE_TYPE.encode()
    assert headers["ce_specversion"] == b"1.0"

    public = tmp_path / "audit.pub"
    code, shown = await konkurs("public-key", schema_flag=False)
    public.write_text(shown)
    code, held = await konkurs("verify", "--checkpoints", str(file), "--public-key", str(public))
    assert code == 0, held
    assert "checkpoint of link 4" in held and "holds" in held

    await rewrite_history(pool, schema)
    code, broken = await konkurs("verify", "--checkpoints", str(file), "--public-key", str(public))
    assert code == 1
    assert "audit chain intact" in broken  # the chain alone cannot tell
    assert "FAILS: link 4 differs from the signed hash" in broken
