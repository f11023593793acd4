"""What a careful client of konkurs does, shared by the chaos harness and the SIGKILL tests.

A careful client sends every command with an `X-Correlation-ID` of its own and, for a
creating POST, an `Idempotency-Key`; when the answer is lost (the connection broke, the
request timed out, or the server answered 5xx because it was going away) it sends the very
same request again, with the same key and correlation id, until it gets a final answer;
asked to slow down (429), it waits as long as `Retry-After` says and sends it again. The
correlation id is what the events of the command carry, so whether a command took effect,
and how many times, can be read from the event store afterwards.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import httpx

from konkurs_platform.web import CORRELATION_HEADER

# Between attempts: long enough not to hammer a restarting server, short enough that a
# command resumes soon after it is back.
RETRY_PAUSE = 0.25


class Unanswered(Exception):
    """No final answer came before the client gave up: the command's fate is unknown."""


def call_body(
    call_id: str,
    opens: datetime,
    closes: datetime,
    regions: list[str],
    *,
    region_set: str = "current",
    quota: int = 6,
    threshold: int = 3,
) -> dict[str, Any]:
    """A valid announcement of a call open from `opens` to `closes` in `regions`."""
    criterion = {"id": "strategy", "name": {"en": "Strategy"}, "weight": 100}
    return {
        "call_id": call_id,
        "title": {"ru": "Отбор кластеров"},
        "programme": "territorial-clusters",
        "opens_at": opens.isoformat(),
        "closes_at": closes.isoformat(),
        "quota": quota,
        "region_set": region_set,
        "regions": regions,
        "eligibility": {
            "min_participants": 3,
            "min_sme_share_percent": 50,
            "require_university_or_research": True,
        },
        "methodology": {
            "criteria": [{**criterion, "kind": "expert", "threshold": threshold}],
            "overall_threshold": 60,
        },
    }


async def send_until_answered(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    correlation_id: str,
    headers: dict[str, str],
    json: Any,
    idempotency_key: str | None = None,
    give_up_at: float,
) -> tuple[httpx.Response, bool]:
    """Send the request until a final answer (neither 5xx nor 429); return it and whether an earlier
    attempt's answer was lost (so that attempt may have taken effect).

    Raises `Unanswered` once `give_up_at` (a `time.monotonic()` instant) has passed.
    """
    sent = {**headers, CORRELATION_HEADER: correlation_id}
    if idempotency_key is not None:
        sent["Idempotency-Key"] = idempotency_key
    lost = False
    while True:
        try:
            answer = await http.request(method, url, json=json, headers=sent)
        except httpx.TransportError:
            answer = None
        pause = RETRY_PAUSE
        if answer is not None and answer.status_code == 429:
            # Rate-limited: certainly not carried out; asked to come back later.
            pause = _retry_after(answer)
        elif answer is not None and answer.status_code < 500:
            return answer, lost
        else:
            # Only a server that is going away answers 5xx here; like a broken connection,
            # the command may or may not have been carried out.
            lost = True
        if time.monotonic() > give_up_at:
            raise Unanswered(f"{method} {url}: no answer before giving up")
        await asyncio.sleep(pause)


def _retry_after(answer: httpx.Response) -> float:
    """The seconds a 429's `Retry-After` asks for (RETRY_PAUSE when it says none)."""
    try:
        return max(RETRY_PAUSE, float(answer.headers.get("Retry-After", RETRY_PAUSE)))
    except ValueError:
        return RETRY_PAUSE
