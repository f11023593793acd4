"""PostgreSQL access: connection pools and the migration runner.

Each service owns one schema. Migrations are versioned SQL files: the platform's own
(`konkurs_platform/migrations`, applied to every service schema with `{schema}` filled in)
and the service's (its spec's `migrations` package). Applied versions are recorded in
`<schema>.schema_migrations`, each file in its own transaction.

Least privilege: the objects of every schema belong to `konkurs_owner`, a role nobody logs in
as, and migrations run as it. Each service connects as its own login role,
`konkurs_<service>`, which may read and write the rows of its own schema and nothing else:
no DDL, no TRUNCATE, no other service's schema, and on its append-only tables (the readside's
audit log) only SELECT and INSERT, so it cannot alter, disable or empty them.
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


# Failures of the database itself, never of an event or a command: a consumer waits them
# out and never dead-letters a good event for them. A connection broken in the middle of an
# operation surfaces as asyncpg's InternalClientError ("cannot switch to state ..."); a
# server shutting down, restarting or out of connections as the last two.
DATABASE_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
)

OWNER_ROLE = "konkurs_owner"
# The data keys of personal data (konkurs_platform.personal): a schema of its own, so that a
# role holds the grant to open sealed values or is refused by PostgreSQL.
KEY_STORE_SCHEMA = "keystore"
# What each `ServiceSpec.personal_data` level may do with the key store's tables.
_KEY_STORE_GRANTS = {
    "read": {"subject_keys": "SELECT"},
    "seal": {"subject_keys": "SELECT, INSERT"},
    "erase": {"subject_keys": "SELECT, DELETE", "erasures": "SELECT, INSERT"},
}


def service_role(service: str) -> str:
    """The login role a service's processes connect as."""
    return f"konkurs_{check_schema_name(service)}"


@dataclass(frozen=True)
class Access:
    """Who may use a schema's rows: the service's role, read-write except `append_only`."""

    role: str
    append_only: tuple[str, ...] = ()

    @classmethod
    def of(cls, spec: ServiceSpec) -> Access:
        return cls(service_role(spec.name), spec.append_only)


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


async def migrate(
    conn: Connection, schema: str, migrations: list[Migration], access: Access | None = None
) -> list[str]:
    """Apply the migrations not yet applied to `schema`, as the owner role; then grant
    `access` (when given) to the rows. Returns the versions applied.

    `conn` must be allowed to create roles and to act as the owner (the local superuser,
    or the cluster's superuser in a deployment). A file that changed after it was applied is
    an error: history is not rewritten.
    """
    check_schema_name(schema)
    applied: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
    try:
        await _ensure_role(conn, OWNER_ROLE, login=False)
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {OWNER_ROLE}")
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                    version text PRIMARY KEY,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        await _own_everything(conn, schema)
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
                # Whatever the file creates belongs to the owner, not to whoever migrates.
                await conn.execute(f"SET LOCAL ROLE {OWNER_ROLE}")
                await conn.execute(m.sql.replace("{schema}", schema))
                await conn.execute(
                    f"INSERT INTO {schema}.schema_migrations (version, checksum) VALUES ($1, $2)",
                    m.version,
                    m.checksum,
                )
            log.info("migration applied", extra={"schema": schema, "version": m.version})
            applied.append(m.version)
        if access is not None:
            await _grant(conn, schema, access)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    return applied


async def _ensure_role(conn: Connection, role: str, *, login: bool) -> None:
    # Roles belong to the cluster, not to a database: another database may have made it.
    if await conn.fetchval("SELECT true FROM pg_roles WHERE rolname = $1", role):
        return
    try:
        await conn.execute(f"CREATE ROLE {role} {'LOGIN' if login else 'NOLOGIN'}")
    except asyncpg.DuplicateObjectError:
        pass  # made by a concurrent migration of another database since the check


async def _own_everything(conn: Connection, schema: str) -> None:
    """Give the owner role what an older installation created as the migrating user."""
    await conn.execute(f"ALTER SCHEMA {schema} OWNER TO {OWNER_ROLE}")
    rows = await conn.fetch(
        """SELECT c.relname, c.relkind FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm')
             AND pg_get_userbyid(c.relowner) <> $2""",
        schema,
        OWNER_ROLE,
    )
    for row in rows:
        kind = {"v": "VIEW", "m": "MATERIALIZED VIEW"}.get(row["relkind"], "TABLE")
        await conn.execute(f'ALTER {kind} {schema}."{row["relname"]}" OWNER TO {OWNER_ROLE}')
    functions = await conn.fetch(
        """SELECT p.oid::regprocedure::text AS signature FROM pg_proc p
           JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = $1 AND pg_get_userbyid(p.proowner) <> $2""",
        schema,
        OWNER_ROLE,
    )
    for f in functions:
        await conn.execute(f"ALTER FUNCTION {f['signature']} OWNER TO {OWNER_ROLE}")


async def _grant(conn: Connection, schema: str, access: Access) -> None:
    """Rows of `schema` to `access.role`: read-write, append-only tables insert-only."""
    role = check_schema_name(access.role)
    await _ensure_role(conn, role, login=True)
    database = await conn.fetchval("SELECT current_database()")
    await conn.execute(f'GRANT CONNECT ON DATABASE "{database}" TO {role}')
    await conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
    await conn.execute(
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}"
    )
    await conn.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}")
    # The migrations' log is the migrator's to write.
    await conn.execute(f"REVOKE INSERT, UPDATE, DELETE ON {schema}.schema_migrations FROM {role}")
    for table in access.append_only:
        await conn.execute(
            f"REVOKE UPDATE, DELETE, TRUNCATE ON {schema}.{check_schema_name(table)} FROM {role}"
        )


async def _grant_key_store(conn: Connection, role: str, level: str) -> None:
    """The key store to `role` at `level` (migrated first: the first such service makes it)."""
    migrations = _package_migrations("konkurs_platform.personal", "keystore/")
    await migrate(conn, KEY_STORE_SCHEMA, migrations)
    await conn.execute(f"GRANT USAGE ON SCHEMA {KEY_STORE_SCHEMA} TO {role}")
    for table, privileges in _KEY_STORE_GRANTS[level].items():
        await conn.execute(f"GRANT {privileges} ON {KEY_STORE_SCHEMA}.{table} TO {role}")


async def migrate_service(
    settings: Settings,
    spec: ServiceSpec,
    schema: str | None = None,
    *,
    role_password: str | None = None,
) -> list[str]:
    """Migrate one service's schema (its spec's schema unless `schema` is given), grant the
    service's role its rows, and give the role `role_password` when one is set (a
    deployment's credentials; the local stack trusts its loopback)."""
    conn = await asyncpg.connect(settings.dsn)
    try:
        access = Access.of(spec)
        applied = await migrate(conn, schema or spec.schema, migrations_for(spec), access)
        if spec.personal_data:
            await _grant_key_store(conn, access.role, spec.personal_data)
        if role_password:
            # ALTER ROLE takes no bind parameters: let the server quote the literal.
            statement = await conn.fetchval(
                "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)",
                access.role,
                role_password,
            )
            await conn.execute(statement)
        return applied
    finally:
        await conn.close()
