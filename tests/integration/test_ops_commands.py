"""The `konkurs` subcommands the README promises, run as a user runs them: as a process,
with and without a terminal, on this test run's database and topics."""

from __future__ import annotations

import asyncio
import os
import pty
import subprocess
from pathlib import Path

import asyncpg
import pytest

from konkurs_ops.processes import KONKURS, service_env
from konkurs_platform.auth import Role
from konkurs_platform.settings import Settings
from konkurs_platform.spec import discover

pytestmark = pytest.mark.integration


def konkurs(settings: Settings, home: Path, *args: str, terminal: bool = False) -> tuple[int, str]:
    """Run `konkurs args...`; its exit code and everything it wrote."""
    env = service_env(settings, home)
    if not terminal:
        done = subprocess.run(
            [KONKURS, *args], env=env, capture_output=True, text=True, timeout=120
        )
        return done.returncode, done.stdout + done.stderr
    # On a terminal rich draws its progress bar: the case that crashed before.
    leader, follower = pty.openpty()
    proc = subprocess.Popen([KONKURS, *args], env=env, stdout=follower, stderr=follower)
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return proc.wait(timeout=120), b"".join(chunks).decode(errors="replace")


@pytest.mark.parametrize("terminal", [False, True], ids=["piped", "terminal"])
def test_projections_rebuild_runs_and_reports(
    settings: Settings, tmp_path: Path, terminal: bool
) -> None:
    code, output = konkurs(settings, tmp_path, "projections", "rebuild", terminal=terminal)
    assert code == 0, output
    assert "rebuilt " in output and "events/s" in output, output


def test_projections_rebuild_refuses_an_unknown_read_model(
    settings: Settings, tmp_path: Path
) -> None:
    code, output = konkurs(settings, tmp_path, "projections", "rebuild", "no-such-model")
    assert code != 0
    assert "no-such-model" in output and "Traceback" not in output, output


def test_audit_verify_reports_an_intact_chain(settings: Settings, tmp_path: Path) -> None:
    code, output = konkurs(settings, tmp_path, "audit", "verify")
    assert code == 0, output
    assert "audit chain intact" in output


def test_migrate_and_topics_are_idempotent(settings: Settings, tmp_path: Path) -> None:
    code, output = konkurs(settings, tmp_path, "migrate")
    assert code == 0, output
    for spec in discover():
        assert f"{spec.name}: 0 migration(s) applied" in output
    code, output = konkurs(settings, tmp_path, "topics", "create")
    assert code == 0, output
    assert "0 created" in output


def test_services_lists_every_registered_service_and_its_processes(
    settings: Settings, tmp_path: Path
) -> None:
    code, output = konkurs(settings, tmp_path, "services")
    assert code == 0, output
    for spec in discover():
        for name, arguments in spec.processes():
            assert f"konkurs {' '.join(arguments)}" in output, name


def test_token_mints_a_token_the_services_accept(settings: Settings, tmp_path: Path) -> None:
    from konkurs_platform.auth import TokenVerifier

    code, output = konkurs(settings, tmp_path, "token", "--role", "auditor", "--sub", "dana")
    assert code == 0, output
    principal = TokenVerifier(settings).verify(output.strip())
    assert (principal.role, principal.subject) == (Role.AUDITOR, "dana")


def test_an_unknown_service_is_refused_by_name(settings: Settings, tmp_path: Path) -> None:
    code, output = konkurs(settings, tmp_path, "relay", "no-such-service")
    assert code != 0
    assert "unknown service 'no-such-service'" in output and "Traceback" not in output


def test_a_service_added_outside_the_platform_is_run_and_migrated(
    settings: Settings, tmp_path: Path
) -> None:
    """What docs/adding-a-service.md promises: a package with a spec and an entry point is
    listed, given processes and migrated, with nothing changed in the platform or tooling."""
    package = tmp_path / "konkurs_toy"
    (package / "migrations").mkdir(parents=True)
    (package / "__init__.py").write_text('"""A toy service."""\n')
    (package / "migrations" / "0001_toys.sql").write_text(
        "CREATE TABLE {schema}.toys (toy_id text PRIMARY KEY);\n"
    )
    (package / "spec.py").write_text(
        "from konkurs_platform.spec import Ref, ServiceSpec\n"
        "SPEC = ServiceSpec(name='toy', port=8099, summary='a toy', relay=True,\n"
        "                   api=Ref('konkurs_toy.bootstrap:create_app'))\n"
    )
    dist = tmp_path / "konkurs_toy-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: konkurs-toy\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[konkurs.services]\ntoy = konkurs_toy.spec:SPEC\n")
    env = {"PYTHONPATH": str(tmp_path)}

    def run(*args: str) -> str:
        done = subprocess.run(
            [KONKURS, *args],
            env=service_env(settings, tmp_path, **env),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    assert "toy-api: konkurs api toy\ntoy-relay: konkurs relay toy\n" in run(
        "services", "--procfile"
    )
    assert "toy: 0 migration(s) applied" not in run("migrate", "toy")
    assert "toy: 0 migration(s) applied" in run("migrate", "toy")

    async def tables() -> set[str]:
        conn = await asyncpg.connect(settings.dsn)
        try:
            rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'toy'")
        finally:
            await conn.close()
        return {r["tablename"] for r in rows}

    # Its own table, and the platform's event store and outbox for its relay.
    assert {"toys", "events", "outbox"} <= asyncio.run(tables())


def test_a_reader_that_stops_early_gets_no_traceback(settings: Settings, tmp_path: Path) -> None:
    """`konkurs services | head -1`: the pipe closes before the command has written all."""
    proc = subprocess.Popen(
        [KONKURS, "services"],
        env=service_env(settings, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    assert proc.wait(timeout=60) == 0
    assert b"Traceback" not in proc.stderr.read()
