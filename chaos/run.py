"""One chaos run: a private stack, every service under the supervisor, the load and the
faults for a while, then quiet, then the invariants; and the summary of it all."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from aiokafka.errors import KafkaError

from chaos import invariants
from chaos.faults import Faults
from chaos.load import GIVE_UP_AFTER, REQUEST_TIMEOUT, Load, Outcome
from chaos.servers import PrivateServers
from konkurs_ops.processes import free_port, service_env, wait_ready
from konkurs_ops.supervisor import RestartPolicy, Supervisor, processes_of
from konkurs_platform.db import create_pool
from konkurs_platform.settings import Settings
from konkurs_platform.spec import discover
from konkurs_readside.positions import event_partitions, stored_offsets

log = logging.getLogger("chaos")

# Kills are the point here, so they must not add up to a "crash loop" that leaves a process
# stopped; the backoff stays short so that a killed process is soon back under load.
POLICY = RestartPolicy(first_backoff=0.5, max_backoff=5.0, healthy_after=10.0, crash_loop_exits=50)
# After the faults stop: how long everything may take to come back and catch up.
QUIET_TIMEOUT = 180.0


@dataclass(frozen=True)
class Options:
    seconds: float
    seed: int
    workers: int = 4
    # Seconds between one fault's end and the next kill.
    pause: tuple[float, float] = (5.0, 20.0)
    keep: bool = False
    # Targets struck first, before the seeded rounds (`Faults.first`).
    first: tuple[str, ...] = ()


@dataclass
class Summary:
    """What a run did and found."""

    options: Options
    kills: Counter[str] = field(default_factory=Counter)
    restarts: Counter[str] = field(default_factory=Counter)
    commands: Counter[str] = field(default_factory=Counter)
    # The commands not acknowledged, by kind, outcome, status and problem: not violations
    # (the checks hold them to at most once), but a reader wants to know why.
    refusals: Counter[str] = field(default_factory=Counter)
    verdict: invariants.Verdict = field(default_factory=invariants.Verdict)
    # Conditions of quiet that were not reached (a process that never came back, a backlog
    # that never drained): each is a violation too.
    stuck: list[str] = field(default_factory=list)
    # When each kill struck (seconds since the start) and what.
    timeline: list[tuple[float, str]] = field(default_factory=list)
    home: Path | None = None
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.verdict.ok and not self.stuck

    def render(self) -> str:
        o, v = self.options, self.verdict
        acked = sum(n for k, n in self.commands.items() if k.endswith(" acknowledged"))
        wire = sum(n for k, n in v.counts.items() if k.startswith("records on "))
        stored = sum(n for k, n in v.counts.items() if k.startswith("events stored by "))
        raw = sum(n for k, n in v.counts.items() if k.startswith("raw duplicates on "))
        lines = [
            f"chaos summary: seed {o.seed}, {o.seconds:.0f} s of load and faults, "
            f"{o.workers} clients, {self.elapsed:.0f} s in all",
            "kills: "
            + ", ".join(f"{t} {n}" for t, n in sorted(self.kills.items()))
            + f" (total {self.kills.total()})",
            "kill timeline: " + ", ".join(f"{at:.0f}s {target}" for at, target in self.timeline),
            "restarts by the supervisor: "
            + ", ".join(f"{t} {n}" for t, n in sorted(self.restarts.items())),
            f"commands acknowledged: {acked} ("
            + ", ".join(f"{k} {n}" for k, n in sorted(self.commands.items()))
            + ")",
            *(f"  not acknowledged: {n} x {k}" for k, n in self.refusals.most_common(8)),
            f"events stored: {stored}; records on the wire: {wire}; "
            f"raw duplicates on the wire (same event id): {raw}",
            "checked: "
            + ", ".join(
                f"{k} {n}"
                for k, n in sorted(v.counts.items())
                if not k.startswith(("records on", "events stored", "raw duplicates"))
            ),
            f"lost {_by_check(v.lost)}, duplicated {_by_check(v.duplicated)}, "
            f"diverged {_by_check(v.diverged)}, stuck {len(self.stuck)}",
        ]
        lines += [f"  VIOLATION {e}" for e in v.examples]
        lines += [f"  STUCK {s}" for s in self.stuck]
        if self.home is not None:
            lines.append(f"logs and data kept in {self.home}")
        lines.append(f"replay: make chaos SEED={o.seed} DURATION={o.seconds:.0f}")
        lines.append("RESULT: " + ("PASS" if self.ok else "FAIL"))
        return "\n".join(lines)


def _by_check(found: Counter[str]) -> str:
    """`3 (audit 2, topics 1)`, or `0`."""
    if not found.total():
        return "0"
    return f"{found.total()} (" + ", ".join(f"{k} {n}" for k, n in sorted(found.items()) if n) + ")"


async def run(options: Options) -> Summary:
    """Run the load and the faults for `options.seconds`, then check the invariants."""
    started = time.monotonic()
    summary = Summary(options)
    rng = random.Random(options.seed)
    log.info("chaos run with seed %d for %.0f s", options.seed, options.seconds)
    servers = PrivateServers(Settings.from_env())
    specs = discover()
    ports = {spec.name: free_port() for spec in specs if spec.api is not None}
    readiness = [f"http://127.0.0.1:{port}/readyz" for port in ports.values()]
    supervisor: Supervisor | None = None
    supervising: asyncio.Task[None] | None = None
    try:
        await servers.start()
        s = servers.settings
        env = service_env(
            s,
            servers.home,
            PYTHONUNBUFFERED="1",
            **{f"KONKURS_{name.upper()}_PORT": str(port) for name, port in ports.items()},
        )
        (servers.home / "run").mkdir(exist_ok=True)
        supervisor = Supervisor(
            processes_of(specs),
            servers.home / "logs",
            servers.home / "run" / "processes.json",
            env,
            POLICY,
        )
        supervisor.start()
        supervising = asyncio.create_task(_supervise(supervisor))
        await asyncio.to_thread(wait_ready, readiness, 120)

        load = Load(
            s,
            f"http://127.0.0.1:{ports['intake']}",
            random.Random(rng.random()),
            run_id=f"{options.seed}",
            until=datetime.now(UTC) + timedelta(seconds=options.seconds),
        )
        faults = Faults(
            servers, supervisor, random.Random(rng.random()), options.pause, first=options.first
        )
        async with httpx.AsyncClient(base_url=load.intake_url, timeout=REQUEST_TIMEOUT) as http:
            await load.prepare(http)
            stop = asyncio.Event()
            loading = asyncio.create_task(load.run(http, stop, options.workers))
            striking = asyncio.create_task(faults.run(stop, started))
            # The faults end early only when a server would not start again.
            await asyncio.wait({striking}, timeout=options.seconds)
            stop.set()
            # The fault under way ends with its server started again; the commands in flight
            # get their answers (or are given up).
            try:
                await striking
            except RuntimeError as exc:
                summary.stuck.append(str(exc)[:2000])
            await asyncio.wait_for(loading, GIVE_UP_AFTER + 30)
        summary.kills, summary.timeline = faults.kills, faults.timeline
        for c in load.commands:
            summary.commands[f"{c.kind} {c.outcome}"] += 1
            if c.outcome is not Outcome.ACKED:
                summary.refusals[f"{c.kind} {c.outcome} {c.status} {c.detail}"] += 1

        if not summary.stuck:
            await _quiet(summary, supervisor, s, readiness)
            pool = await create_pool(s, max_size=4)
            try:
                await _check(summary, s, pool, load)
            finally:
                await pool.close()
        summary.restarts = Counter({c.name: c.restarts for c in supervisor.children})
    finally:
        if supervising is not None:
            supervising.cancel()
        if supervisor is not None:
            await asyncio.to_thread(supervisor.shutdown)
        await asyncio.to_thread(servers.stop)
        summary.elapsed = time.monotonic() - started
        if summary.ok and not options.keep:
            servers.remove()
        else:
            summary.home = servers.home
    return summary


async def _supervise(supervisor: Supervisor) -> None:
    while True:
        supervisor.step()
        await asyncio.sleep(0.2)


async def _until(
    summary: Summary, what: str, condition: Callable[[], Awaitable[bool]], timeout: float
) -> None:
    """Wait for `condition` with a deadline; record it as stuck if it never holds."""
    deadline = time.monotonic() + timeout
    while True:
        asked = time.monotonic()
        try:
            if await condition():
                return
        except (OSError, asyncpg.PostgresError, KafkaError) as exc:
            log.info("waiting for %s: %r", what, exc)
        if time.monotonic() > deadline:
            summary.stuck.append(f"{what}: not within {timeout:.0f} s")
            return
        # A costly condition (scoring's, which folds every call event) is asked less often.
        await asyncio.sleep(max(0.5, 2 * (time.monotonic() - asked)))


async def _quiet(
    summary: Summary, supervisor: Supervisor, s: Settings, readiness: list[str]
) -> None:
    """Wait until every process runs and answers, and every backlog has drained."""

    async def all_running() -> bool:
        return all(c.proc is not None and c.proc.poll() is None for c in supervisor.children)

    async def ready() -> bool:
        try:
            await asyncio.to_thread(wait_ready, readiness, 1)
        except TimeoutError:
            return False
        return True

    await _until(summary, "every process running", all_running, QUIET_TIMEOUT)
    await _until(summary, "every API ready", ready, QUIET_TIMEOUT)
    pool = await create_pool(s, max_size=2)
    try:

        async def outboxes_empty() -> bool:
            async with pool.acquire() as conn:
                for spec in discover():
                    if spec.relay and await conn.fetchval(
                        f"SELECT count(*) FROM {spec.schema}.outbox"
                    ):
                        return False
            return True

        async def projected() -> bool:
            partitions = await event_partitions(s)
            ends = await invariants.topic_ends(s, partitions)
            async with pool.acquire() as conn:
                stored = await stored_offsets(conn, "readside")
            return all(stored.get(tp, 0) >= end for tp, end in ends.items())

        async def scoring_caught_up() -> bool:
            async with pool.acquire() as conn:
                return await invariants.expected_scoring_calls(
                    conn
                ) == await invariants.scoring_calls(conn)

        async def calls_closed() -> bool:
            async with pool.acquire() as conn:
                return not await conn.fetchval(
                    "SELECT count(*) FROM intake.calls_index "
                    "WHERE closes_at <= now() AND NOT closed"
                )

        # Intake's clock closes every call that is due, the closer killed or not; after
        # that no timer fires until long after the checks.
        await _until(summary, "every due call closed", calls_closed, QUIET_TIMEOUT)
        await _until(summary, "outboxes empty", outboxes_empty, QUIET_TIMEOUT)
        await _until(summary, "readside caught up", projected, QUIET_TIMEOUT)
        await _until(summary, "scoring caught up", scoring_caught_up, QUIET_TIMEOUT)
    finally:
        await pool.close()


async def _check(summary: Summary, s: Settings, pool: asyncpg.Pool, load: Load) -> None:
    v = summary.verdict
    async with pool.acquire() as conn:
        await invariants.check_commands(conn, load.commands, v)
        on_topics = await invariants.check_topics(s, conn, v)
        await invariants.check_dead_letters(s, v)
        await invariants.check_registration_numbers(conn, v)
        await invariants.check_audit(conn, on_topics, v)
        invariants.check_scoring(
            await invariants.expected_scoring_calls(conn), await invariants.scoring_calls(conn), v
        )
    await invariants.check_read_models(s, pool, v)
