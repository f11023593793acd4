"""`make lint`'s dependency audit: pip-audit over the installed (pinned) dependencies.

pip-audit asks PyPI's vulnerability API about each package. Where that API cannot be
reached (a closed network, or a registry mirror that serves packages but not the API), every
package comes back "could not be audited", and pip-audit alone would either pass silently
(misleading) or fail (with `--strict`) on every run. This wrapper tells the two cases apart:

- a known vulnerability in any dependency fails, always;
- packages that could not be audited are listed and named as such; when *none* could be
  audited the run says loudly that no audit happened and fails only with `--strict`
  (CI on a network that reaches PyPI should pass `--strict`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m konkurs_ops.dependency_audit")
    parser.add_argument(
        "--strict", action="store_true", help="fail when some package could not be audited"
    )
    args = parser.parse_args(argv)
    pip_audit = Path(sys.executable).parent / "pip-audit"
    done = subprocess.run(
        [
            str(pip_audit),
            "--local",
            "--skip-editable",
            "--format",
            "json",
            "--progress-spinner",
            "off",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        print(done.stdout + done.stderr, file=sys.stderr)
        print("dependency audit: pip-audit gave no report", file=sys.stderr)
        return 2
    lines, code = verdict(report, strict=args.strict)
    print("\n".join(lines))
    return code


def verdict(report: dict[str, Any], *, strict: bool) -> tuple[list[str], int]:
    """What to say about pip-audit's JSON `report`, and the exit code."""
    dependencies = report.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    lines = []
    for d in vulnerable:
        for v in d["vulns"]:
            fixes = ", ".join(v.get("fix_versions") or []) or "no fix yet"
            lines.append(f"VULNERABLE {d['name']} {d['version']}: {v['id']} (fixed in {fixes})")
    audited = len(dependencies) - len(skipped)
    lines.append(
        f"dependency audit: {audited} of {len(dependencies)} packages audited, "
        f"{len(vulnerable)} with known vulnerabilities"
    )
    if skipped:
        names = ", ".join(sorted(d["name"] for d in skipped))
        lines.append(f"could not be audited ({len(skipped)}): {names}")
    if audited == 0 and dependencies:
        lines.append(
            "NO AUDIT HAPPENED: PyPI's vulnerability API could not be reached from here "
            "(run `make audit` where it can, or in CI with --strict)"
        )
    if vulnerable:
        return lines, 1
    return lines, 1 if strict and skipped else 0


if __name__ == "__main__":
    raise SystemExit(main())
