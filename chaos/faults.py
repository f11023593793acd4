"""The faults of a chaos run: SIGKILL of a service process, of the broker or of PostgreSQL,
at random moments drawn from the run's seed.

Service processes run under the local supervisor (`konkurs_ops.supervisor`), which restarts a
killed one with its backoff, exactly as on a developer's machine. The broker and PostgreSQL
are restarted here after a random downtime, since nothing else would.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from chaos.servers import PrivateServers
from konkurs_ops.supervisor import Supervisor

log = logging.getLogger("chaos")

RESTART_ATTEMPTS = 3

KAFKA = "kafka"
POSTGRES = "postgres"


@dataclass
class Faults:
    """Kills one target at a time, each after a random pause, until stopped."""

    servers: PrivateServers
    supervisor: Supervisor
    rng: random.Random
    # Seconds between the end of one fault and the next kill.
    pause: tuple[float, float]
    # How long the broker or PostgreSQL stays dead before it is started again.
    downtime: tuple[float, float] = (0.5, 5.0)
    # Struck before the random rounds, in this order: a short run names the ones it must
    # not miss however few kills it has time for.
    first: tuple[str, ...] = ()
    kills: Counter[str] = field(default_factory=Counter)
    timeline: list[tuple[float, str]] = field(default_factory=list)

    @property
    def targets(self) -> list[str]:
        return [c.name for c in self.supervisor.children] + [KAFKA, POSTGRES]

    async def run(self, stop: asyncio.Event, started: float) -> None:
        """Kill until `stop` is set: first the `first` targets, then rounds in which every
        target is killed once, in an order drawn from the seed, so that a long run strikes
        each of them about equally often."""
        unknown = set(self.first) - set(self.targets)
        if unknown:
            raise ValueError(f"no such targets: {sorted(unknown)}; there are {self.targets}")
        rounds = list(self.first)
        while not stop.is_set():
            if not rounds:
                rounds = self.targets
                self.rng.shuffle(rounds)
            while rounds:
                target = rounds.pop(0)
                pause = self.rng.uniform(*self.pause)
                try:
                    await asyncio.wait_for(stop.wait(), pause)
                    return
                except TimeoutError:
                    pass
                self.timeline.append((time.monotonic() - started, target))
                await self.strike(target)

    async def strike(self, target: str) -> None:
        """SIGKILL `target`; bring the broker or PostgreSQL back after a downtime."""
        log.info("killing %s", target)
        if target == KAFKA:
            await asyncio.to_thread(self.servers.kill_kafka)
            self.kills[target] += 1
            await asyncio.sleep(self.rng.uniform(*self.downtime))
            await _restart(target, self.servers.start_kafka)
        elif target == POSTGRES:
            await asyncio.to_thread(self.servers.kill_postgres)
            self.kills[target] += 1
            await asyncio.sleep(self.rng.uniform(*self.downtime))
            await _restart(target, self.servers.start_postgres)
        else:
            child = next(c for c in self.supervisor.children if c.name == target)
            if child.proc is not None and child.proc.poll() is None:
                os.kill(child.proc.pid, signal.SIGKILL)
                self.kills[target] += 1
            else:
                # Down already (still in its restart backoff): only real kills count.
                log.info("%s is down already", target)


async def _restart(target: str, start: Callable[[], None]) -> None:
    """Start a killed server again; a start that fails is tried twice more (the machine may
    be slow to let go of the dead one), and then the run cannot go on: it raises."""
    for attempt in range(1, RESTART_ATTEMPTS + 1):
        try:
            await asyncio.to_thread(start)
            return
        except RuntimeError as exc:
            if attempt == RESTART_ATTEMPTS:
                raise RuntimeError(f"{target} did not start again: {exc}") from exc
            log.warning("%s did not start again (attempt %d): %s", target, attempt, exc)
            await asyncio.sleep(2.0)
