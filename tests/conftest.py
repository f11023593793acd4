"""Session fixtures: the real Kafka broker and PostgreSQL, started here when not running.

Integration and end-to-end tests share one broker and one server, but every test run gets
its own database and its own topic prefix, so runs never see each other's data. A server
that cannot start fails the run: nothing is skipped.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import asyncpg
import pytest

from konkurs_ops import stack
from konkurs_platform.db import create_pool, migrate_service
from konkurs_platform.settings import Settings
from konkurs_platform.spec import discover

TEST_PARTITIONS = 6


@pytest.fixture(scope="session")
def servers() -> Iterator[Settings]:
    """Kafka and PostgreSQL, up. Stopped again at the end if this session started them."""
    # The machine's settings (ports, data and cache folders) come from the environment once,
    # here at the edge; everything a test changes is set explicitly below.
    s = Settings.from_env()
    started_kafka = not stack.kafka_running(s)
    started_pg = s.database_url is None and not stack.postgres_running(s)
    stack.fetch_kafka(s)
    stack.start_postgres(s)
    stack.start_kafka(s)
    yield s
    if started_kafka:
        stack.stop_kafka(s)
    if started_pg:
        stack.stop_postgres(s)


@pytest.fixture(scope="session")
def settings(servers: Settings) -> Iterator[Settings]:
    """A fresh database (every service schema migrated) and a fresh topic prefix."""
    run = uuid.uuid4().hex[:10]
    database = f"konkurs_test_{run}"
    dsn = stack.create_database(servers, database)
    # Writes are not rate-limited here: tests send bursts with one token on purpose; the
    # limiter's own tests (test_rate_limits.py) switch it on.
    s = replace(
        servers,
        database_url=dsn,
        topic_prefix=f"test-{run}.konkurs",
        partitions=TEST_PARTITIONS,
        write_rate_per_minute=0,
    )
    stack.create_topics(s)

    async def migrate_all() -> None:
        for spec in discover():
            await migrate_service(s, spec)

    asyncio.run(migrate_all())
    yield s
    stack.drop_database(servers, database)
    stack.delete_topics_with_prefix(servers, f"test-{run}.")


@pytest.fixture(scope="session")
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings, max_size=16)
    yield pool
    await pool.close()
