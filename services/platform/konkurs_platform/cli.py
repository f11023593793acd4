"""The `konkurs` command: run the system's processes and operate it.

konkurs up | down | status          the whole local system (Kafka, PostgreSQL, services)
konkurs stack fetch | up | down     only Kafka and PostgreSQL
konkurs migrate | topics create     prepare the database schemas and Kafka topics
konkurs api SERVICE                 a service's HTTP API
konkurs relay SERVICE               a service's outbox relay
konkurs worker SERVICE              a service's faust consumer worker
konkurs projector                   the readside projector
konkurs projections rebuild [NAME]  replay the read models from offset 0 and swap them in
konkurs audit verify                recompute the audit hash chain, report the first broken link
konkurs token --role ROLE ...       mint a development token
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import ModuleType
from typing import Any

from konkurs_platform.settings import REPO_ROOT, Settings

# Services whose code exists; commission and plans join this list when they are built.
BUILT_SERVICES = ("intake", "scoring", "readside")
RELAYED_SERVICES = ("intake",)
WORKER_SERVICES = ("scoring",)

log = logging.getLogger("konkurs")


def _bootstrap(service: str) -> ModuleType:
    if service not in BUILT_SERVICES:
        raise SystemExit(f"unknown service {service!r}; built: {', '.join(BUILT_SERVICES)}")
    return importlib.import_module(f"konkurs_{service}.bootstrap")


def _run_until_signal(main: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
    """Run `main(stop)`; SIGTERM and SIGINT set `stop` so the process ends cleanly."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())


def cmd_api(s: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    from konkurs_platform.logs import configure_logging

    configure_logging(s.log_level, args.service)
    app = _bootstrap(args.service).create_app(s)
    port = args.port or s.ports[args.service]
    uvicorn.run(app, host=args.host, port=port, log_config=None, access_log=False)


def cmd_relay(s: Settings, args: argparse.Namespace) -> None:
    from konkurs_platform.logs import configure_logging
    from konkurs_platform.outbox import OutboxRelay

    configure_logging(s.log_level, f"{args.service}-relay")
    if args.service not in RELAYED_SERVICES:
        raise SystemExit(f"{args.service} has no outbox relay")
    relay = OutboxRelay(s, args.service)
    _run_until_signal(relay.run)


def cmd_worker(s: Settings, args: argparse.Namespace) -> None:
    from konkurs_platform.logs import configure_logging

    configure_logging(s.log_level, f"{args.service}-worker")
    if args.service not in WORKER_SERVICES:
        raise SystemExit(f"{args.service} has no worker")
    app = _bootstrap(args.service).create_worker(s)
    # faust's Worker installs its own signal handlers and runs until SIGTERM/SIGINT.
    from faust.worker import Worker

    Worker(app, loglevel=s.log_level.lower(), quiet=True).execute_from_commandline()


def cmd_projector(s: Settings, args: argparse.Namespace) -> None:
    from konkurs_platform.logs import configure_logging

    configure_logging(s.log_level, "readside-projector")
    _run_until_signal(lambda stop: _bootstrap("readside").run_projector(s, stop))


def cmd_projections(s: Settings, args: argparse.Namespace) -> None:
    from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn
    from rich.text import Text

    from konkurs_platform.db import create_pool
    from konkurs_platform.logs import configure_logging
    from konkurs_readside.rebuild import rebuild, select_projections

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
                TextColumn("{task.completed:,.0f}/{task.total:,.0f} events"),
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


def cmd_migrate(s: Settings, args: argparse.Namespace) -> None:
    from konkurs_platform.db import migrate_service

    async def main() -> None:
        for service in args.services or BUILT_SERVICES:
            _bootstrap(service)  # refuses an unknown service before touching the database
            applied = await migrate_service(s, service)
            print(f"{service}: {len(applied)} migration(s) applied", file=sys.stderr)

    asyncio.run(main())


def cmd_topics(s: Settings, args: argparse.Namespace) -> None:
    from konkurs_platform import stack

    created = stack.create_topics(s)
    print(f"topics: {len(created)} created, {len(s.all_topics())} in all", file=sys.stderr)


def cmd_token(s: Settings, args: argparse.Namespace) -> None:
    from datetime import timedelta

    from konkurs_platform.auth import Role, mint_token

    token = mint_token(
        s,
        role=Role(args.role),
        sub=args.sub or args.role,
        org=args.org,
        region=args.region,
        ttl=timedelta(hours=args.hours),
    )
    print(token)


def cmd_stack(s: Settings, args: argparse.Namespace) -> None:
    from konkurs_platform import stack

    if args.action == "fetch":
        print(stack.fetch_kafka(s), file=sys.stderr)
    elif args.action == "up":
        _stack_up(s)
    elif args.action == "down":
        stack.stop_kafka(s)
        stack.stop_postgres(s)


def _stack_up(s: Settings) -> None:
    from konkurs_platform import stack

    stack.fetch_kafka(s)
    pg = stack.start_postgres(s)
    kafka = stack.start_kafka(s)
    print(f"PostgreSQL ready ({pg:.1f} s), Kafka ready ({kafka:.1f} s)", file=sys.stderr)


def _procfile() -> Path:
    return REPO_ROOT / "Procfile"


def _honcho_pid(s: Settings) -> Path:
    return s.home / "run" / "honcho.pid"


def cmd_up(s: Settings, args: argparse.Namespace) -> None:
    _stack_up(s)
    cmd_topics(s, args)
    cmd_migrate(s, argparse.Namespace(services=None))
    pid_file = _honcho_pid(s)
    if _alive(pid_file):
        print("services already running", file=sys.stderr)
    else:
        logs = s.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONUNBUFFERED"] = "1"
        out = (logs / "services.log").open("ab")
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "honcho"),
                "start",
                "-f",
                str(_procfile()),
                "-d",
                str(REPO_ROOT),
                "--no-colour",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        pid_file.write_text(str(proc.pid))
    _wait_ready(s, timeout=args.timeout)
    for service in BUILT_SERVICES:
        module = _bootstrap(service)
        if hasattr(module, "load_demo"):
            asyncio.run(module.load_demo(s))
    print("\nkonkurs is up:", file=sys.stderr)
    for service in BUILT_SERVICES:
        port = s.ports[service]
        print(
            f"  {service:<10} http://localhost:{port}   docs http://localhost:{port}/docs",
            file=sys.stderr,
        )
    print(f"  kafka      {s.kafka_bootstrap}\n  postgres   {s.dsn}", file=sys.stderr)
    print(f"  logs       {s.home / 'logs'}  (make logs)\n  stop       make stop", file=sys.stderr)


def _alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text()), 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return False
    return True


def _wait_ready(s: Settings, timeout: float) -> None:
    from konkurs_platform.processes import wait_ready

    urls = [f"http://127.0.0.1:{s.ports[service]}/readyz" for service in BUILT_SERVICES]
    try:
        wait_ready(urls, timeout)
    except TimeoutError as exc:
        raise SystemExit(f"{exc}; see {s.home / 'logs' / 'services.log'}") from exc


def cmd_down(s: Settings, args: argparse.Namespace) -> None:
    from konkurs_platform import stack

    pid_file = _honcho_pid(s)
    if _alive(pid_file):
        pid = int(pid_file.read_text())
        os.killpg(pid, signal.SIGTERM)
        for _ in range(100):
            if not _alive(pid_file):
                break
            time.sleep(0.2)
        else:
            os.killpg(pid, signal.SIGKILL)
        print("services stopped", file=sys.stderr)
    pid_file.unlink(missing_ok=True)
    stack.stop_kafka(s)
    stack.stop_postgres(s)
    print(f"Kafka and PostgreSQL stopped (data kept in {s.home})", file=sys.stderr)


def cmd_status(s: Settings, args: argparse.Namespace) -> None:
    from konkurs_platform import stack

    print(f"kafka      {'up' if stack.kafka_running(s) else 'down'}")
    print(f"postgres   {'up' if stack.postgres_running(s) else 'down'}")
    print(f"services   {'up' if _alive(_honcho_pid(s)) else 'down'}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="konkurs", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start Kafka, PostgreSQL and every service; load demo data")
    up.add_argument("--timeout", type=float, default=120.0)
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop everything, keep the data").set_defaults(func=cmd_down)
    sub.add_parser("status", help="what is running").set_defaults(func=cmd_status)

    st = sub.add_parser("stack", help="only Kafka and PostgreSQL")
    st.add_argument("action", choices=["fetch", "up", "down"])
    st.set_defaults(func=cmd_stack)

    mg = sub.add_parser("migrate", help="apply database migrations")
    mg.add_argument("services", nargs="*", help=f"default: {' '.join(BUILT_SERVICES)}")
    mg.set_defaults(func=cmd_migrate)

    tp = sub.add_parser("topics", help="create the Kafka topics")
    tp.add_argument("action", choices=["create"])
    tp.set_defaults(func=cmd_topics)

    api = sub.add_parser("api", help="run a service's HTTP API")
    api.add_argument("service", choices=BUILT_SERVICES)
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int)
    api.set_defaults(func=cmd_api)

    rl = sub.add_parser("relay", help="run a service's outbox relay")
    rl.add_argument("service", choices=RELAYED_SERVICES)
    rl.set_defaults(func=cmd_relay)

    wk = sub.add_parser("worker", help="run a service's faust worker")
    wk.add_argument("service", choices=WORKER_SERVICES)
    wk.set_defaults(func=cmd_worker)

    sub.add_parser("projector", help="run the readside projector").set_defaults(func=cmd_projector)

    pj = sub.add_parser("projections", help="operate the readside read models")
    pj.add_argument("action", choices=["rebuild"])
    pj.add_argument("names", nargs="*", metavar="NAME", help="read models (default: all)")
    pj.add_argument("--schema", default="readside", help=argparse.SUPPRESS)
    pj.set_defaults(func=cmd_projections)

    au = sub.add_parser("audit", help="the audit trail")
    au.add_argument("action", choices=["verify"])
    au.add_argument("--schema", default="readside", help=argparse.SUPPRESS)
    au.set_defaults(func=cmd_audit)

    tk = sub.add_parser("token", help="mint a development token")
    tk.add_argument("--role", required=True)
    tk.add_argument("--org", help="organisation BIN (applicants)")
    tk.add_argument("--region", help="region code, e.g. KZ-75 (regional operators)")
    tk.add_argument("--sub", help="subject (user name); defaults to the role")
    tk.add_argument("--hours", type=float, default=12.0)
    tk.set_defaults(func=cmd_token)
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(Settings.from_env(), args)


if __name__ == "__main__":
    main()
