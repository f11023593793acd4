"""The readside's own `konkurs` subcommands: `projections rebuild` and `audit verify`.

Registered through the readside's spec (`commands=`), so the CLI itself names neither.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from konkurs_platform.settings import Settings
from konkurs_readside.spec import SPEC


def register(sub: Any) -> None:
    """Add the readside's commands to the `konkurs` parser's sub-parsers."""
    pj = sub.add_parser("projections", help="operate the readside read models")
    pj.add_argument("action", choices=["rebuild"])
    pj.add_argument("names", nargs="*", metavar="NAME", help="read models (default: all)")
    pj.add_argument("--schema", default=SPEC.schema, help=argparse.SUPPRESS)
    pj.set_defaults(func=cmd_projections)

    au = sub.add_parser(
        "audit",
        help="the audit trail: verify the chain, take a signed checkpoint, show the public key",
    )
    au.add_argument("action", choices=["verify", "checkpoint", "public-key"])
    au.add_argument(
        "--checkpoints",
        type=Path,
        help="verify: also hold the chain against the signed checkpoints in this file; "
        "checkpoint: the file to add the new one to (default <home>/audit/checkpoints.jsonl)",
    )
    au.add_argument(
        "--public-key", type=Path, help="verify: the PEM file of the key checkpoints are signed by"
    )
    au.add_argument("--schema", default=SPEC.schema, help=argparse.SUPPRESS)
    au.set_defaults(func=cmd_audit)


def cmd_projections(s: Settings, args: argparse.Namespace) -> None:
    """Replay the read models from offset 0 into fresh tables and swap them in, with a
    progress bar (on a terminal) and a summary line (always)."""
    from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn
    from rich.text import Text

    from konkurs_platform.db import create_pool
    from konkurs_platform.logs import configure_logging
    from konkurs_readside.rebuild import rebuild, select_projections

    class Counts(ProgressColumn):
        # The total is unknown until the end offsets are read: a column that formats
        # `task.total` straight away would fail on None (the crash of issue 13, item 3).
        def render(self, task: Task) -> Text:
            total = "?" if task.total is None else f"{task.total:,.0f}"
            return Text(f"{task.completed:,.0f}/{total} events")

    class Rate(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(f"{task.speed or 0:,.0f} events/s")

    configure_logging("WARNING", "readside-rebuild")
    try:
        names = [p.name for p in select_projections(args.names)]
    except ValueError as exc:
        raise SystemExit(str(exc)) from None

    async def main() -> None:
        pool = await create_pool(s, max_size=2)
        try:
            columns = (
                TextColumn("rebuilding " + ", ".join(names)),
                BarColumn(),
                Counts(),
                Rate(),
            )
            with Progress(*columns, transient=False) as progress:
                task = progress.add_task("rebuild", total=None)
                report = await rebuild(
                    s,
                    pool,
                    names=names,
                    schema=args.schema,
                    progress=lambda done, total: progress.update(task, completed=done, total=total),
                )
        finally:
            await pool.close()
        print(
            f"rebuilt {', '.join(report.projections)}: {report.events:,} events in "
            f"{report.seconds:.1f} s ({report.rate:,.0f} events/s); "
            f"{report.skipped_unapplicable} could not be applied (dead-lettered when live)",
            file=sys.stderr,
        )

    asyncio.run(main())


def cmd_audit(s: Settings, args: argparse.Namespace) -> None:
    """`verify`: recompute the chain (and hold it against signed checkpoints); exit 1 at the
    first broken link or failed checkpoint. `checkpoint`: sign the head now, file it and
    publish it. `public-key`: print the key an auditor verifies checkpoints with."""
    import asyncpg

    from konkurs_readside import checkpoints
    from konkurs_readside.audit import verify

    if args.action == "public-key":
        print(checkpoints.public_pem(checkpoints.signing_key(s)), end="")
        return
    default_file = s.home / "audit" / "checkpoints.jsonl"

    async def take() -> None:
        conn = await asyncpg.connect(s.dsn)
        try:
            cp = await checkpoints.take(conn, args.schema, checkpoints.signing_key(s))
        finally:
            await conn.close()
        path = args.checkpoints or default_file
        checkpoints.append_to_file(path, cp)
        await checkpoints.publish(s, cp)
        print(f"checkpoint of link {cp.seq} signed by {cp.key_id}: added to {path}, published")
        print(cp.to_json())

    async def check() -> bool:
        conn = await asyncpg.connect(s.dsn)
        try:
            outcome = await verify(conn, args.schema)
            held = []
            if args.checkpoints is not None:
                pem = (
                    args.public_key.read_text()
                    if args.public_key is not None
                    else checkpoints.public_pem(checkpoints.signing_key(s))
                )
                held = await checkpoints.check(
                    conn,
                    args.schema,
                    checkpoints.read_file(args.checkpoints),
                    checkpoints.load_public_key(pem),
                )
        finally:
            await conn.close()
        if outcome.ok:
            print(f"audit chain intact: {outcome.checked:,} links verified")
        else:
            print(
                f"audit chain BROKEN at link {outcome.broken_at}: {outcome.reason} "
                f"({outcome.checked:,} links before it verified)"
            )
        for result in held:
            cp = result.checkpoint
            verdict = "holds" if result.ok else f"FAILS: {result.problem}"
            print(f"checkpoint of link {cp.seq} ({cp.taken_at.isoformat()}): {verdict}")
        return outcome.ok and all(r.ok for r in held)

    if args.action == "checkpoint":
        asyncio.run(take())
    elif not asyncio.run(check()):
        raise SystemExit(1)
