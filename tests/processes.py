"""Running `konkurs` processes from the end-to-end tests, as production runs them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

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


async def wait_healthy(http: httpx.AsyncClient, path: str = "/readyz", timeout: float = 60) -> None:
    """Wait until the API at `http` answers 200 on `path`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if (await http.get(path)).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError(f"{http.base_url} did not answer {path} within {timeout:.0f} s")
