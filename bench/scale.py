"""`make bench-scale`: how cost grows with the number of applications.

Loads `--applications` (default 1,000,000) applications across calls and regions through the
bulk path, with intake's API and relay and the readside projector and API running as
processes; measures the readside's list and filter queries (p50/p99) at 10,000 applications
and at the full count, a call summary, the projector's lag while it catches up, a full
rebuild, and the size on disk of the event store, the read models and the topics per 1,000
applications. Writes bench/results/scale-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table

from bench.environment import bench_environment
from bench.progress import Progress
from bench.stages import REGIONS, Services, _open_call, _percentile
from konkurs_intake.api.bodies import content_json
from konkurs_intake.demo import SKETCHES, content
from konkurs_ops.processes import Process, free_port, wait_ready
from konkurs_platform.auth import Role, mint_token
from konkurs_platform.db import create_pool
from konkurs_platform.settings import Settings
from konkurs_readside.rebuild import rebuild

console = Console(stderr=True)
RESULTS = Path(__file__).parent / "results"
CALLS = 10
BATCH = 5_000  # lines a bulk request
SAMPLES = 50  # requests a query figure is measured over
FIRST_CHECKPOINT = 10_000


def lines_by_region() -> dict[str, bytes]:
    """One application line per region (the demo's Almaty cluster, moved)."""
    application = content_json(content(0, SKETCHES[0]))
    out = {}
    for region in REGIONS:
        application["cluster"]["region_code"] = region
        out[region] = json.dumps(application).encode()
    return out


async def load(
    http: httpx.AsyncClient, token: str, calls: list[str], lines: dict[str, bytes], count: int
) -> None:
    """Submit `count` applications in batches of BATCH, calls in turn, regions in turn."""
    regions = list(lines)
    sent = 0
    while sent < count:
        n = min(BATCH, count - sent)
        body = b"".join(lines[regions[(sent + i) % len(regions)]] + b"\n" for i in range(n))
        call = calls[(sent // BATCH) % len(calls)]
        answer = await http.post(
            f"/v1/calls/{call}/applications:batch",
            content=body,
            headers={"Content-Type": "application/x-ndjson", "Authorization": f"Bearer {token}"},
        )
        answer.raise_for_status()
        refused = [r for r in map(json.loads, answer.content.splitlines()) if r["status"] != 201]
        if refused:
            raise RuntimeError(f"bulk intake refused {len(refused)} lines: {refused[0]}")
        sent += n


async def counts(pool: asyncpg.Pool) -> tuple[int, int]:
    """Applications intake has, and those the readside's read model has."""
    async with pool.acquire() as conn:
        submitted = await conn.fetchval("SELECT count(*) FROM intake.applications_index")
        projected = await conn.fetchval("SELECT count(*) FROM readside.applications")
    return int(submitted), int(projected)


async def catch_up(pool: asyncpg.Pool, lag: list[tuple[float, int]], timeout: float) -> float:
    """Wait until the read model has every application; record the lag as it shrinks.
    Returns the seconds it took."""
    start = time.monotonic()
    while True:
        submitted, projected = await counts(pool)
        lag.append((time.monotonic(), submitted - projected))
        if projected >= submitted:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"the readside is {submitted - projected} applications behind")
        await asyncio.sleep(1.0)


async def timed(request: Callable[[], Awaitable[httpx.Response]]) -> dict[str, float]:
    """p50 and p99 in ms of SAMPLES requests, after one to warm up."""
    (await request()).raise_for_status()
    took = []
    for _ in range(SAMPLES):
        start = time.perf_counter()
        (await request()).raise_for_status()
        took.append(time.perf_counter() - start)
    return {"p50": _percentile(took, 0.5) * 1e3, "p99": _percentile(took, 0.99) * 1e3}


async def queries(readside: httpx.AsyncClient, call_id: str) -> dict[str, dict[str, float]]:
    """The read model's list and filter queries, a deep page and a call summary."""
    first = (await readside.get("/v1/applications", params={"limit": 50})).json()
    deep = first["next_cursor"]
    for _ in range(20):  # 20 pages in: keyset pagination should not care
        page = (await readside.get("/v1/applications", params={"limit": 50, "cursor": deep})).json()
        deep = page["next_cursor"] or deep
    return {
        "list, first page": await timed(
            lambda: readside.get("/v1/applications", params={"limit": 50})
        ),
        "list, 21st page": await timed(
            lambda: readside.get("/v1/applications", params={"limit": 50, "cursor": deep})
        ),
        "filter by call and region": await timed(
            lambda: readside.get(
                "/v1/applications", params={"call_id": call_id, "region": "KZ-75", "limit": 50}
            )
        ),
        "filter by status, newest first": await timed(
            lambda: readside.get(
                "/v1/applications",
                params={"status": "submitted", "sort": "-submitted_at", "limit": 50},
            )
        ),
        "call summary": await timed(lambda: readside.get(f"/v1/calls/{call_id}/summary")),
    }


async def sizes(pool: asyncpg.Pool, s: Settings, applications: int) -> dict[str, float]:
    """KiB on disk per 1,000 applications: event store (events, outbox, index), read models,
    and the topics' log segments."""
    async with pool.acquire() as conn:
        schemas = {
            name: int(
                await conn.fetchval(
                    """SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)
                       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')""",
                    name,
                )
            )
            for name in ("intake", "readside")
        }
    # Blocks, not sizes: Kafka preallocates each segment's index files (10 MiB, sparse).
    topics = sum(
        f.stat().st_blocks * 512
        for d in (s.home.absolute() / "kafka" / "data").glob(f"{s.topic_prefix}.*")
        for f in d.iterdir()
        if f.is_file()
    )
    per = 1024 * applications / 1000
    return {
        "event store (intake schema)": schemas["intake"] / per,
        "read models (readside schema)": schemas["readside"] / per,
        "topics": topics / per,
    }


def measured(result: dict[str, Any], name: str, value: Any) -> None:
    """Record a figure, and log it at once: a run of hours that is stopped early still
    leaves the figures it measured."""
    result[name] = value
    console.log(f"{name}: {json.dumps(value)}")


async def run(s: Settings, total: int, progress: Progress) -> dict[str, Any]:
    result: dict[str, Any] = {"applications": total}
    pool = await create_pool(s, max_size=4)
    services = Services(s)
    readside_port = free_port()
    readside = Process(
        "readside-api",
        ["api", "readside", "--port", str(readside_port)],
        services.env,
        services.home,
    )
    try:
        with progress.stage("services start"):
            await services.start(2)
            readside.start()
            await asyncio.to_thread(wait_ready, [f"http://127.0.0.1:{readside_port}/readyz"], 60)
            calls = [f"scale-{n}-{uuid.uuid4().hex[:6]}" for n in range(CALLS)]
            for call in calls:
                await _open_call(services.url, s, call)
        token = mint_token(s, Role.OPERATOR, "bench-scale")
        lines = lines_by_region()
        reader = {"Authorization": f"Bearer {mint_token(s, Role.OPERATOR, 'bench-reader')}"}
        async with (
            httpx.AsyncClient(base_url=services.url, timeout=None) as intake,
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{readside_port}", headers=reader, timeout=60
            ) as read,
        ):
            first = min(FIRST_CHECKPOINT, total)
            with progress.stage(f"load {first:,}"):
                await load(intake, token, calls, lines, first)
                await catch_up(pool, [], 600)
            with progress.stage(f"queries at {first:,}"):
                measured(result, f"queries at {first:,}", await queries(read, calls[0]))
            with progress.stage(f"full rebuild at {first:,}"):
                # Beside the live projector (the rebuild follows its offsets): the rate at
                # both sizes shows whether a rebuild's time grows linearly.
                report = await rebuild(s, pool)
                measured(
                    result,
                    f"full rebuild at {first:,}",
                    {"seconds": report.seconds, "events": report.events},
                )
            lag: list[tuple[float, int]] = []
            with progress.stage(f"load {total:,}"):
                start = time.monotonic()
                loading = asyncio.create_task(load(intake, token, calls, lines, total - first))
                while not loading.done():
                    submitted, projected = await counts(pool)
                    lag.append((time.monotonic(), submitted - projected))
                    if len(lag) % 12 == 1:  # about once a minute
                        console.log(f"submitted {submitted:,}, projected {projected:,}")
                    await asyncio.wait({loading}, timeout=5)
                await loading
                measured(result, "load rate", (total - first) / (time.monotonic() - start))
                measured(result, "catch-up after the load, s", await catch_up(pool, lag, 24 * 3600))
            measured(result, "projector lag, applications (max)", max(n for _, n in lag))
            result["projector lag samples"] = [(round(t - lag[0][0]), n) for t, n in lag]
            with progress.stage(f"queries at {total:,}"):
                measured(result, f"queries at {total:,}", await queries(read, calls[0]))
        with progress.stage("sizes"):
            measured(result, "KiB per 1,000 applications", await sizes(pool, s, total))
        with progress.stage(f"full rebuild at {total:,}"):
            services.stop()
            readside.stop()
            report = await rebuild(s, pool)
            measured(
                result,
                f"full rebuild at {total:,}",
                {"seconds": report.seconds, "events": report.events},
            )
    finally:
        services.stop()
        readside.stop()
        await pool.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench-scale", description=__doc__)
    parser.add_argument("--applications", type=int, default=1_000_000)
    args = parser.parse_args()
    total = args.applications
    first = min(FIRST_CHECKPOINT, total)
    # Expected lengths at this machine's bulk rate (about 600 applications/s, projected as
    # fast) and rebuild rate (about 1,000 events/s).
    progress = Progress(
        console,
        [
            ("services start", 20),
            (f"load {first:,}", first / 300),
            (f"queries at {first:,}", 20),
            (f"full rebuild at {first:,}", first / 1000 + 5),
            (f"load {total:,}", (total - first) / 400),
            (f"queries at {total:,}", 20),
            ("sizes", 5),
            (f"full rebuild at {total:,}", total / 1000),
        ],
    )
    with bench_environment("scale") as (s, run_id):
        result = asyncio.run(run(s, total, progress))
    table = Table(title=f"konkurs scale {run_id}: {total:,} applications")
    for column in ("figure", f"at {first:,}", f"at {total:,}"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    for name in result[f"queries at {first:,}"]:
        small, large = result[f"queries at {first:,}"][name], result[f"queries at {total:,}"][name]
        table.add_row(
            f"{name}, p50 / p99 ms",
            f"{small['p50']:.1f} / {small['p99']:.1f}",
            f"{large['p50']:.1f} / {large['p99']:.1f}",
        )
    for name, kib in result["KiB per 1,000 applications"].items():
        table.add_row(f"{name}, KiB per 1,000 applications", "", f"{kib:,.0f}")
    rebuilt = [result[f"full rebuild at {n:,}"] for n in (first, total)]
    table.add_row(
        "full rebuild",
        *(f"{r['seconds']:.0f} s, {r['events'] / r['seconds']:,.0f} events/s" for r in rebuilt),
    )
    table.add_row("bulk load", "", f"{result['load rate']:,.0f} applications/s")
    table.add_row(
        "projector lag while loading (max) / catch-up after",
        "",
        f"{result['projector lag, applications (max)']:,} / "
        f"{result['catch-up after the load, s']:.0f} s",
    )
    Console(width=220).print(table)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"scale-{run_id}.json"
    out.write_text(json.dumps(result | {"stage_seconds": progress.took}, indent=2))
    console.log(f"written {out}")


if __name__ == "__main__":
    main()
