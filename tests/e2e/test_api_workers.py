"""`konkurs api SERVICE --workers N` serves one port from N processes, each building the
service's app from its registration."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from processes import wait_healthy

from konkurs_ops.processes import Process, free_port, service_env
from konkurs_platform.settings import Settings

pytestmark = pytest.mark.integration


def worker_processes(parent: int) -> list[int]:
    """The children of `parent` that uvicorn started to serve requests (the spawn start
    method runs each as `python -c 'from multiprocessing.spawn import spawn_main; ...'`)."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    workers = []
    for pid in children:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        if b"spawn_main" in cmdline:
            workers.append(int(pid))
    return workers


async def test_two_workers_serve_the_intake_api_on_one_port(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    env = service_env(settings, tmp_path / "home", KONKURS_INTAKE_PORT=str(port))
    api = Process("intake-api", ["api", "intake", "--workers", "2"], env, tmp_path)
    api.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            await wait_healthy(http)
            assert api.proc is not None
            assert len(worker_processes(api.proc.pid)) == 2
            # New connections are spread over the workers by the kernel; all must answer.
            for _ in range(10):
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as fresh:
                    assert (await fresh.get("/healthz")).status_code == 200
    except BaseException:
        print(api.tail())
        raise
    finally:
        api.stop()
