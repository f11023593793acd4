"""PostgreSQL access: connection pools and the migration runner.

Each service owns one schema. Migrations are versioned SQL files: the platform's own
(`konkurs_platform/migrations`, applied to every service schema with `{schema}` filled in)
and the service's (`konkurs_<service>/migrations`). Applied versions are recorded in
`<schema>.schema_migrations`, each file in its own transaction.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import logging
import re
from dataclasses import dataclass

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from konkurs_platform.settings import Settings
from konkurs_platform.spec import ServiceSpec

# What a handler gets: a connection of its own or one lent by a pool.
Connection = asyncpg.Connection | PoolConnectionProxy

log = logging.getLogger(__name__)

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Serialises migrations of concurrent starters (several processes of one service).
_MIGRATION_LOCK = 0x6B6F6E6B


@dataclass(frozen=True)
class Migration:
    """One SQL file to apply to a schema."""

    version: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


async def create_pool(
    settings: Settings, *, min_size: int = 1, max_size: int | None = None
) -> asyncpg.Pool:
    """A pool on `settings.dsn`; the size defaults to `settings.pool_size`."""
    pool = await asyncpg.create_pool(
        settings.dsn,
        min_size=min_size,
        max_size=max_size or settings.pool_size,
        command_timeout=60,
        reset=_keep_session,
    )
    assert pool is not None
    return pool


async def _keep_session(conn: Connection) -> None:
    """Return a connection to the pool as it is.

    asyncpg's default reset runs `RESET ALL; UNLISTEN *; CLOSE ALL; ...` on every release,
    a second round trip per command that halved the append rate. Pooled connections here
    never change session state: LISTEN and session-level advisory locks run on dedicated
    connections (the relay, migrations), and a transaction left open is rolled back by the
    pool before this is called.
    """


def check_schema_name(schema: str) -> str:
    """Schema names are interpolated into SQL, so only plain identifiers are accepted."""
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"not a valid schema name: {schema!r}")
    return schema


def _package_migrations(package: str, prefix: str) -> list[Migration]:
    root = importlib.resources.files(package).joinpath("migrations")
    if not root.is_dir():
        return []
    files = sorted((p for p in root.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name)
    return [
        Migration(f"{prefix}{p.name.removesuffix('.sql')}", p.read_text("utf-8")) for p in files
    ]


def migrations_for(spec: ServiceSpec) -> list[Migration]:
    """The platform migrations followed by the service's own, in order."""
    return _package_migrations("konkurs_platform", "platform/") + _package_migrations(
        spec.migrations, f"{spec.name}/"
    )


async def migrate(conn: Connection, schema: str, migrations: list[Migration]) -> list[str]:
    """Apply the migrations not yet applied to `schema`; returns the versions applied.

    A file that changed after it was applied is an error: history is not rewritten.
    """
    check_schema_name(schema)
    applied: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
    try:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                    version text PRIMARY KEY,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {
            r["version"]: r["checksum"]
            for r in await conn.fetch(f"SELECT version, checksum FROM {schema}.schema_migrations")
        }
        for m in migrations:
            if m.version in done:
                if done[m.version] != m.checksum:
                    raise RuntimeError(
                        f"migration {m.version} in schema {schema} changed after it was applied"
                    )
                continue
            async with conn.transaction():
                await conn.execute(m.sql.replace("{schema}", schema))
                await conn.execute(
                    f"INSERT INTO {schema}.schema_migrations (version, checksum) VALUES ($1, $2)",
                    m.version,
                    m.checksum,
                )
            log.info("migration applied", extra={"schema": schema, "version": m.version})
            applied.append(m.version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    return applied


async def migrate_service(
    settings: Settings, spec: ServiceSpec, schema: str | None = None
) -> list[str]:
    """Migrate one service's schema (its spec's schema unless `schema` is given)."""
    conn = await asyncpg.connect(settings.dsn)
    try:
        return await migrate(conn, schema or spec.schema, migrations_for(spec))
    finally:
        await conn.close()
