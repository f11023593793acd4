"""The `konkurs` command: run the system's processes and operate it.

konkurs up | down | status          the whole local system (Kafka, PostgreSQL, services)
konkurs supervise                   every service's processes, restarted when one dies
konkurs stack fetch | up | down     only Kafka and PostgreSQL
konkurs migrate | topics create     prepare the database schemas and Kafka topics
konkurs services [--procfile]       the registered services and their processes
konkurs api SERVICE                 a service's HTTP API
konkurs relay SERVICE               a service's outbox relay
konkurs worker SERVICE [NAME]       a service's faust consumer worker
konkurs projector SERVICE           a service's projector (the readside's read models)
konkurs token --role ROLE ...       mint a development token

Services add commands of their own (the readside: `projections rebuild`, `audit verify`).
Services are found through the `konkurs.services` entry points (`konkurs_platform.spec`):
nothing here names one.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from konkurs_platform.settings import REPO_ROOT, Settings
from konkurs_platform.spec import ServiceSpec, by_name, discover, in_dependency_order

log = logging.getLogger("konkurs")


def _spec(service: str) -> ServiceSpec:
    try:
        return by_name(discover(), service)
    except LookupError as exc:
        raise SystemExit(str(exc)) from None


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
    from konkurs_platform.web import API_SERVICE_ENV, SERVICE_APP_FACTORY

    spec = _spec(args.service)
    if spec.api is None:
        raise SystemExit(f"{spec.name} has no HTTP API")
    configure_logging(s.log_level, spec.name)  # the supervising process's own lines too
    port = args.port or s.port(spec.name, spec.port)
    # Every process, the first included, builds the app by the factory's name: uvicorn's
    # workers import it, and this tells them (through the environment they inherit) which
    # service to serve. With one worker uvicorn runs it here, in this process.
    os.environ[API_SERVICE_ENV] = spec.name
    uvicorn.run(
        SERVICE_APP_FACTORY,
        factory=True,
        workers=args.workers or s.api_workers,
        host=args.host,
        port=port,
        log_config=None,
        access_log=False,
    )


def cmd_relay(s: Settings, args: argparse.Namespace) -> None:
    from konkurs_platform.logs import configure_logging
    from konkurs_platform.outbox import OutboxRelay

    spec = _spec(args.service)
    if not spec.relay:
        raise SystemExit(f"{spec.name} has no outbox relay")
    configure_logging(s.log_level, f"{spec.name}-relay")
    relay = OutboxRelay(s.for_service(spec.name), spec.schema)
    _run_until_signal(relay.run)


def cmd_worker(s: Settings, args: argparse.Namespace) -> None:
    from konkurs_platform.logs import configure_logging

    spec = _spec(args.service)
    workers = {w.name: w for w in spec.workers}
    if not workers:
        raise SystemExit(f"{spec.name} has no worker")
    if args.name is None and len(workers) > 1:
        raise SystemExit(f"{spec.name} has several workers; name one of {', '.join(workers)}")
    worker = workers.get(args.name or next(iter(workers)))
    if worker is None:
        raise SystemExit(f"{spec.name} has no worker {args.name!r}; it has {', '.join(workers)}")
    configure_logging(s.log_level, f"{spec.name}-{worker.name}")
    app = worker.create.load()(s.for_service(spec.name))
    # faust's Worker installs its own signal handlers and runs until SIGTERM/SIGINT.
    from faust.worker import Worker

    Worker(app, loglevel=s.log_level.lower(), quiet=True).execute_from_commandline()


def cmd_projector(s: Settings, args: argparse.Namespace) -> None:
    from konkurs_platform.logs import configure_logging

    spec = _spec(args.service)
    if spec.projector is None:
        raise SystemExit(f"{spec.name} has no projector")
    configure_logging(s.log_level, f"{spec.name}-projector")
    run = spec.projector.load()
    own = s.for_service(spec.name)
    _run_until_signal(lambda stop: run(own, stop))


def cmd_migrate(s: Settings, args: argparse.Namespace) -> None:
    from urllib.parse import urlsplit

    from konkurs_platform.db import migrate_service, service_role

    # Unknown names are refused before anything touches the database.
    specs = [_spec(name) for name in args.services] if args.services else discover()

    async def main() -> None:
        for spec in specs:
            # A service's own URL (KONKURS_<SERVICE>_DATABASE_URL) carries its role's password.
            own = urlsplit(s.for_service(spec.name).dsn)
            password = own.password if own.username == service_role(spec.name) else None
            applied = await migrate_service(s, spec, role_password=password)
            print(f"{spec.name}: {len(applied)} migration(s) applied", file=sys.stderr)

    asyncio.run(main())


def cmd_topics(s: Settings, args: argparse.Namespace) -> None:
    from konkurs_ops import stack

    created = stack.create_topics(s)
    print(f"topics: {len(created)} created, {len(stack.system_topics(s))} in all", file=sys.stderr)


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
    from konkurs_ops import stack

    if args.action == "fetch":
        print(stack.fetch_kafka(s), file=sys.stderr)
    elif args.action == "up":
        _stack_up(s)
    elif args.action == "down":
        stack.stop_kafka(s)
        stack.stop_postgres(s)


def _stack_up(s: Settings) -> None:
    from konkurs_ops import stack

    stack.fetch_kafka(s)
    pg = stack.start_postgres(s)
    kafka = stack.start_kafka(s)
    print(f"PostgreSQL ready ({pg:.1f} s), Kafka ready ({kafka:.1f} s)", file=sys.stderr)


def procfile(specs: list[ServiceSpec]) -> str:
    """The Procfile of the registered services: one line per long-running process."""
    lines = [
        "# Generated from the registered services: `konkurs services --procfile > Procfile`.",
    ]
    lines += [
        f"{name}: konkurs {' '.join(arguments)}"
        for spec in specs
        for name, arguments in spec.processes()
    ]
    return "\n".join(lines) + "\n"


def cmd_services(s: Settings, args: argparse.Namespace) -> None:
    specs = discover()
    if args.procfile:
        print(procfile(specs), end="")
        return
    for spec in specs:
        port = f"port {s.port(spec.name, spec.port)}" if spec.api is not None else "no HTTP API"
        print(f"{spec.name:<10} {port:<12} {spec.summary}")
        for name, arguments in spec.processes():
            print(f"  {name:<22} konkurs {' '.join(arguments)}")


def _supervisor_pid(s: Settings) -> Path:
    return s.home / "run" / "supervisor.pid"


def _supervisor_state(s: Settings) -> Path:
    return s.home / "run" / "processes.json"


def cmd_supervise(s: Settings, args: argparse.Namespace) -> None:
    """Run every registered service's processes in the foreground, restarting the dead."""
    from konkurs_ops.supervisor import Supervisor, child_env, processes_of

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s supervisor %(levelname)s %(message)s"
    )
    state = _supervisor_state(s)
    state.parent.mkdir(parents=True, exist_ok=True)
    Supervisor(processes_of(discover()), s.home / "logs", state, child_env()).run()


def cmd_up(s: Settings, args: argparse.Namespace) -> None:
    from konkurs_ops.supervisor import child_env

    _stack_up(s)
    cmd_topics(s, args)
    cmd_migrate(s, argparse.Namespace(services=None))
    pid_file = _supervisor_pid(s)
    if _alive(pid_file):
        print("services already running", file=sys.stderr)
    else:
        logs = s.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        with (logs / "supervisor.log").open("ab") as out:
            proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "konkurs"), "supervise"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=child_env(),
                cwd=REPO_ROOT,
                start_new_session=True,
            )
        pid_file.write_text(str(proc.pid))
    _wait_ready(s, timeout=args.timeout)
    # Producers first: a service's demo may wait for the events of another's.
    for spec in in_dependency_order(discover()):
        if spec.demo is not None:
            print(f"loading the demo data of {spec.name}", file=sys.stderr)
            asyncio.run(spec.demo.load()(s.for_service(spec.name)))
    print("\nkonkurs is up:", file=sys.stderr)
    for spec in discover():
        if spec.api is not None:
            port = s.port(spec.name, spec.port)
            print(
                f"  {spec.name:<10} http://localhost:{port}   docs http://localhost:{port}/docs",
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
    from konkurs_ops.processes import wait_ready

    urls = [
        f"http://127.0.0.1:{s.port(spec.name, spec.port)}/readyz"
        for spec in discover()
        if spec.api is not None
    ]
    try:
        wait_ready(urls, timeout)
    except TimeoutError as exc:
        raise SystemExit(f"{exc}; see {s.home / 'logs' / 'services.log'}") from exc


def cmd_down(s: Settings, args: argparse.Namespace) -> None:
    from konkurs_ops import stack

    pid_file = _supervisor_pid(s)
    if _alive(pid_file):
        # The supervisor stops its children (SIGTERM, then SIGKILL after a grace period).
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGTERM)
        for _ in range(150):
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
    from konkurs_ops import stack

    print(f"kafka      {'up' if stack.kafka_running(s) else 'down'}")
    print(f"postgres   {'up' if stack.postgres_running(s) else 'down'}")
    from konkurs_ops.supervisor import read_state

    running = _alive(_supervisor_pid(s))
    print(f"services   {'up' if running else 'down'}")
    if running:
        for child in read_state(_supervisor_state(s)):
            restarts = f", {child['restarts']} restart(s)" if child["restarts"] else ""
            print(f"  {child['name']:<22} {child['state']}{restarts}")


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
    sub.add_parser(
        "supervise", help="run every service's processes here, restarting any that dies"
    ).set_defaults(func=cmd_supervise)

    st = sub.add_parser("stack", help="only Kafka and PostgreSQL")
    st.add_argument("action", choices=["fetch", "up", "down"])
    st.set_defaults(func=cmd_stack)

    mg = sub.add_parser("migrate", help="apply database migrations")
    mg.add_argument("services", nargs="*", help="default: every registered service")
    mg.set_defaults(func=cmd_migrate)

    tp = sub.add_parser("topics", help="create the Kafka topics")
    tp.add_argument("action", choices=["create"])
    tp.set_defaults(func=cmd_topics)

    api = sub.add_parser("api", help="run a service's HTTP API")
    api.add_argument("service")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int)
    api.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes serving the API on one port, up to one per core "
        "(default: KONKURS_API_WORKERS, 1)",
    )
    api.set_defaults(func=cmd_api)

    rl = sub.add_parser("relay", help="run a service's outbox relay")
    rl.add_argument("service")
    rl.set_defaults(func=cmd_relay)

    wk = sub.add_parser("worker", help="run a service's faust worker")
    wk.add_argument("service")
    wk.add_argument("name", nargs="?", help="which worker, when the service has several")
    wk.set_defaults(func=cmd_worker)

    pr = sub.add_parser("projector", help="run a service's projector")
    pr.add_argument("service")
    pr.set_defaults(func=cmd_projector)

    sv = sub.add_parser("services", help="the registered services and their processes")
    sv.add_argument("--procfile", action="store_true", help="print the Procfile they make")
    sv.set_defaults(func=cmd_services)

    tk = sub.add_parser("token", help="mint a development token")
    tk.add_argument("--role", required=True)
    tk.add_argument("--org", help="organisation BIN (applicants)")
    tk.add_argument("--region", help="region code, e.g. KZ-75 (regional operators)")
    tk.add_argument("--sub", help="subject (user name); defaults to the role")
    tk.add_argument("--hours", type=float, default=12.0)
    tk.set_defaults(func=cmd_token)

    for spec in discover():
        if spec.commands is not None:
            spec.commands.load()(sub)
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(Settings.from_env(), args)
        # Inside the `try`: a pipe's buffered output is written here, not at exit.
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`konkurs services | head -1`): not an error of ours. Point
        # stdout at /dev/null so that the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    main()
