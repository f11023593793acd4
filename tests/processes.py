"""Waiting for `konkurs` processes from async tests (the processes themselves:
`konkurs_ops.processes`)."""

from __future__ import annotations

import asyncio
import time

import httpx


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
