"""The `konkurs` subcommands the README promises, run as a user runs them: as a process,
with and without a terminal, on this test run's database and topics."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

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
