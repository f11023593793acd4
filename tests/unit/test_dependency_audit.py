"""`make audit` fails on a known vulnerability, and never passes off "not audited" as clean."""

from __future__ import annotations

from konkurs_ops.dependency_audit import verdict

CLEAN = {"name": "fastapi", "version": "0.165.0", "vulns": []}
SKIPPED = {"name": "asyncpg", "version": "0.32.0", "skip_reason": "not found on PyPI"}
VULNERABLE = {
    "name": "jinja2",
    "version": "2.10",
    "vulns": [{"id": "GHSA-462w-v97r-4m45", "fix_versions": ["2.10.1"]}],
}


def test_a_known_vulnerability_fails_even_when_not_strict() -> None:
    lines, code = verdict({"dependencies": [CLEAN, VULNERABLE]}, strict=False)
    assert code == 1
    assert "VULNERABLE jinja2 2.10: GHSA-462w-v97r-4m45 (fixed in 2.10.1)" in lines


def test_clean_dependencies_pass() -> None:
    lines, code = verdict({"dependencies": [CLEAN]}, strict=True)
    assert code == 0
    assert lines == ["dependency audit: 1 of 1 packages audited, 0 with known vulnerabilities"]


def test_packages_that_could_not_be_audited_are_named_and_fail_when_strict() -> None:
    lines, code = verdict({"dependencies": [SKIPPED]}, strict=False)
    assert code == 0
    assert "could not be audited (1): asyncpg" in lines
    assert any(line.startswith("NO AUDIT HAPPENED") for line in lines)
    assert verdict({"dependencies": [SKIPPED, CLEAN]}, strict=True)[1] == 1
