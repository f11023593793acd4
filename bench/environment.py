"""A benchmark run's own database and topic prefix on the local stack, removed afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime

from konkurs_ops import stack
from konkurs_platform.db import migrate_service
from konkurs_platform.settings import Settings
from konkurs_platform.spec import discover


@contextmanager
def bench_environment(kind: str) -> Iterator[tuple[Settings, str]]:
    """Start Kafka and PostgreSQL unless running, give the run (`kind`, e.g. "bench") a fresh
    database with every service migrated and a topic prefix of its own; yield its settings
    and run id; drop both afterwards and stop the servers this run started."""
    base = Settings.from_env()
    # Like the test session: servers this run starts, it stops again; running ones stay.
    started_kafka = not stack.kafka_running(base)
    started_pg = base.database_url is None and not stack.postgres_running(base)
    stack.fetch_kafka(base)
    stack.start_postgres(base)
    stack.start_kafka(base)
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    database = f"konkurs_{kind}_{run_id.lower()}"
    prefix = f"{kind}-{run_id.lower()}."
    s = replace(
        base,
        database_url=stack.create_database(base, database),
        topic_prefix=f"{prefix}konkurs",
    )
    try:
        stack.create_topics(s)

        async def migrate() -> None:
            for spec in discover():
                await migrate_service(s, spec)

        asyncio.run(migrate())
        yield s, run_id
    finally:
        stack.drop_database(base, database)
        stack.delete_topics_with_prefix(base, prefix)
        if started_kafka:
            stack.stop_kafka(base)
        if started_pg:
            stack.stop_postgres(base)
