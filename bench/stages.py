"""What konkurs itself does, under the same load as the baselines."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from bench.baselines import payload
from konkurs_intake.api.bodies import content_json
from konkurs_intake.demo import SKETCHES, content
from konkurs_ops import stack
from konkurs_ops.processes import Process, free_port, service_env, wait_ready
from konkurs_platform.auth import Role, mint_token
from konkurs_platform.envelope import Actor
from konkurs_platform.eventstore import EventStore, Metadata, NewEvent
from konkurs_platform.outbox import OutboxRelay
from konkurs_platform.settings import Settings

ACTOR = Actor("bench", "operator")
# Submissions come from every region, as they do: each region keeps its own gapless series of
# registration numbers, whose counter row is the one thing submissions of a region queue on.
REGIONS = (
    "KZ-10",
    "KZ-11",
    "KZ-15",
    "KZ-19",
    "KZ-23",
    "KZ-27",
    "KZ-31",
    "KZ-33",
    "KZ-35",
    "KZ-39",
    "KZ-43",
    "KZ-47",
    "KZ-55",
    "KZ-59",
    "KZ-61",
    "KZ-62",
    "KZ-63",
    "KZ-71",
    "KZ-75",
    "KZ-79",
)


async def event_store_appends(
    s: Settings, pool: asyncpg.Pool, seconds: float, writers: int = 16
) -> float:
    """Events per second: `writers` loops appending one 2 KB event to a new stream each time
    (event row, outbox row and notification in one statement, one transaction)."""
    # A topic of its own: these events are not applications, and the readside should not
    # spend the later stages projecting them.
    topic = s.topic("bench.appends")
    stack.create_topics(s, [topic])
    store = EventStore(pool, "intake", topic)
    body = payload()
    count = 0
    deadline = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal count
        meta = Metadata(ACTOR, correlation_id=str(uuid.uuid4()))
        while time.perf_counter() < deadline:
            await store.append(
                f"bench-{uuid.uuid4()}", 0, [NewEvent("konkurs.bench.v1.Appended", body)], meta
            )
            count += 1

    start = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(writers)))
    return count / (time.perf_counter() - start)


async def relay_drain(s: Settings, pool: asyncpg.Pool) -> float:
    """Events per second the outbox relay publishes (acks=all) while draining the backlog
    the appends left behind."""
    async with pool.acquire() as conn:
        backlog = int(await conn.fetchval("SELECT count(*) FROM intake.outbox"))
    relay = OutboxRelay(s, "intake")
    stop = asyncio.Event()
    start = time.perf_counter()
    task = asyncio.create_task(relay.run(stop))
    while relay.stats.published < backlog:
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - start
    stop.set()
    await task
    return backlog / elapsed


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _caught_up(pool: asyncpg.Pool, s: Settings, timeout: float = 300) -> None:
    """Wait until the readside projector has applied everything intake has published."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with pool.acquire() as conn:
            outbox = await conn.fetchval("SELECT count(*) FROM intake.outbox")
            submitted = await conn.fetchval("SELECT count(*) FROM intake.applications_index")
            projected = await conn.fetchval("SELECT count(*) FROM readside.applications")
        if outbox == 0 and projected >= submitted:
            return
        await asyncio.sleep(0.5)
    raise TimeoutError("the readside did not catch up")


async def _load(
    url: str, call_id: str, token: str, body: str, **knobs: float | str
) -> dict[str, Any]:
    """Run the load generator in a process of its own and return what it measured."""
    args = [f"--{k}={v}" for k, v in knobs.items()]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.load",
        f"--url={url}",
        f"--call={call_id}",
        f"--token={token}",
        f"--body={body}",
        *args,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"the load generator failed ({proc.returncode})")
    result: dict[str, Any] = json.loads(out)
    return result


async def _open_call(http_url: str, settings: Settings, call_id: str) -> None:
    now = datetime.now(UTC)
    body = {
        "call_id": call_id,
        "title": {"en": "Benchmark call"},
        "programme": "bench",
        "opens_at": (now - timedelta(minutes=1)).isoformat(),
        "closes_at": (now + timedelta(days=1)).isoformat(),
        "quota": 6,
        "region_set": "current",
        "regions": list(REGIONS),
        "eligibility": {
            "min_participants": 1,
            "min_sme_share_percent": 0,
            "require_university_or_research": False,
        },
        "methodology": {
            "criteria": [
                {"id": "c", "name": {"en": "C"}, "weight": 100, "kind": "expert", "threshold": 2}
            ],
            "overall_threshold": 50,
        },
    }
    request = urllib.request.Request(
        f"{http_url}/v1/calls",
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {mint_token(settings, Role.OPERATOR, 'bench')}",
        },
    )
    await asyncio.to_thread(urllib.request.urlopen, request)


async def _bulk(http_url: str, settings: Settings, call_id: str, line: bytes, lines: int) -> float:
    """Applications per second of one batch request of `lines` JSON lines."""
    token = mint_token(settings, Role.REGIONAL_OPERATOR, "bench", region="KZ-75")
    request = urllib.request.Request(
        f"{http_url}/v1/calls/{call_id}/applications:batch",
        data=b"\n".join([line] * lines) + b"\n",
        headers={"Content-Type": "application/x-ndjson", "Authorization": f"Bearer {token}"},
    )
    start = time.perf_counter()
    with await asyncio.to_thread(urllib.request.urlopen, request, None, 600) as answer:
        results = [json.loads(x) for x in answer.read().splitlines()]
    elapsed = time.perf_counter() - start
    accepted = sum(1 for r in results if r["status"] == 201)
    if accepted != lines:
        raise RuntimeError(f"bulk intake accepted {accepted} of {lines} lines")
    return lines / elapsed


async def _watch_read_model(
    pool: asyncpg.Pool, stop: asyncio.Event, seen: dict[str, float]
) -> None:
    """When each application first appears in the read model, by the wall clock.

    Polls the readside's audit log by its sequence: the projector writes it in the same
    transaction as the read-model rows, so a row there is a row in the read model."""
    async with pool.acquire() as conn:
        last = int(await conn.fetchval("SELECT coalesce(max(seq), 0) FROM readside.audit_log"))
        while not stop.is_set():
            rows = await conn.fetch(
                "SELECT seq, stream_id FROM readside.audit_log WHERE seq > $1 ORDER BY seq", last
            )
            now = time.time()
            for r in rows:
                seen.setdefault(r["stream_id"].removeprefix("application-"), now)
                last = r["seq"]
            await asyncio.sleep(0.005)


async def _freshness(applications: list[tuple[str, float]], seen: dict[str, float]) -> list[float]:
    """Seconds from each acknowledgement to the application's row in the read model."""
    acked = dict(applications)
    deadline = time.monotonic() + 120
    while any(a not in seen for a in acked) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)  # the watcher is still running
    return [seen[a] - acked[a] for a in acked if a in seen]


async def service_figures(s: Settings, pool: asyncpg.Pool, seconds: float) -> list[dict[str, Any]]:
    """Intake over HTTP, bulk intake, freshness and rebuild, with the services running as
    they do in production: intake's API and relay and the readside projector, each its own
    process, and the load from another process."""
    home = Path(tempfile.mkdtemp(prefix="konkurs-bench-"))
    port = free_port()
    env = service_env(s, home, KONKURS_INTAKE_PORT=str(port), KONKURS_LOG_LEVEL="WARNING")
    procs = [
        Process("intake-api", ["api", "intake"], env, home),
        Process("intake-relay", ["relay", "intake"], env, home),
        Process("readside-projector", ["projector", "readside"], env, home),
    ]
    for p in procs:
        p.start()
    url = f"http://127.0.0.1:{port}"
    figures: list[dict[str, Any]] = []
    try:
        await asyncio.to_thread(wait_ready, [f"{url}/readyz"], 60)
        call_id = f"bench-{uuid.uuid4().hex[:8]}"
        await _open_call(url, s, call_id)
        application = content_json(content(0, SKETCHES[0]))  # an Almaty (KZ-75) cluster
        body = json.dumps(application, ensure_ascii=False)
        # An applicant (the coordinator) may submit for any region.
        token = mint_token(s, Role.APPLICANT, "bench", org=application["coordinator"]["bin"])
        regions = ",".join(REGIONS)

        single = await _load(
            url, call_id, token, body, seconds=seconds, concurrency=16, regions=regions
        )
        lat = single["latencies"]
        rate = single["acknowledged"] / single["seconds"]
        figures.append(
            dict(
                name="intake over HTTP, one application a request (16 clients)",
                value=rate,
                unit="applications/s",
                baseline="raw insert-and-commit",
                against="insert",
                target=">= 0.5x",
            )
        )
        figures.append(
            dict(
                name=f"  latency p50 / p95 / p99: {_percentile(lat, 0.5) * 1e3:.0f} / "
                f"{_percentile(lat, 0.95) * 1e3:.0f} / {_percentile(lat, 0.99) * 1e3:.0f} ms",
                value=rate,
                unit="applications/s",
                baseline="eventsourcing recorder",
                against="recorder",
                target=">= 3x",
            )
        )

        bulk = await _bulk(url, s, call_id, json.dumps(application).encode(), 5000)
        figures.append(
            dict(
                name="bulk intake (5,000 JSON lines a request)",
                value=bulk,
                unit="applications/s",
                baseline="raw COPY",
                against="copy",
                target=">= 0.3x",
            )
        )

        # At the target's 500/s, and at half the closed-loop rate: when the API cannot take
        # 500/s, the first shows a saturated machine, the second the system within its means.
        for offered in (500.0, max(10.0, rate / 2)):
            await _caught_up(pool, s)  # freshness of new submissions, not of a backlog
            seen: dict[str, float] = {}
            stop_watching = asyncio.Event()
            watcher = asyncio.create_task(_watch_read_model(pool, stop_watching, seen))
            paced = await _load(
                url,
                call_id,
                token,
                body,
                seconds=seconds,
                concurrency=64,
                rate=offered,
                regions=regions,
            )
            fresh = await _freshness(paced["applications"], seen)
            stop_watching.set()
            await watcher
            achieved = paced["acknowledged"] / paced["seconds"]
            figures.append(
                dict(
                    name=f"freshness at {offered:.0f}/s offered ({achieved:.0f}/s acknowledged):"
                    f" p50 / p95 / p99 {_percentile(fresh, 0.5) * 1e3:.0f} / "
                    f"{_percentile(fresh, 0.95) * 1e3:.0f} / "
                    f"{_percentile(fresh, 0.99) * 1e3:.0f} ms",
                    value=_percentile(fresh, 0.99) * 1e3,
                    unit="ms p99",
                    baseline="target 250 ms",
                    against="freshness",
                    target="<= 250 ms",
                )
            )
    finally:
        for p in procs:
            p.stop()

    rebuild_rate = await _rebuild(s, pool)
    figures.append(
        dict(
            name="projection rebuild",
            value=rebuild_rate,
            unit="events/s",
            baseline="raw consumer",
            against="consume",
            target=">= 0.3x",
        )
    )
    return figures


async def _rebuild(s: Settings, pool: asyncpg.Pool) -> float:
    from konkurs_readside.rebuild import rebuild

    report = await rebuild(s, pool)
    return report.rate
