"""A private Kafka broker and PostgreSQL cluster for one chaos run, which it may kill.

The shared local stack (the one `make run` and the test sessions use) must never be killed:
other people's work runs on it. So a chaos run starts servers of its own, through the same
`konkurs_ops.stack` functions, under a home of its own in a temporary directory and on free
ports, and kills and restarts those.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from konkurs_ops import stack
from konkurs_ops.processes import free_port
from konkurs_platform.db import migrate_service
from konkurs_platform.settings import Settings
from konkurs_platform.spec import discover

# Fewer partitions than the default 12: a restarted broker loads them faster, and two cores
# gain nothing from more consumer parallelism.
PARTITIONS = 6


class PrivateServers:
    """Kafka and PostgreSQL of one chaos run: started, killed, restarted, removed."""

    def __init__(self, base: Settings) -> None:
        home = Path(tempfile.mkdtemp(prefix="konkurs-chaos-"))
        # PostgreSQL runs as its own user when we are root (it refuses root), and must be
        # able to enter the home that mkdtemp made 0700.
        home.chmod(0o755)
        self.home = home
        self.settings = replace(
            base,
            home=home,
            kafka_bootstrap=f"127.0.0.1:{free_port()}",
            kafka_controller_port=free_port(),
            pg_port=free_port(),
            database_url=None,
            topic_prefix="konkurs",
            partitions=PARTITIONS,
            ports={},
        )

    async def start(self) -> None:
        """Start both servers, create the topics and migrate every registered service."""
        s = self.settings
        await asyncio.to_thread(stack.start_postgres, s)
        await asyncio.to_thread(stack.start_kafka, s)
        await asyncio.to_thread(stack.create_topics, s)
        for spec in discover():
            await migrate_service(s, spec)

    # --- faults -------------------------------------------------------------------------

    def kill_kafka(self) -> None:
        """SIGKILL the broker: no shutdown code runs."""
        stack.stop_kafka(self.settings, kill=True)

    def start_kafka(self) -> None:
        stack.start_kafka(self.settings)

    def kill_postgres(self) -> None:
        """SIGKILL the postmaster and every server process, as a power cut would."""
        pid = self._postmaster_pid()
        if pid is None:
            return
        # The backends too: a postmaster killed alone leaves them attached to its shared
        # memory, and a new postmaster refuses to start until they are gone.
        victims = [pid, *_children(pid)]
        for victim in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        # Until they are reaped, not merely dead: a new postmaster takes a zombie's pid in
        # postmaster.pid for a live server and refuses to start.
        deadline = time.monotonic() + 60
        while any(_exists(v) for v in victims):
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL processes survived SIGKILL: {victims}")
            time.sleep(0.05)

    def start_postgres(self) -> None:
        stack.start_postgres(self.settings)

    def _postmaster_pid(self) -> int | None:
        # The first line of postmaster.pid in the data directory under `home/pg/data`.
        try:
            return int((self.home / "pg" / "data" / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None

    # --- the end ------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop both servers cleanly (their data stays until `remove`)."""
        with contextlib.suppress(Exception):
            stack.stop_kafka(self.settings)
        with contextlib.suppress(Exception):
            stack.stop_postgres(self.settings)

    def remove(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (the postmaster's server processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 is the parent pid; the command name (field 2) may hold spaces and
        # parentheses, so read after its closing parenthesis.
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _exists(pid: int) -> bool:
    """Whether `pid` is still in the process table (a zombie too, unless we can reap it)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # ours only if a server was started by this process
    return Path(f"/proc/{pid}").exists()
