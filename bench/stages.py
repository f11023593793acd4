"""What konkurs itself does, under the same load as the baselines."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

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


async def bulk(http_url: str, settings: Settings, call_id: str, line: bytes, lines: int) -> float:
    """Applications per second of one batch request of `lines` JSON lines, streamed (the
    client holds a block of lines, not the body)."""
    token = mint_token(settings, Role.REGIONAL_OPERATOR, "bench", region="KZ-75")
    block = b"".join([line + b"\n"] * 1000)

    async def body() -> AsyncIterator[bytes]:
        for start in range(0, lines, 1000):
            yield block if lines - start >= 1000 else block[: (lines - start) * (len(line) + 1)]

    start = time.perf_counter()
    async with httpx.AsyncClient(timeout=None) as http:
        answer = await http.post(
            f"{http_url}/v1/calls/{call_id}/applications:batch",
            content=body(),
            headers={"Content-Type": "application/x-ndjson", "Authorization": f"Bearer {token}"},
        )
    elapsed = time.perf_counter() - start
    if answer.status_code != 200:
        raise RuntimeError(f"bulk intake answered {answer.status_code}: {answer.text[:500]}")
    accepted = sum(1 for x in answer.content.splitlines() if json.loads(x)["status"] == 201)
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


def peak_rss_mib(pid: int) -> float:
    """The peak resident set size of process `pid` so far (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


class Services:
    """Intake's API and relay and the readside projector, each a process of its own as in
    production; the API can be restarted with another number of worker processes."""

    def __init__(self, s: Settings) -> None:
        self.settings = s
        self.home = Path(tempfile.mkdtemp(prefix="konkurs-bench-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = service_env(
            s,
            self.home,
            KONKURS_INTAKE_PORT=str(self.port),
            KONKURS_LOG_LEVEL="WARNING",
            # The memory stage sends 100,000 lines of 4.5 KB in one request.
            KONKURS_MAX_BATCH_BODY_BYTES=str(2 << 30),
            # The load comes from one caller: measured is the system, not its per-caller limit.
            KONKURS_WRITE_RATE_PER_MINUTE="0",
        )
        self.api: Process | None = None
        self.others = [
            Process("intake-relay", ["relay", "intake"], self.env, self.home),
            Process("readside-projector", ["projector", "readside"], self.env, self.home),
        ]

    async def start(self, workers: int) -> None:
        for p in self.others:
            if p.proc is None:
                p.start()
        await self.restart_api(workers)

    async def restart_api(self, workers: int) -> None:
        """(Re)start the API with `workers` processes and wait until it is ready."""
        if self.api is not None:
            self.api.stop()
        self.api = Process(
            f"intake-api-{workers}",
            ["api", "intake", "--workers", str(workers)],
            self.env,
            self.home,
        )
        self.api.start()
        try:
            await asyncio.to_thread(wait_ready, [f"{self.url}/readyz"], 60)
        except TimeoutError as exc:
            raise RuntimeError(f"the intake API did not start:\n{self.api.tail()}") from exc

    def api_pid(self) -> int:
        assert self.api is not None and self.api.proc is not None
        return self.api.proc.pid

    def stop(self, *, only: str | None = None) -> None:
        for p in [*self.others, *([self.api] if self.api else [])]:
            if only is None or p.name.startswith(only):
                p.stop()


@dataclass(frozen=True)
class Submitting:
    """A call open for the benchmark and what its load generator sends."""

    call_id: str
    token: str
    body: str
    line: bytes


async def open_call(s: Settings, url: str) -> Submitting:
    call_id = f"bench-{uuid.uuid4().hex[:8]}"
    await _open_call(url, s, call_id)
    application = content_json(content(0, SKETCHES[0]))  # an Almaty (KZ-75) cluster
    # An applicant (the coordinator) may submit for any region.
    token = mint_token(s, Role.APPLICANT, "bench", org=application["coordinator"]["bin"])
    return Submitting(
        call_id,
        token,
        json.dumps(application, ensure_ascii=False),
        json.dumps(application).encode(),
    )


async def single_submissions(url: str, sub: Submitting, seconds: float) -> dict[str, float]:
    """Closed loop, 16 clients, one application a request: rate and latency percentiles."""
    result = await _load(
        url, sub.call_id, sub.token, sub.body, seconds=seconds, concurrency=16, regions=_REGIONS
    )
    if result["errors"]:
        # A closed loop within the API's means answers every request: anything else means
        # the figure would count refusals, not submissions.
        raise RuntimeError(f"single submissions failed: {result['errors']}")
    lat = result["latencies"]
    return {
        "rate": result["acknowledged"] / result["seconds"],
        "p50": _percentile(lat, 0.5) * 1e3,
        "p95": _percentile(lat, 0.95) * 1e3,
        "p99": _percentile(lat, 0.99) * 1e3,
    }


async def freshness(
    pool: asyncpg.Pool, s: Settings, url: str, sub: Submitting, offered: float, seconds: float
) -> dict[str, float]:
    """Open loop at `offered` submissions/s: the rate acknowledged, the answers' latency and
    the time from each acknowledgement to the application's row in the read model."""
    await _caught_up(pool, s)  # freshness of new submissions, not of a backlog
    seen: dict[str, float] = {}
    stop_watching = asyncio.Event()
    watcher = asyncio.create_task(_watch_read_model(pool, stop_watching, seen))
    paced = await _load(
        url,
        sub.call_id,
        sub.token,
        sub.body,
        seconds=seconds,
        concurrency=64,
        rate=offered,
        regions=_REGIONS,
    )
    fresh = await _freshness(paced["applications"], seen)
    stop_watching.set()
    await watcher
    lat = paced["latencies"]
    return {
        "offered": offered,
        "acknowledged": paced["acknowledged"] / paced["seconds"],
        "answer_p99": _percentile(lat, 0.99) * 1e3,
        "p50": _percentile(fresh, 0.5) * 1e3,
        "p95": _percentile(fresh, 0.95) * 1e3,
        "p99": _percentile(fresh, 0.99) * 1e3,
        "errors": paced["errors"],  # an overloaded API's timeouts are part of the answer
    }


async def bulk_memory(
    s: Settings, services: Services, sub: Submitting, small: int, large: int
) -> dict[str, float]:
    """Peak RSS of a fresh one-process API after a batch of `small` lines and then after one
    of `large` lines: a body streamed a chunk at a time leaves the peak where it was."""
    await services.restart_api(1)
    await bulk(services.url, s, sub.call_id, sub.line, small)
    after_small = peak_rss_mib(services.api_pid())
    rate = await bulk(services.url, s, sub.call_id, sub.line, large)
    after_large = peak_rss_mib(services.api_pid())
    return {"small_mib": after_small, "large_mib": after_large, "rate": rate}


_REGIONS = ",".join(REGIONS)


async def rebuild_rate(s: Settings, pool: asyncpg.Pool) -> float:
    """Events per second of a full rebuild of the readside's read models."""
    from konkurs_readside.rebuild import rebuild

    report = await rebuild(s, pool)
    return report.rate
