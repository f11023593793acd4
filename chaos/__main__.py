"""`make chaos`: `python -m chaos --seconds 600 --seed N`.

Prints the seed first and in the summary, so that a failing run can be replayed with
`make chaos SEED=N`; exits 1 when any invariant is violated.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import sys

from chaos.run import Options, run


def _pause(text: str) -> tuple[float, float]:
    low, _, high = text.partition(",")
    return float(low), float(high or low)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    p.add_argument("--seconds", type=float, default=600.0, help="load and faults (default 600)")
    p.add_argument("--seed", type=int, help="replay a run (default: a new random seed)")
    p.add_argument("--workers", type=int, default=4, help="concurrent clients (default 4)")
    p.add_argument(
        "--pause",
        type=_pause,
        default=(5.0, 20.0),
        metavar="MIN,MAX",
        help="seconds between one fault's end and the next kill (default 5,20)",
    )
    p.add_argument("--keep", action="store_true", help="keep the private stack's data and logs")
    args = p.parse_args()
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    # aiokafka logs every refused connection while the broker is down: expected here.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    print(f"chaos: seed {seed} (replay with make chaos SEED={seed})", flush=True)
    options = Options(args.seconds, seed, args.workers, args.pause, args.keep)
    summary = asyncio.run(run(options))
    print(summary.render(), flush=True)
    sys.exit(0 if summary.ok else 1)


if __name__ == "__main__":
    main()
