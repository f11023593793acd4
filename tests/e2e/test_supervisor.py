"""One crashed process does not stop the local system (issue 13, item 5): the supervisor
restarts it with a backoff, the others keep serving, and a crash loop is reported and left
stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from konkurs_ops.processes import KONKURS, free_port, service_env, wait_ready
from konkurs_ops.supervisor import RestartPolicy, Supervisor, read_state
from konkurs_platform.settings import Settings
from konkurs_platform.spec import discover

pytestmark = pytest.mark.integration


def _wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout:.0f} s")


def _children(state_file: Path) -> dict[str, dict[str, object]]:
    return {str(c["name"]): c for c in read_state(state_file)}


def test_a_killed_process_is_restarted_and_the_others_keep_serving(
    settings: Settings, tmp_path: Path
) -> None:
    ports = {spec.name: free_port() for spec in discover() if spec.api is not None}
    env = service_env(
        settings, tmp_path, **{f"KONKURS_{name.upper()}_PORT": str(p) for name, p in ports.items()}
    )
    log = (tmp_path / "supervisor.log").open("ab")
    supervisor = subprocess.Popen([KONKURS, "supervise"], env=env, stdout=log, stderr=log)
    state_file = tmp_path / "run" / "processes.json"
    readyz = [f"http://127.0.0.1:{port}/readyz" for port in ports.values()]
    try:
        wait_ready(readyz, timeout=90)
        before = _children(state_file)
        assert all(c["state"] == "running" for c in before.values()), before

        for victim in ("intake-relay", "intake-api"):
            pid = int(before[victim]["pid"])  # type: ignore[arg-type]
            os.kill(pid, signal.SIGKILL)
            _wait_for(
                lambda v=victim, p=pid: _children(state_file)[v]["pid"] not in (None, p),
                30,
                f"{victim} was not restarted",
            )
            # Everything else went on: no other process was restarted.
            others = {n: c["pid"] for n, c in _children(state_file).items() if n != victim}
            assert others == {n: c["pid"] for n, c in before.items() if n != victim}
            before = _children(state_file)
            assert before[victim]["restarts"] == 1
        wait_ready(readyz, timeout=60)
    finally:
        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait(60)
        log.close()
    assert not state_file.exists()
    for child in before.values():
        with pytest.raises(ProcessLookupError):
            os.kill(int(child["pid"]), 0)  # type: ignore[arg-type]


def test_a_process_that_keeps_crashing_is_reported_as_a_crash_loop(tmp_path: Path) -> None:
    policy = RestartPolicy(first_backoff=0.05, max_backoff=0.2, crash_loop_exits=3)
    # `konkurs relay` of a service that does not exist exits at once, every time.
    supervisor = Supervisor(
        [("broken", ["relay", "no-such-service"])],
        tmp_path / "logs",
        tmp_path / "processes.json",
        dict(os.environ),
        policy,
    )
    supervisor.start()
    (child,) = supervisor.children
    deadline = time.monotonic() + 60
    while not child.crash_loop and time.monotonic() < deadline:
        supervisor.step()
        time.sleep(0.05)
    (state,) = json.loads((tmp_path / "processes.json").read_text())
    assert state["state"] == "crash-loop"
    assert state["restarts"] == policy.crash_loop_exits - 1
    # Left stopped: no further restarts however long the supervisor runs.
    for _ in range(10):
        supervisor.step()
    assert child.proc is None and child.restarts == policy.crash_loop_exits - 1
    assert "unknown service 'no-such-service'" in child.log_path.read_text()
