"""The load generator, run as a process of its own (`python -m bench.load ...`) so that the
client's CPU is not the server's: submits applications over HTTP and prints one JSON object
with what it measured.

Closed loop (`--rate 0`): `--concurrency` clients submit as fast as answers come back.
Open loop (`--rate R`): submissions start at R per second whatever the answers do, so
latency includes queueing, as a real front door sees it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from typing import Any

import httpx


async def run(args: argparse.Namespace) -> dict[str, Any]:
    body = json.loads(args.body)
    url = f"/v1/calls/{args.call}/applications"
    headers = {"Authorization": f"Bearer {args.token}"}
    latencies: list[float] = []
    acknowledged: list[tuple[str, float]] = []  # (application id, wall time of the answer)
    errors: dict[str, int] = {}
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx.AsyncClient(base_url=args.url, limits=limits, timeout=30) as http:
        regions = args.regions.split(",")
        sent = 0

        async def submit() -> None:
            nonlocal sent
            sent += 1
            body["cluster"]["region_code"] = regions[sent % len(regions)]
            payload = json.dumps(body, ensure_ascii=False).encode()
            start = time.perf_counter()
            try:
                answer = await http.post(
                    url,
                    content=payload,
                    headers=headers
                    | {"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"},
                )
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                return
            latencies.append(time.perf_counter() - start)
            if answer.status_code == 201:
                acknowledged.append((answer.json()["application_id"], time.time()))
            else:
                errors[str(answer.status_code)] = errors.get(str(answer.status_code), 0) + 1

        deadline = time.perf_counter() + args.seconds
        started = time.perf_counter()
        if args.rate <= 0:

            async def client() -> None:
                while time.perf_counter() < deadline:
                    await submit()

            await asyncio.gather(*(client() for _ in range(args.concurrency)))
        else:
            pending: set[asyncio.Task[None]] = set()
            interval, n = 1.0 / args.rate, 0
            while time.perf_counter() < deadline:
                n += 1
                task = asyncio.create_task(submit())
                pending.add(task)
                task.add_done_callback(pending.discard)
                await asyncio.sleep(max(0.0, started + n * interval - time.perf_counter()))
            await asyncio.gather(*pending)
        elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "acknowledged": len(acknowledged),
        "seconds": elapsed,
        "latencies": latencies,
        "applications": acknowledged,
        "errors": errors,
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--call", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--body", required=True, help="the application, as JSON")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--rate", type=float, default=0.0)
    p.add_argument("--regions", required=True, help="comma-separated region codes to rotate")
    json.dump(asyncio.run(run(p.parse_args())), sys.stdout)


if __name__ == "__main__":
    main()
