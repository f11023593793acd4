"""Waiting in long-running loops (relay, timers) that a stop signal must cut short."""

from __future__ import annotations

import asyncio
import contextlib


async def wait_any(stop: asyncio.Event, wake: asyncio.Event, timeout: float) -> None:
    """Return when `stop` or `wake` is set, or after `timeout` seconds."""
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds` unless `stop` is set first; returns whether it was set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()
