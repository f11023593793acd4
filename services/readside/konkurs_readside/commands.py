"""The readside's own `konkurs` subcommands: `projections rebuild` and `audit verify`.

Registered through the readside's spec (`commands=`), so the CLI itself names neither.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
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

    au = sub.add_parser("audit", help="the audit trail")
    au.add_argument("action", choices=["verify"])
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
    """Recompute the audit log's hash chain; exit 1 at the first broken link."""
    import asyncpg

    from konkurs_readside.audit import verify

    async def main() -> bool:
        conn = await asyncpg.connect(s.dsn)
        try:
            outcome = await verify(conn, args.schema)
        finally:
            await conn.close()
        if outcome.ok:
            print(f"audit chain intact: {outcome.checked:,} links verified")
        else:
            print(
                f"audit chain BROKEN at link {outcome.broken_at}: {outcome.reason} "
                f"({outcome.checked:,} links before it verified)"
            )
        return outcome.ok

    if not asyncio.run(main()):
        raise SystemExit(1)
