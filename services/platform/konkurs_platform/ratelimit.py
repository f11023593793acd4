"""Rate limits per caller: a token bucket for each principal (role and subject).

Each caller may send `burst` requests at once and then `per_minute` a minute; a request past
that is answered 429 with `Retry-After` (whole seconds until a token is back). A service adds
`limit_writes` as a dependency of the routers whose writes it limits; the app's limiter is
`app.state.rate_limiter`, made from its settings at the first write (a test may set its own):

    router = APIRouter(prefix="/v1/calls", dependencies=[Depends(limit_writes)])

The buckets live in the process's memory. That is enough for one API process; with N
processes behind a load balancer each keeps its own buckets, so a caller gets up to N times
the limit. A shared store (PostgreSQL or Redis) would make it exact, at a round trip per
write.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from konkurs_platform.auth import Principal, authenticated, log_denial
from konkurs_platform.problems import Problem, ProblemType
from konkurs_platform.settings import Settings

TOO_MANY_REQUESTS = ProblemType(
    "too-many-requests",
    429,
    "Too many requests",
    "The caller sent more writes than its rate limit allows; retry after `Retry-After` seconds.",
)


# Writes change the event store; reads are cheap and are not limited here.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by caller: `burst` tokens, refilled at `per_minute` a minute.

    `clock` is monotonic seconds (tests move it). Not thread-safe, nor does it need to be: an
    asyncio app calls it from one thread, and `take` never awaits.
    """

    def __init__(
        self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("a rate limit needs per_minute > 0 and burst >= 1")
        self.rate = per_minute / 60.0
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._sweep_at = clock()

    def take(self, key: str) -> float:
        """Spend one token of `key`'s bucket: 0 if there was one, else the seconds until
        there will be (nothing is spent then)."""
        now = self.clock()
        self._sweep(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    def _sweep(self, now: float) -> None:
        # A bucket that has refilled is the same as no bucket: dropping it keeps memory to
        # the callers active within one refill time, however many callers come and go.
        if now - self._sweep_at < self.burst / self.rate:
            return
        self._sweep_at = now
        self._buckets = {
            key: b
            for key, b in self._buckets.items()
            if b.tokens + (now - b.updated) * self.rate < self.burst
        }

    @classmethod
    def for_writes(cls, settings: Settings) -> RateLimiter | None:
        """The limiter of a service's writes as `settings` configure it; None for no limit
        (`write_rate_per_minute` of 0)."""
        per_minute, burst = settings.write_rate_per_minute, settings.write_rate_burst
        return cls(per_minute, burst) if per_minute > 0 else None


async def limit_writes(
    request: Request, principal: Annotated[Principal, Depends(authenticated)]
) -> None:
    """Dependency: a write over the caller's limit is refused with 429 and `Retry-After`.

    Keyed by role and subject, as the token names its caller; reads pass untouched.
    """
    if request.method not in WRITE_METHODS:
        return
    state = request.app.state
    if not hasattr(state, "rate_limiter"):
        # Made at the first write, from the app's settings; no await comes between the
        # check and the assignment, so two requests cannot both make one.
        state.rate_limiter = RateLimiter.for_writes(state.settings)
    limiter: RateLimiter | None = state.rate_limiter
    if limiter is None:
        return
    wait = limiter.take(f"{principal.role.value}:{principal.subject}")
    if wait > 0:
        retry_after = max(1, math.ceil(wait))
        log_denial(request, principal, 429, "rate limit exceeded")
        raise Problem(
            TOO_MANY_REQUESTS,
            f"Too many writes; retry in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )
