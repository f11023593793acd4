"""Which stage a benchmark run is in and how long is left: one line as each stage starts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console


def _clock(seconds: float) -> str:
    minutes, secs = divmod(max(0, round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


class Progress:
    """A run's stages with their expected lengths, announced as they start and end.

    "Left" is the expected length of the stages not yet finished: an estimate, corrected at
    every stage as the real lengths replace the expected ones."""

    def __init__(self, console: Console, plan: list[tuple[str, float]]) -> None:
        self.console = console
        self.plan = dict(plan)
        self.order = [name for name, _ in plan]
        self.started = time.monotonic()
        self.took: dict[str, float] = {}

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started

    def left(self) -> float:
        """Expected seconds of the stages not yet finished."""
        return sum(self.plan[n] for n in self.order if n not in self.took)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Announce `name` (one of the plan's), time it, and announce its end."""
        number = self.order.index(name) + 1
        elapsed = time.monotonic() - self.started
        self.console.log(
            f"[bold][{number}/{len(self.order)}] {name}[/bold]: elapsed {_clock(elapsed)}, "
            f"about {_clock(self.left())} left (this stage about {_clock(self.plan[name])})"
        )
        start = time.monotonic()
        try:
            yield
        finally:
            self.took[name] = time.monotonic() - start
            self.console.log(
                f"  {name} took {_clock(self.took[name])}; about {_clock(self.left())} left"
            )
