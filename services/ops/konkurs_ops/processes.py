"""Running `konkurs` processes as children of another Python process: the end-to-end tests
and the benchmark start the services this way, as production runs them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from konkurs_platform.settings import Settings

KONKURS = str(Path(sys.executable).parent / "konkurs")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_env(settings: Settings, home: Path, **extra: str) -> dict[str, str]:
    """The environment of a process of this test run: its database, topics and ports."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=settings.dsn,
        KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
        KONKURS_TOPIC_PREFIX=settings.topic_prefix,
        KONKURS_PARTITIONS=str(settings.partitions),
        KONKURS_HOME=str(home),
        KONKURS_LOG_LEVEL="INFO",
        KONKURS_WRITE_RATE_PER_MINUTE=str(settings.write_rate_per_minute),
    )
    env.update(extra)
    return env


class Process:
    """One `konkurs` process, its output in a file shown when the test ends."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path) -> None:
        self.name, self.args, self.env = name, args, env
        self.log = logs / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen([KONKURS, *self.args], env=self.env, stdout=out, stderr=out)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def tail(self, lines: int = 25) -> str:
        text = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return f"--- {self.name} ---\n" + "\n".join(text[-lines:])


def wait_ready(urls: Iterable[str], timeout: float) -> None:
    """Wait until every URL answers 200 (e.g. each API's `/readyz`); raise after `timeout`."""
    deadline = time.monotonic() + timeout
    pending = set(urls)
    while pending:
        for url in sorted(pending):
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    if answer.status == 200:
                        pending.discard(url)
            except OSError:
                pass
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"not ready after {timeout:.0f} s: {', '.join(sorted(pending))}")
        if pending:
            time.sleep(0.5)
