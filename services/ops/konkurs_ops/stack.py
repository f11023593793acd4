"""The local stack: one Apache Kafka broker and a private PostgreSQL cluster on this machine.

`konkurs stack fetch|up|down` and the test session's fixtures call these functions. Every
start is idempotent (a server that is already up is left alone and the call returns 0.0),
every failure raises with the last lines of the server's log, and everything the servers
write lives under `Settings.home` (data, pid files, logs in `home/logs/`), except the
Kafka jars, which are shared between checkouts in `Settings.cache`.

Linux only: liveness is read from `/proc`, and PostgreSQL comes from the Debian packages.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from konkurs_platform.settings import REPO_ROOT, Settings
from konkurs_platform.spec import discover

log = logging.getLogger(__name__)

KAFKA_DEPLOY = REPO_ROOT / "deploy" / "local" / "kafka"
KAFKA_START_TIMEOUT = 90.0
POSTGRES_START_TIMEOUT = 60
LOG_TAIL_LINES = 40

# Written last into the staging directory, so a `libs` directory that has it is complete.
FETCHED_MARKER = "FETCHED"

# The legal record and the outbound feed: never deleted by age or size.
RETAINED_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1"}

# Superuser of the private cluster: the user in `Settings.dsn`.
PG_SUPERUSER = "konkurs"

T = TypeVar("T")


# --- Kafka: fetch -------------------------------------------------------------------------


def kafka_libs(s: Settings) -> Path:
    """Where the jars of Kafka `s.kafka_version` live once fetched."""
    return s.cache.absolute() / f"kafka-{s.kafka_version}" / "libs"


def fetch_kafka(s: Settings) -> Path:
    """Fetch the Kafka broker and its runtime dependencies from Maven Central; return the dir.

    Maven resolves `deploy/local/kafka/pom.xml` (kafka_2.13 plus an SLF4J binding, without
    which the broker would log nothing). The jars are copied into a staging directory that
    is renamed into place only when complete, so an interrupted fetch leaves nothing that
    looks usable, and a later call is a no-op.
    """
    libs = kafka_libs(s)
    if (libs / FETCHED_MARKER).is_file():
        return libs
    mvn = _require_tool("mvn", "install Maven 3 (Debian: apt-get install maven)")
    libs.parent.mkdir(parents=True, exist_ok=True)
    with _locked(libs.parent / ".lock"):
        # Another process may have fetched it while this one waited for the lock.
        if (libs / FETCHED_MARKER).is_file():
            return libs
        _progress(f"fetching Apache Kafka {s.kafka_version} from Maven Central into {libs}")
        started = time.monotonic()
        staging = Path(tempfile.mkdtemp(prefix=".libs-", dir=libs.parent))
        try:
            staging.chmod(0o755)  # mkdtemp's 0700 would keep the jars from other users
            result = subprocess.run(
                [
                    mvn,
                    "-B",
                    "-q",
                    "-f",
                    str(KAFKA_DEPLOY / "pom.xml"),
                    "dependency:copy-dependencies",
                    "-DincludeScope=runtime",
                    f"-Dkafka.version={s.kafka_version}",
                    f"-DoutputDirectory={staging}",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            jars = sorted(p.name for p in staging.glob("*.jar"))
            if result.returncode != 0 or f"kafka_2.13-{s.kafka_version}.jar" not in jars:
                output = _last_lines(result.stdout + result.stderr)
                raise RuntimeError(
                    f"Maven could not fetch Kafka {s.kafka_version} "
                    f"(exit {result.returncode}):\n{output}"
                )
            (staging / FETCHED_MARKER).write_text("\n".join(jars) + "\n")
            # Only a directory without the marker can be here (see the check above):
            # debris from something other than this function. Replace it.
            if libs.exists():
                shutil.rmtree(libs)
            staging.rename(libs)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    _progress(f"fetched {len(jars)} jars in {time.monotonic() - started:.0f} s")
    return libs


# --- Kafka: run ---------------------------------------------------------------------------


def start_kafka(s: Settings) -> float:
    """Start the single-node KRaft broker (broker and controller in one process).

    Returns the seconds it took until the broker answered a metadata request listing
    itself, or 0.0 when this checkout's broker was already running. A `kafka_bootstrap`
    that is not on this machine is someone else's cluster: it is only checked to answer.
    Raises RuntimeError, with the tail of `home/logs/kafka.log`, when the broker does not
    come up; a broker that failed to come up is killed rather than left half-started.
    """
    host, port = _bootstrap_address(s)
    if not _is_loopback(host):
        _wait_for_kafka(s, pid=None, timeout=30.0)
        log.info("using the Kafka cluster at %s (not started by konkurs)", s.kafka_bootstrap)
        return 0.0
    kafka_dir = _kafka_dir(s)
    kafka_dir.mkdir(parents=True, exist_ok=True)
    with _locked(kafka_dir / ".lock"):
        pid = _kafka_pid(s)
        if pid is not None:
            # Ours, and up or still starting (another command launched it): wait for it.
            _wait_for_kafka(s, pid, KAFKA_START_TIMEOUT)
            return 0.0
        libs = fetch_kafka(s)
        for busy in (port, s.kafka_controller_port):
            if _port_open(host, busy):
                raise RuntimeError(
                    f"port {busy} on {host} is taken by a process that konkurs did not start "
                    f"(there is no live pid in {_kafka_pidfile(s)}). Stop it, or give this "
                    "stack other ports with KAFKA_BOOTSTRAP and KONKURS_KAFKA_CONTROLLER_PORT."
                )
        started = time.monotonic()
        properties = _write_server_properties(s, host, port)
        _format_kafka_storage(s, libs, properties)
        pid = _launch_kafka(s, libs, properties)
        _progress(f"starting Kafka {s.kafka_version} (pid {pid}), log: {_kafka_log(s)}")
        try:
            _wait_for_kafka(s, pid, KAFKA_START_TIMEOUT)
        except BaseException:
            _signal_and_wait(pid, _kafka_cmdline_mark(s), signal.SIGKILL, 10.0)
            _kafka_pidfile(s).unlink(missing_ok=True)
            raise
        elapsed = time.monotonic() - started
    _progress(f"Kafka is up at {s.kafka_bootstrap} after {elapsed:.1f} s")
    return elapsed


def stop_kafka(s: Settings, kill: bool = False, timeout: float = 30.0) -> None:
    """Stop this checkout's broker, if it runs; keep its data.

    SIGTERM lets it shut down cleanly; a broker still alive after `timeout` seconds is
    killed (with a warning). `kill=True` sends SIGKILL at once: a crash, which tests use to
    prove that nothing is lost when the broker dies.
    """
    kafka_dir = _kafka_dir(s)
    if not kafka_dir.is_dir():
        return
    with _locked(kafka_dir / ".lock"):
        pid = _kafka_pid(s)
        if pid is not None:
            mark = _kafka_cmdline_mark(s)
            _progress(f"{'killing' if kill else 'stopping'} Kafka (pid {pid})")
            sig = signal.SIGKILL if kill else signal.SIGTERM
            if not _signal_and_wait(pid, mark, sig, timeout):
                if kill:
                    raise RuntimeError(f"Kafka (pid {pid}) survived SIGKILL for {timeout} s")
                _progress(f"Kafka did not stop within {timeout:.0f} s; killing it")
                if not _signal_and_wait(pid, mark, signal.SIGKILL, 10.0):
                    raise RuntimeError(f"Kafka (pid {pid}) survived SIGKILL")
        _kafka_pidfile(s).unlink(missing_ok=True)


def kafka_running(s: Settings) -> bool:
    """Whether the broker this checkout started (pid file under `s.home`) is alive."""
    return _kafka_pid(s) is not None


def system_topics(s: Settings) -> list[str]:
    """Every topic of the registered services, the analytics feed and the dead letters: the
    legal record, retained forever. The events of a service are there when it has a relay
    or when a registered service consumes them: a topic must exist, retained forever,
    before anything subscribes to it (the broker would create it with its default
    retention), even while its producer is not registered yet."""
    specs = discover()
    consumed = {name for spec in specs for name in spec.consumes}
    producers = [spec.name for spec in specs if spec.relay]
    return s.all_topics(dict.fromkeys([*producers, *sorted(consumed)]))


def create_topics(
    s: Settings, names: list[str] | None = None, partitions: int | None = None
) -> list[str]:
    """Create the topics that do not exist yet; return the names of those created.

    `names` defaults to `system_topics(s)`, `partitions` to `s.partitions`. The system's
    topics (events, analytics, dead letters) are retained forever; any other name gets the
    broker's defaults. Replication factor 1: this is the one-node local stack.
    """
    wanted = list(dict.fromkeys(system_topics(s) if names is None else names))
    return _run_coroutine(
        _create_topics(s, wanted, s.partitions if partitions is None else partitions)
    )


async def _create_topics(s: Settings, names: list[str], partitions: int) -> list[str]:
    forever = set(system_topics(s))
    admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap, client_id="konkurs-stack")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in names if name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [
                NewTopic(
                    name=name,
                    num_partitions=partitions,
                    replication_factor=1,
                    topic_configs=RETAINED_FOREVER if name in forever else {},
                )
                for name in missing
            ]
        )
        created: list[str] = []
        failed: list[str] = []
        for result in response.to_object()["topic_errors"]:
            if result["error_code"] == 0:
                created.append(result["topic"])
            # 36 is TOPIC_ALREADY_EXISTS: another process created it since list_topics.
            elif result["error_code"] != 36:
                reason = result.get("error_message") or f"error {result['error_code']}"
                failed.append(f"{result['topic']}: {reason}")
        if failed:
            raise RuntimeError("could not create topics: " + "; ".join(failed))
    finally:
        await admin.close()
    if created:
        await _wait_until_served(s, created, partitions)
    log.info("created topics %s", created)
    return created


def delete_topics_with_prefix(s: Settings, prefix: str) -> list[str]:
    """Delete every topic whose name starts with `prefix` (a test run's own topics).

    Test runs create topics under a prefix of their own; deleting them at the end keeps the
    broker's partition count, and with it its start-up time, from growing run after run.
    """
    if any(topic.startswith(prefix) for topic in system_topics(Settings())):
        raise ValueError(f"refusing to delete the system's own topics (prefix {prefix!r})")
    return _run_coroutine(_delete_topics_with_prefix(s, prefix))


async def _delete_topics_with_prefix(s: Settings, prefix: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap, client_id="konkurs-stack")
    await admin.start()
    try:
        doomed = sorted(t for t in await admin.list_topics() if t.startswith(prefix))
        if doomed:
            await admin.delete_topics(doomed)
        return doomed
    finally:
        await admin.close()


async def _wait_until_served(s: Settings, topics: list[str], partitions: int) -> None:
    """Wait until the broker serves every partition of the new `topics`.

    CreateTopics answers before the broker has taken up leadership of the new partitions
    (its metadata may even list the leader already), so a producer that came straight
    after would get NOT_LEADER errors: retried, but noisy in every test log. Asking for the
    end offsets goes to the leaders themselves, and the consumer retries until they answer.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=s.kafka_bootstrap, client_id="konkurs-stack")
    await consumer.start()
    try:
        await consumer.end_offsets(
            [TopicPartition(topic, p) for topic in topics for p in range(partitions)]
        )
    finally:
        await consumer.stop()


def _kafka_dir(s: Settings) -> Path:
    return s.home.absolute() / "kafka"


def _kafka_pidfile(s: Settings) -> Path:
    return _kafka_dir(s) / "kafka.pid"


def _kafka_log(s: Settings) -> Path:
    return s.home.absolute() / "logs" / "kafka.log"


def _kafka_cmdline_mark(s: Settings) -> str:
    # The broker's command line names its server.properties: this identifies our broker,
    # not some other Kafka, and not whatever process has since been given a recycled pid.
    return str(_kafka_dir(s) / "server.properties")


def _kafka_pid(s: Settings) -> int | None:
    return _live_pid(_kafka_pidfile(s), _kafka_cmdline_mark(s))


def _bootstrap_address(s: Settings) -> tuple[str, int]:
    first = s.kafka_bootstrap.split(",")[0].strip()
    host, sep, port = first.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"kafka_bootstrap must be host:port, not {s.kafka_bootstrap!r}")
    return host.strip("[]"), int(port)


def _is_loopback(host: str) -> bool:
    return host == "localhost" or host == "::1" or host.startswith("127.")


def _write_server_properties(s: Settings, host: str, port: int) -> Path:
    """Write the broker's configuration, from `s`, on every start (so a changed setting takes)."""
    kafka_dir = _kafka_dir(s)
    path = kafka_dir / "server.properties"
    path.write_text(f"""\
# Written by konkurs_ops.stack on every start, from Settings: change those, not this.
# One process is both the KRaft controller and the only broker.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@localhost:{s.kafka_controller_port}
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://{host}:{port},CONTROLLER://localhost:{s.kafka_controller_port}
advertised.listeners=PLAINTEXT://{host}:{port}
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={kafka_dir / "data"}

# With one broker every replication factor and ISR minimum must be 1, or transactions,
# idempotent producers and consumer groups wait for replicas that can never exist.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
# The internal topics are created on first use; 12 partitions are plenty here and are
# created much faster than the default 50.
offsets.topic.num.partitions=12
transaction.state.log.num.partitions=12

num.partitions={s.partitions}
# faust creates its changelog and repartition topics itself; a consumer that subscribes
# before `konkurs stack up` created the topics must not fail either.
auto.create.topics.enable=true
# No point waiting for more members to join: tests start one consumer and want it now.
group.initial.rebalance.delay.ms=0

# After a crash the controller refuses the restarted broker until the old registration's
# session expires (default 9 s, which tests that kill the broker pay every time). Six
# missed heartbeats still fence a broker that is really stuck.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=6000

# Two cores: a few threads are enough and leave CPU to PostgreSQL and the services.
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=2
num.replica.fetchers=1
log.cleaner.threads=1
""")
    return path


def _format_kafka_storage(s: Settings, libs: Path, properties: Path) -> None:
    """Format the log directory once: KRaft refuses to start on an unformatted one."""
    kafka_dir = _kafka_dir(s)
    if (kafka_dir / "data" / "meta.properties").is_file():
        return
    # Keep the id: a later re-format (after the data was deleted) reuses it.
    id_file = kafka_dir / "cluster.id"
    if not id_file.is_file():
        id_file.write_text(_new_cluster_id() + "\n")
    cluster_id = id_file.read_text().strip()
    _progress(f"formatting the Kafka storage in {kafka_dir / 'data'} (cluster {cluster_id})")
    result = subprocess.run(
        [
            *_java_command(libs, "256m"),
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(properties),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        output = _last_lines(result.stdout + result.stderr)
        raise RuntimeError(f"formatting the Kafka storage failed:\n{output}")


def _new_cluster_id() -> str:
    # Kafka's own format (Uuid.toString): 16 random bytes in URL-safe base64 without
    # padding. Like Uuid.randomUuid, never start with "-", which would read as an option.
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _java_command(libs: Path, heap: str) -> list[str]:
    java = _require_tool("java", "install a Java 17 runtime (Debian: openjdk-17-jre-headless)")
    return [
        java,
        f"-Xms{heap}",
        f"-Xmx{heap}",
        # The JVM options of Kafka's own start script (kafka-run-class.sh).
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:InitiatingHeapOccupancyPercent=35",
        "-XX:+ExplicitGCInvokesConcurrent",
        "-Djava.awt.headless=true",
        f"-Dlog4j.configuration={(KAFKA_DEPLOY / 'log4j.properties').as_uri()}",
        "-cp",
        # The JVM expands the wildcard itself (to the jars only, not the marker file).
        str(libs / "*"),
    ]


def _launch_kafka(s: Settings, libs: Path, properties: Path) -> int:
    log_path = _kafka_log(s)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as out:
        out.write(f"\n===== konkurs: starting Kafka at {_now()} =====\n".encode())
        out.flush()
        # A session of its own: Ctrl-C in the terminal that ran `konkurs stack up` must not
        # reach the broker, which outlives that command.
        process = subprocess.Popen(
            [*_java_command(libs, s.kafka_heap), "kafka.Kafka", str(properties)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=_kafka_dir(s),
            start_new_session=True,
        )
    # Popen returns as soon as exec has begun, and until the kernel has finished it /proc
    # shows an empty command line, which `_alive` would read as a broker gone already.
    deadline = time.monotonic() + 10.0
    while process.poll() is None and time.monotonic() < deadline:
        if _alive(process.pid, _kafka_cmdline_mark(s)):
            break
        time.sleep(0.01)
    _kafka_pidfile(s).write_text(f"{process.pid}\n")
    return process.pid


def _wait_for_kafka(s: Settings, pid: int | None, timeout: float) -> None:
    """Wait until the broker answers a metadata request that lists a broker.

    A KRaft broker appears in metadata only once the controller has unfenced it, so at
    that point producers (idempotent ones too) and consumer groups can work.
    """
    host, port = _bootstrap_address(s)
    deadline = time.monotonic() + timeout
    mark = _kafka_cmdline_mark(s)
    while True:
        if pid is not None and not _alive(pid, mark):
            raise RuntimeError(
                f"the Kafka broker (pid {pid}) exited while starting; "
                f"last lines of {_kafka_log(s)}:\n{_tail(_kafka_log(s))}"
            )
        # Probe the port first: aiokafka logs every refused connection as an error.
        if _port_open(host, port) and _run_coroutine(_kafka_lists_a_broker(s)):
            return
        if time.monotonic() > deadline:
            where = (
                f"; last lines of {_kafka_log(s)}:\n{_tail(_kafka_log(s))}"
                if pid is not None
                else ""
            )
            raise RuntimeError(
                f"Kafka at {s.kafka_bootstrap} did not answer within {timeout:.0f} s{where}"
            )
        time.sleep(0.5)


async def _kafka_lists_a_broker(s: Settings) -> bool:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=s.kafka_bootstrap, client_id="konkurs-stack", request_timeout_ms=5000
    )
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
    except (KafkaError, OSError, TimeoutError) as error:
        log.debug("Kafka not ready yet: %r", error)
        return False
    finally:
        await admin.close()
    return bool(cluster["brokers"])


# --- PostgreSQL ---------------------------------------------------------------------------


def start_postgres(s: Settings) -> float:
    """Start the private PostgreSQL cluster under `s.home/pg`, creating it on first use.

    Returns the seconds it took (initdb included on first use), or 0.0 when it was already
    running. With `s.database_url` set, the server is someone else's: it is only checked
    to answer. The database `s.pg_database` is created when missing. Raises RuntimeError,
    with the tail of `home/logs/postgres.log`, when the server does not come up.
    """
    if s.database_url:
        _run_coroutine(_check_connects(s.dsn))
        return 0.0
    pg_dir = _pg_dir(s)
    pg_dir.mkdir(parents=True, exist_ok=True)
    with _locked(pg_dir / ".lock"):
        if postgres_running(s):
            create_database(s, s.pg_database)
            return 0.0
        started = time.monotonic()
        bindir = _postgres_bindir(_pg_data(s))
        account = _server_account(_pg_data(s))
        _prepare_postgres_dirs(s, account)
        if not (_pg_data(s) / "PG_VERSION").is_file():
            _progress(f"creating the PostgreSQL cluster in {_pg_data(s)}")
            _pg_command(
                s,
                account,
                [
                    bindir / "initdb",
                    "-D",
                    _pg_data(s),
                    "-U",
                    PG_SUPERUSER,
                    "--auth-local=trust",
                    "--auth-host=trust",
                    "--encoding=UTF8",
                    # Unicode-aware upper/lower (Kazakh and Russian names), but byte-order
                    # sorting, which no glibc upgrade can change under an existing index.
                    "--locale=C.UTF-8",
                    "--lc-collate=C",
                    # Detect a corrupted page instead of serving it: the events are the record.
                    "--data-checksums",
                    "--no-instructions",
                ],
            )
        _write_postgres_config(s, account)
        _progress(f"starting PostgreSQL on 127.0.0.1:{s.pg_port}, log: {_pg_log(s)}")
        _pg_command(
            s,
            account,
            [
                bindir / "pg_ctl",
                "-D",
                _pg_data(s),
                "-l",
                _pg_log(s),
                "-w",
                "-t",
                str(POSTGRES_START_TIMEOUT),
                "-s",
                "start",
            ],
        )
        create_database(s, s.pg_database)
        elapsed = time.monotonic() - started
    _progress(f"PostgreSQL is up at 127.0.0.1:{s.pg_port} after {elapsed:.1f} s")
    return elapsed


def stop_postgres(s: Settings) -> None:
    """Stop the private cluster, if it runs (fast mode: roll back open transactions, keep data).

    A server given by `s.database_url` is not ours to stop.
    """
    if s.database_url or not postgres_running(s):
        return
    with _locked(_pg_dir(s) / ".lock"):
        if not postgres_running(s):
            return
        _progress("stopping PostgreSQL")
        _pg_command(
            s,
            _server_account(_pg_data(s)),
            [
                _postgres_bindir(_pg_data(s)) / "pg_ctl",
                "-D",
                _pg_data(s),
                "-m",
                "fast",
                "-w",
                "-t",
                str(POSTGRES_START_TIMEOUT),
                "-s",
                "stop",
            ],
        )


def postgres_running(s: Settings) -> bool:
    """Whether the private cluster under `s.home/pg` has a live postmaster."""
    # Its command line names the data directory: that is our server and no other.
    return _live_pid(_pg_data(s) / "postmaster.pid", str(_pg_data(s))) is not None


def create_database(s: Settings, name: str) -> str:
    """Create database `name` on the server of `s.dsn` unless it exists; return its DSN."""
    _run_coroutine(_create_database(s.dsn, name))
    return _with_database(s.dsn, name)


def drop_database(s: Settings, name: str) -> None:
    """Drop database `name` from the server of `s.dsn`, closing its connections, if it exists."""
    _run_coroutine(_drop_database(s.dsn, name))


async def _create_database(dsn: str, name: str) -> None:
    conn = await asyncpg.connect(_with_database(dsn, "postgres"), timeout=10)
    try:
        if await conn.fetchval("SELECT true FROM pg_database WHERE datname = $1", name):
            return
        try:
            await conn.execute(f"CREATE DATABASE {_quote_identifier(name)}")
        except asyncpg.DuplicateDatabaseError:
            pass  # created by a concurrent caller since the check: just as good
        log.info("created database %s", name)
    finally:
        await conn.close()


async def _drop_database(dsn: str, name: str) -> None:
    conn = await asyncpg.connect(_with_database(dsn, "postgres"), timeout=10)
    try:
        # FORCE: a test's pool may still hold connections when the session ends.
        await conn.execute(f"DROP DATABASE IF EXISTS {_quote_identifier(name)} WITH (FORCE)")
    finally:
        await conn.close()


async def _check_connects(dsn: str) -> None:
    try:
        conn = await asyncpg.connect(dsn, timeout=10)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        raise RuntimeError(f"cannot connect to DATABASE_URL: {error!r}") from error
    await conn.close()


def _with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + quote(name, safe="")))


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _pg_dir(s: Settings) -> Path:
    return s.home.absolute() / "pg"


def _pg_data(s: Settings) -> Path:
    return _pg_dir(s) / "data"


def _pg_run(s: Settings) -> Path:
    return _pg_dir(s) / "run"


def _pg_log(s: Settings) -> Path:
    return s.home.absolute() / "logs" / "postgres.log"


def _postgres_bindir(data: Path) -> Path:
    """The server binaries for the cluster in `data`: those of the major version that
    created it, or for a new cluster the newest installed from the distribution's packages."""
    installed = {
        p.parent.parent.name: p.parent
        for p in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")
        if p.parent.parent.name.isdigit()
    }
    with contextlib.suppress(FileNotFoundError):
        # A newer server refuses an older cluster's files; the right one may be installed.
        created_by = (data / "PG_VERSION").read_text().strip()
        if created_by in installed:
            return installed[created_by]
    if installed:
        return installed[max(installed, key=int)]
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is None:
        raise RuntimeError(
            "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin or on PATH: "
            "install them (Debian: apt-get install postgresql), or set DATABASE_URL"
        )
    return Path(pg_ctl).parent


def _server_account(data: Path) -> pwd.struct_passwd | None:
    """The user PostgreSQL runs as: None (the caller) unless the caller is root.

    PostgreSQL refuses to run as root. An existing cluster runs as its owner; a new one as
    the Debian package's `postgres` user, or else a `konkurs` system user created here.
    """
    if os.geteuid() != 0:
        return None
    if (data / "PG_VERSION").is_file():
        return pwd.getpwuid(data.stat().st_uid)
    for name in ("postgres", PG_SUPERUSER):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    _progress(f"creating the system user {PG_SUPERUSER} to run PostgreSQL (it refuses root)")
    subprocess.run(
        [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            PG_SUPERUSER,
        ],
        check=True,
    )
    return pwd.getpwnam(PG_SUPERUSER)


def _prepare_postgres_dirs(s: Settings, account: pwd.struct_passwd | None) -> None:
    """Create the data, socket and log paths, owned by the server's user, and check it can
    reach them."""
    log_path = _pg_log(s)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.touch()
    for directory in (_pg_data(s), _pg_run(s)):
        # 0700: PostgreSQL refuses a data directory that others can read.
        directory.mkdir(mode=0o700, exist_ok=True)
    if account is None:
        return
    for path in (_pg_data(s), _pg_run(s), log_path):
        if path.stat().st_uid != account.pw_uid:
            _chown_tree(path, account.pw_uid, account.pw_gid)
    for path in (_pg_data(s), log_path):
        _check_reachable(s, account, path)


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    if path.is_dir():
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def _check_reachable(s: Settings, account: pwd.struct_passwd, path: Path) -> None:
    """Fail clearly when the server's user cannot enter a directory on the way to `path`
    (a home directory with mode 0700 is the usual culprit)."""
    if _pg_command(s, account, ["test", "-e", path], check=False).returncode == 0:
        return
    blocked = next(
        (
            parent
            for parent in reversed(path.parents)
            if _pg_command(s, account, ["test", "-x", parent], check=False).returncode != 0
        ),
        path,
    )
    raise RuntimeError(
        f"PostgreSQL runs as the user {account.pw_name} (it refuses to run as root), and "
        f"{account.pw_name} cannot enter {blocked}, so it cannot reach {path}. Either put the "
        "local stack somewhere it can reach (e.g. KONKURS_HOME=/var/tmp/konkurs), or let it "
        f"through with: chmod o+x {blocked}"
    )


def _write_postgres_config(s: Settings, account: pwd.struct_passwd | None) -> None:
    """Write our settings into the data directory, on every start (so a changed setting
    takes), and include them from the postgresql.conf that initdb wrote."""
    data = _pg_data(s)
    (data / "konkurs.conf").write_text(f"""\
# Written by konkurs_ops.stack on every start, from Settings: change those, not this.
listen_addresses = '127.0.0.1'
port = {s.pg_port}
unix_socket_directories = '{_pg_run(s)}'
max_connections = 300

# Durability is promised: a committed event survives a crash. Never turn these off.
fsync = on
synchronous_commit = on
full_page_writes = on

# Sized for 2 cores and 24 GiB, shared with Kafka and the services.
shared_buffers = 512MB
effective_cache_size = 8GB
work_mem = 8MB
maintenance_work_mem = 256MB
max_parallel_workers_per_gather = 1
max_parallel_workers = 2
max_parallel_maintenance_workers = 1
random_page_cost = 1.1

# Fewer, smoother checkpoints under bursts of appends.
max_wal_size = 2GB
min_wal_size = 256MB
checkpoint_timeout = 15min

timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
# Lock waits show where concurrent writers of one stream queue up.
log_lock_waits = on
""")
    # Trust, but only from this machine: the server listens on 127.0.0.1 alone.
    (data / "pg_hba.conf").write_text(
        "# Written by konkurs_ops.stack on every start.\n"
        "local all all trust\n"
        "host all all 127.0.0.1/32 trust\n"
    )
    main_conf = data / "postgresql.conf"
    include = "include = 'konkurs.conf'\n"
    if include not in main_conf.read_text():
        with main_conf.open("a") as conf:
            conf.write("\n# Added by konkurs_ops.stack: our settings win.\n" + include)
    if account is not None:
        for name in ("konkurs.conf", "pg_hba.conf", "postgresql.conf"):
            os.chown(data / name, account.pw_uid, account.pw_gid)


def _pg_command(
    s: Settings,
    account: pwd.struct_passwd | None,
    args: list[str | Path],
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL tool as the server's user; with `check`, raise with the log tail."""
    result = subprocess.run(
        [str(arg) for arg in args],
        capture_output=True,
        text=True,
        check=False,
        # A fixed environment: an inherited PGDATA, PGPORT or LC_* would change the server.
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
        # The caller's directory may be closed to the server's user (root's home is 0700).
        cwd="/",
        user=None if account is None else account.pw_uid,
        group=None if account is None else account.pw_gid,
        extra_groups=None if account is None else [],
    )
    if check and result.returncode != 0:
        output = _last_lines(result.stdout + result.stderr)
        raise RuntimeError(
            f"{Path(str(args[0])).name} failed (exit {result.returncode}):\n{output}\n"
            f"last lines of {_pg_log(s)}:\n{_tail(_pg_log(s))}"
        )
    return result


# --- shared helpers -----------------------------------------------------------------------


def _run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to completion from synchronous code, even inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    # Called from async code (an async test fixture): asyncio.run refuses to nest, so the
    # coroutine gets a loop of its own in a worker thread while this one waits.
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, coroutine).result()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path`, so two commands do not start one server twice."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _live_pid(pidfile: Path, mark: str) -> int | None:
    try:
        pid = int(pidfile.read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None
    return pid if _alive(pid, mark) else None


def _alive(pid: int, mark: str) -> bool:
    """Whether `pid` runs a command line that contains `mark`.

    A process killed but not yet reaped by its parent (a zombie) has an empty command line,
    and a pid the kernel gave to another program has another one: neither is our server.
    """
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return mark.encode() in cmdline


def _gone(pid: int, mark: str) -> bool:
    """Whether `pid` has finished exiting, or the pid now belongs to another program.

    Not the opposite of `_alive`: an exiting process loses its command line before it
    closes its files, and the JVM's main thread turns zombie while its other threads still
    hold the sockets. Only a zombie without threads, or a reaped process, has let go of
    everything (its ports and its log directory too).
    """
    proc = Path(f"/proc/{pid}")
    try:
        state = (proc / "stat").read_text().rpartition(")")[2].split()[0]
        cmdline = (proc / "cmdline").read_bytes()
        threads = len(os.listdir(proc / "task"))
    except (FileNotFoundError, ProcessLookupError):
        return True
    if cmdline and mark.encode() not in cmdline:
        return True  # the pid was reused
    return state == "Z" and threads <= 1


def _signal_and_wait(pid: int, mark: str, sig: signal.Signals, timeout: float) -> bool:
    """Send `sig` to `pid` and wait up to `timeout` seconds for it to go; True if it went."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while True:
        # If this process launched the server, reap it, or it stays a zombie till we exit.
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if _gone(pid, mark):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _require_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"`{name}` is not on PATH: {hint}")
    return path


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_bytes()[-64 * 1024 :].decode(errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return _last_lines(text, lines)


def _last_lines(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _progress(message: str) -> None:
    # A person at a terminal waits on these steps; stderr keeps stdout clean for output.
    print(f"konkurs: {message}", file=sys.stderr, flush=True)
    log.debug(message)
