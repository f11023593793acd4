"""`make bench`: start the local stack, load konkurs from separate processes, print each
figure beside its baseline measured in the same run, and write bench/results/<time>.json.

A benchmark, not a test: nothing here passes or fails. The machines are shared and noisy,
so a figure means something only as a ratio to the baseline measured next to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console
from rich.table import Table

from bench import baselines, stages
from konkurs_ops import stack
from konkurs_platform.db import create_pool, migrate_service
from konkurs_platform.settings import Settings
from konkurs_platform.spec import discover

console = Console(stderr=True)
RESULTS = Path(__file__).parent / "results"


def dsn_parts(dsn: str) -> dict[str, str]:
    u = urlsplit(dsn)
    return {
        "dbname": u.path.lstrip("/"),
        "host": u.hostname or "127.0.0.1",
        "port": str(u.port or 5432),
        "user": u.username or "konkurs",
        "password": u.password or "",
    }


async def run(s: Settings, seconds: float, rows: int) -> list[dict[str, Any]]:
    figures: list[dict[str, Any]] = []

    def record(name: str, value: float, unit: str, baseline: str, base: float, target: str) -> None:
        figures.append(
            {
                "figure": name,
                "value": value,
                "unit": unit,
                "baseline": baseline,
                "baseline_value": base,
                "ratio": value / base if base else None,
                "target": target,
            }
        )
        console.log(f"{name}: {value:,.0f} {unit} ({value / base:.2f}x {baseline})")

    console.rule("baselines")
    insert = await baselines.raw_insert_commit(s.dsn, seconds)
    console.log(f"raw asyncpg insert-and-commit, 16 connections: {insert:,.0f} rows/s")
    recorder = await asyncio.to_thread(baselines.eventsourcing_recorder, dsn_parts(s.dsn), seconds)
    console.log(f"eventsourcing PostgreSQL recorder, 16 threads: {recorder:,.0f} events/s")
    copy = await baselines.raw_copy(s.dsn, rows)
    console.log(f"raw COPY: {copy:,.0f} rows/s")
    raw_topic = s.topic(f"bench.raw.{uuid.uuid4().hex[:6]}")
    stack.create_topics(s, [raw_topic])
    produce = await baselines.raw_produce(s.kafka_bootstrap, raw_topic, s.partitions, rows)
    console.log(f"raw aiokafka producer, acks=all: {produce:,.0f} messages/s")
    consume, _ = await asyncio.wait_for(
        baselines.raw_consume(s.kafka_bootstrap, raw_topic, s.partitions), 300
    )
    console.log(f"raw aiokafka consumer: {consume:,.0f} messages/s")

    console.rule("konkurs")
    pool = await create_pool(s, max_size=16)
    try:
        append = await stages.event_store_appends(s, pool, seconds)
        record(
            "event store append (1 event, 2 KB, 16 writers)",
            append,
            "events/s",
            "raw insert-and-commit",
            insert,
            ">= 0.5x",
        )
        record(
            "event store append vs eventsourcing recorder",
            append,
            "events/s",
            "eventsourcing recorder",
            recorder,
            ">= 3x",
        )
        relayed = await stages.relay_drain(s, pool)
        record("outbox relay", relayed, "events/s", "raw producer acks=all", produce, "")
        for figure in await stages.service_figures(s, pool, seconds):
            base = {
                "insert": insert,
                "recorder": recorder,
                "copy": copy,
                "consume": consume,
                "freshness": 250.0,  # the target itself: below 1.0x is within it
            }[figure.pop("against")]
            record(base=base, **figure)
    finally:
        await pool.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each timed stage")
    parser.add_argument("--rows", type=int, default=50_000, help="rows for COPY and producer runs")
    args = parser.parse_args()

    base = Settings.from_env()
    # Like the test session: servers this run starts, it stops again; running ones stay.
    started_kafka = not stack.kafka_running(base)
    started_pg = base.database_url is None and not stack.postgres_running(base)
    stack.fetch_kafka(base)
    stack.start_postgres(base)
    stack.start_kafka(base)
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    database = f"konkurs_bench_{run_id.lower()}"
    s = replace(
        base,
        database_url=stack.create_database(base, database),
        topic_prefix=f"bench-{run_id.lower()}.konkurs",
    )
    stack.create_topics(s)

    async def migrate() -> None:
        for spec in discover():
            await migrate_service(s, spec)

    asyncio.run(migrate())
    try:
        figures = asyncio.run(run(s, args.seconds, args.rows))
    finally:
        stack.drop_database(base, database)
        stack.delete_topics_with_prefix(base, f"bench-{run_id.lower()}.")
        if started_kafka:
            stack.stop_kafka(base)
        if started_pg:
            stack.stop_postgres(base)

    table = Table(
        title=f"konkurs benchmark {run_id} ({platform.node()}, {args.seconds:.0f} s stages)"
    )
    for column in ("figure", "value", "baseline", "baseline value", "ratio", "target"):
        table.add_column(column, justify="right" if column != "figure" else "left")
    for f in figures:
        table.add_row(
            f["figure"],
            f"{f['value']:,.0f} {f['unit']}",
            f["baseline"],
            f"{f['baseline_value']:,.0f}",
            f"{f['ratio']:.2f}x" if f["ratio"] else "",
            f["target"],
        )
    Console().print(table)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{run_id}.json"
    out.write_text(
        json.dumps({"run": run_id, "seconds": args.seconds, "figures": figures}, indent=2)
    )
    console.log(f"written {out}")


if __name__ == "__main__":
    main()
