"""Each service connects as its own role, which reaches only the rows of its own schema
(issue 13, item 4): the readside cannot alter, disable, empty or rewrite the audit log, and
no service is a superuser or reads another's schema."""

from __future__ import annotations

import asyncio
from asyncio.subprocess import PIPE
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from konkurs_ops.processes import KONKURS, service_env
from konkurs_platform.db import OWNER_ROLE, service_role
from konkurs_platform.settings import Settings
from konkurs_platform.spec import discover

pytestmark = pytest.mark.integration


@pytest.fixture
async def as_readside(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(settings.for_service("readside").dsn)
    yield conn
    await conn.close()


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE readside.audit_log DISABLE TRIGGER USER",
        "ALTER TABLE readside.audit_log DISABLE TRIGGER audit_log_no_update_or_delete",
        "DROP TRIGGER audit_log_no_truncate ON readside.audit_log",
        "TRUNCATE readside.audit_log",
        "UPDATE readside.audit_log SET actor_subject = 'someone-else'",
        "DELETE FROM readside.audit_log",
        "DROP TABLE readside.audit_log",
        "ALTER TABLE readside.audit_log ADD COLUMN note text",
        "UPDATE readside.schema_migrations SET checksum = 'x'",
        "CREATE TABLE readside.smuggled (x int)",
    ],
)
async def test_the_readside_role_cannot_tamper_with_the_audit_log(
    as_readside: asyncpg.Connection, statement: str
) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await as_readside.execute(statement)


async def test_the_readside_role_may_read_and_append_to_the_audit_log(
    as_readside: asyncpg.Connection,
) -> None:
    role = service_role("readside")
    for privilege, allowed in [("SELECT", True), ("INSERT", True), ("UPDATE", False)]:
        held = await as_readside.fetchval(
            "SELECT has_table_privilege($1, 'readside.audit_log', $2)", role, privilege
        )
        assert held is allowed, privilege
    # The chain head moves with every append.
    assert await as_readside.fetchval(
        "SELECT has_table_privilege($1, 'readside.audit_chain_head', 'UPDATE')", role
    )


async def test_no_service_reads_another_services_schema_or_is_a_superuser(
    settings: Settings,
) -> None:
    specs = discover()
    for spec in specs:
        conn = await asyncpg.connect(settings.for_service(spec.name).dsn)
        try:
            assert await conn.fetchval("SELECT current_user") == service_role(spec.name)
            assert not await conn.fetchval(
                "SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles "
                "WHERE rolname = current_user"
            )
            # Its own rows: yes (every schema has the platform's inbox).
            await conn.fetchval(f"SELECT count(*) FROM {spec.schema}.inbox")
            for other in specs:
                if other.schema != spec.schema:
                    with pytest.raises(asyncpg.InsufficientPrivilegeError):
                        await conn.fetchval(f"SELECT count(*) FROM {other.schema}.inbox")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(f"TRUNCATE {spec.schema}.inbox")
        finally:
            await conn.close()


async def test_every_object_of_a_service_schema_belongs_to_the_owner_role(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        strays = await conn.fetch(
            """SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner) AS owner
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'S', 'v', 'm', 'i')
                 AND pg_get_userbyid(c.relowner) <> $2""",
            [s.schema for s in discover()],
            OWNER_ROLE,
        )
        assert strays == []
        assert not await conn.fetchval(
            "SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", OWNER_ROLE
        )


async def test_migrate_gives_a_service_role_the_password_of_its_own_url(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    own = settings.for_service("intake").dsn.replace("konkurs_intake@", "konkurs_intake:s3cret@")
    proc = await asyncio.create_subprocess_exec(
        KONKURS,
        "migrate",
        "intake",
        env=service_env(settings, tmp_path, KONKURS_INTAKE_DATABASE_URL=own),
        stdout=PIPE,
        stderr=PIPE,
    )
    _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    async with pool.acquire() as conn:
        try:
            secret = await conn.fetchval(
                "SELECT rolpassword FROM pg_authid WHERE rolname = 'konkurs_intake'"
            )
            assert secret.startswith("SCRAM-SHA-256$")
            assert "s3cret" not in secret
        finally:
            # Roles belong to the whole cluster: leave it as the local stack expects.
            await conn.execute("ALTER ROLE konkurs_intake PASSWORD NULL")


def test_a_service_never_inherits_the_administrators_password() -> None:
    admin = Settings(database_url="postgresql://konkurs:admin-secret@db.example:5432/konkurs")
    assert admin.for_service("intake", env={}).dsn == (
        "postgresql://konkurs_intake@db.example:5432/konkurs"
    )
    given = "postgresql://konkurs_intake:own@db.example:5432/konkurs"
    assert admin.for_service("intake", env={"KONKURS_INTAKE_DATABASE_URL": given}).dsn == given
