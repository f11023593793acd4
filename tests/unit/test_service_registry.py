"""Services declare themselves; the platform and the tooling name none of them."""

from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from konkurs_platform.spec import Ref, ServiceSpec, Worker, discover, in_dependency_order

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = ROOT / "services" / "platform" / "konkurs_platform"
SPECS = discover()


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_every_service_is_found_through_its_registration() -> None:
    assert {"intake", "scoring", "readside"} <= {spec.name for spec in SPECS}
    assert len({spec.port for spec in SPECS}) == len(SPECS), "two services on one port"
    assert len({spec.schema for spec in SPECS}) == len(SPECS), "two services in one schema"


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_reference_of_a_registration_loads(spec: ServiceSpec) -> None:
    refs = [spec.api, spec.projector, spec.commands, spec.demo, *(w.create for w in spec.workers)]
    for ref in refs:
        if ref is not None:
            assert callable(ref.load()), ref.target


def test_the_runtime_library_imports_no_service_and_no_tooling() -> None:
    forbidden = {"konkurs_ops"} | {f"konkurs_{spec.name}" for spec in SPECS}
    for path in sorted(PLATFORM.rglob("*.py")):
        roots = {name.split(".")[0] for name in _imported_modules(path)}
        assert not roots & forbidden, f"{path.name} imports {sorted(roots & forbidden)}"


# What a consumer worker, projector or relay process has loaded once it is ready to run: the
# CLI, the registry, the worker's faust app, the projector or the relay. HTTP libraries have
# no business there.
_PROBE = """
import json, sys
from konkurs_ops.cli import build_parser
from konkurs_platform.outbox import OutboxRelay
from konkurs_platform.settings import Settings
from konkurs_platform.spec import discover

build_parser()
settings = Settings()
for spec in discover():
    for worker in spec.workers:
        worker.create.load()(settings)
    if spec.projector is not None:
        spec.projector.load()
    if spec.relay:
        OutboxRelay(settings, spec.schema)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {WEB})))
"""
WEB_LIBRARIES = ("fastapi", "starlette", "uvicorn", "jwt", "pydantic")


def test_a_worker_projector_or_relay_process_loads_no_web_framework(tmp_path: Path) -> None:
    probe = _PROBE.replace("{WEB}", repr(set(WEB_LIBRARIES)))
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"KONKURS_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def _spec(name: str, *consumes: str) -> ServiceSpec:
    worker = Worker("worker", Ref("konkurs_x.bootstrap:create_worker"), consumes=consumes)
    return ServiceSpec(name=name, port=9000, summary=name, workers=(worker,) if consumes else ())


def test_producers_come_before_their_consumers() -> None:
    specs = [
        _spec("plans", "commission"),
        _spec("commission", "scoring"),
        _spec("scoring", "intake"),
    ]
    order = [s.name for s in in_dependency_order([*specs, _spec("intake")])]
    assert order == ["intake", "scoring", "commission", "plans"]


def test_services_consuming_each_other_in_a_cycle_are_refused() -> None:
    with pytest.raises(ValueError, match="cycle"):
        in_dependency_order([_spec("a", "b"), _spec("b", "a")])


def test_a_consumer_of_a_later_stage_names_what_it_comes_after_and_breaks_the_cycle() -> None:
    scoring = dataclasses.replace(_spec("scoring", "intake", "commission"), after=("intake",))
    specs = [_spec("commission", "scoring", "intake"), scoring, _spec("intake")]
    assert [s.name for s in in_dependency_order(specs)] == ["intake", "scoring", "commission"]


def test_a_reference_must_name_a_module_and_an_attribute() -> None:
    with pytest.raises(ValueError, match="module:attribute"):
        Ref("konkurs_x.bootstrap.create_app")
