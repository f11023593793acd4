"""The local process supervisor: every registered service's processes, restarted when they die.

`konkurs up` runs it in the background (`konkurs supervise`). Unlike a Procfile runner, one
crashed process does not stop the others: it is started again after a backoff that doubles
with each quick crash (1 s up to 30 s), and a process that keeps crashing (5 exits within
60 s) is reported as a crash loop and left stopped, so that its log says why instead of
being buried under restarts. `konkurs status` reads the state file the supervisor keeps.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from konkurs_platform.spec import ServiceSpec

log = logging.getLogger("konkurs.supervisor")

KONKURS = str(Path(sys.executable).parent / "konkurs")


@dataclass(frozen=True)
class RestartPolicy:
    """How quickly a dead process is started again, and when to give up."""

    first_backoff: float = 1.0
    max_backoff: float = 30.0
    # A process that ran this long before dying was healthy: its backoff starts over.
    healthy_after: float = 30.0
    crash_loop_exits: int = 5
    crash_loop_window: float = 60.0


@dataclass
class Child:
    """One supervised process and its history."""

    name: str
    args: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff: float = 0.0
    restart_at: float | None = None
    exits: deque[float] = field(default_factory=deque)
    crash_loop: bool = False
    last_exit: int | None = None

    def state(self) -> dict[str, object]:
        running = self.proc is not None and self.proc.poll() is None
        return {
            "name": self.name,
            "pid": self.proc.pid if running and self.proc else None,
            "state": "running" if running else ("crash-loop" if self.crash_loop else "restarting"),
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "log": str(self.log_path),
        }


class Supervisor:
    """Starts the processes, restarts the ones that exit, stops them all on SIGTERM."""

    def __init__(
        self,
        processes: list[tuple[str, list[str]]],
        logs: Path,
        state_file: Path,
        env: dict[str, str],
        policy: RestartPolicy = RestartPolicy(),
    ) -> None:
        self.children = [Child(name, args, logs / f"{name}.log") for name, args in processes]
        self.state_file = state_file
        self.env = env
        self.policy = policy
        self._stopping = False

    def _start(self, child: Child) -> None:
        child.log_path.parent.mkdir(parents=True, exist_ok=True)
        out = child.log_path.open("ab")
        try:
            child.proc = subprocess.Popen(
                [KONKURS, *child.args], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        finally:
            out.close()
        child.started_at = time.monotonic()
        child.restart_at = None
        log.info("started %s (pid %d)", child.name, child.proc.pid)

    def _on_exit(self, child: Child, code: int, now: float) -> None:
        child.last_exit = code
        child.proc = None
        child.exits.append(now)
        while child.exits and now - child.exits[0] > self.policy.crash_loop_window:
            child.exits.popleft()
        if len(child.exits) >= self.policy.crash_loop_exits:
            child.crash_loop = True
            log.error(
                "%s is in a crash loop (%d exits within %.0f s, last code %d); left stopped, "
                "see %s",
                child.name,
                len(child.exits),
                self.policy.crash_loop_window,
                code,
                child.log_path,
            )
            return
        ran = now - child.started_at
        if ran >= self.policy.healthy_after or child.backoff == 0:
            child.backoff = self.policy.first_backoff
        else:
            child.backoff = min(child.backoff * 2, self.policy.max_backoff)
        child.restart_at = now + child.backoff
        log.warning(
            "%s exited with code %d after %.1f s; restarting in %.0f s",
            child.name,
            code,
            ran,
            child.backoff,
        )

    def _write_state(self) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps([c.state() for c in self.children], indent=1))
        tmp.replace(self.state_file)

    def stop(self, *_: object) -> None:
        self._stopping = True

    def start(self) -> None:
        """Start every process."""
        for child in self.children:
            self._start(child)
        self._write_state()

    def step(self) -> None:
        """Notice the processes that exited and restart those whose backoff has passed."""
        now = time.monotonic()
        changed = False
        for child in self.children:
            if child.proc is not None and (code := child.proc.poll()) is not None:
                self._on_exit(child, code, now)
                changed = True
            elif child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                self._start(child)
                changed = True
        if changed:
            self._write_state()

    def run(self, poll: float = 0.2) -> None:
        """Supervise until SIGTERM or SIGINT; then stop every child (SIGTERM, then SIGKILL)."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.start()
        while not self._stopping:
            self.step()
            time.sleep(poll)
        self.shutdown()

    def shutdown(self, grace: float = 20.0) -> None:
        running = [c.proc for c in self.children if c.proc is not None and c.proc.poll() is None]
        for proc in running:
            proc.terminate()
        deadline = time.monotonic() + grace
        for proc in running:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.state_file.unlink(missing_ok=True)
        log.info("every process stopped")


def processes_of(specs: list[ServiceSpec]) -> list[tuple[str, list[str]]]:
    """Every long-running process of the registered services."""
    return [process for spec in specs for process in spec.processes()]


def read_state(state_file: Path) -> list[dict[str, object]]:
    """What the running supervisor last wrote; empty when none runs."""
    try:
        return list(json.loads(state_file.read_text()))
    except (FileNotFoundError, ValueError):
        return []


def child_env() -> dict[str, str]:
    """The supervisor's environment, with the `konkurs` command on the PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env
