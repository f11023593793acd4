"""What a service hands the platform: one typed description of itself.

Each service declares a `ServiceSpec` in its own `spec.py` and registers it under the
`konkurs.services` entry-point group (in `pyproject.toml`). The tooling (`konkurs_ops`: the
CLI, the local runner, the manifests' checks) finds services only through that group, so
neither the platform nor the tooling names a service.

A spec refers to the service's factories by `"module:attribute"` references and imports them
only when a process needs them: reading the registry must not import FastAPI into a relay or
a worker process, nor a service's whole code into the CLI.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Literal

ENTRY_POINT_GROUP = "konkurs.services"

_REF = re.compile(r"^[a-z_][a-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$")
_NAME = re.compile(r"^[a-z][a-z0-9]*$")


@dataclass(frozen=True)
class Ref:
    """A `"package.module:attribute"` reference, imported on `load()`."""

    target: str

    def __post_init__(self) -> None:
        if not _REF.match(self.target):
            raise ValueError(f"not a 'module:attribute' reference: {self.target!r}")

    def load(self) -> Any:
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class Worker:
    """One consumer process of a service: a faust app factory `create(settings) -> faust.App`."""

    name: str
    create: Ref
    # The services whose events it consumes; the topics follow from them.
    consumes: tuple[str, ...]


@dataclass(frozen=True)
class ServiceSpec:
    """Everything the platform and the tooling need to know about one service."""

    name: str
    # Default HTTP port (`KONKURS_<NAME>_PORT` overrides it).
    port: int
    # One line on what the service does, for `konkurs services` and the generated docs.
    summary: str
    # The PostgreSQL schema it owns; by default named after the service.
    schema: str = ""
    # The package whose `migrations/` folder holds the service's SQL files, applied after the
    # platform's own (event store, outbox, inbox, offsets, idempotency keys, timers).
    migrations: str = ""
    # `create_app(settings) -> ASGI app`: the service's HTTP API.
    api: Ref | None = None
    # Whether its event store is published to `konkurs.<name>.events.v1` by an outbox relay.
    relay: bool = False
    workers: tuple[Worker, ...] = ()
    # `run_projector(settings, stop: asyncio.Event) -> None`: projections of other services'
    # events into this service's read models (the readside reads every service's events).
    projector: Ref | None = None
    # `register_commands(subparsers) -> None`: extra `konkurs` subcommands the service adds
    # (argparse sub-parsers whose `func(settings, args)` runs the command).
    commands: Ref | None = None
    # `load_demo(settings) -> Awaitable[None]`: the 2017 programme's data; loading twice
    # changes nothing. Demos run in dependency order (see `in_dependency_order`).
    demo: Ref | None = None
    # Tables of its schema its own role may only read and insert into (the audit log):
    # no update, delete or truncate, and as for every table, no DDL.
    append_only: tuple[str, ...] = ()
    # What its role may do with the key store of personal data (konkurs_platform.personal):
    # "" nothing (sealed values stay sealed), "read" open them, "seal" also give a new data
    # subject its key, "erase" read and destroy keys.
    personal_data: Literal["", "read", "seal", "erase"] = ""
    # The services whose demo (and start) come before this one's; by default every service it
    # consumes. A service that also reacts to a later stage's events (scoring to the
    # commission's re-evaluation requests) names the earlier ones only, which breaks the cycle.
    after: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"a service name is lower-case letters and digits: {self.name!r}")
        if not self.schema:
            object.__setattr__(self, "schema", self.name)
        if not self.migrations:
            object.__setattr__(self, "migrations", f"konkurs_{self.name}")

    @property
    def consumes(self) -> tuple[str, ...]:
        """Every service whose events this one's workers read."""
        return tuple(dict.fromkeys(s for w in self.workers for s in w.consumes))

    @property
    def runs_after(self) -> tuple[str, ...]:
        """The services to bring up, and load the demo of, before this one."""
        return self.consumes if self.after is None else self.after

    def processes(self) -> list[tuple[str, list[str]]]:
        """The long-running processes of this service: (process name, `konkurs` arguments)."""
        out: list[tuple[str, list[str]]] = []
        if self.api is not None:
            out.append((f"{self.name}-api", ["api", self.name]))
        if self.relay:
            out.append((f"{self.name}-relay", ["relay", self.name]))
        for w in self.workers:
            # A lone worker needs no name on the command line.
            named = [w.name] if len(self.workers) > 1 else []
            out.append((f"{self.name}-{w.name}", ["worker", self.name, *named]))
        if self.projector is not None:
            out.append((f"{self.name}-projector", ["projector", self.name]))
        return out


def discover() -> list[ServiceSpec]:
    """Every registered service, by name."""
    specs: dict[str, ServiceSpec] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        spec = ep.load()
        if not isinstance(spec, ServiceSpec):
            raise TypeError(f"entry point {ep.name} ({ep.value}) is not a ServiceSpec")
        if spec.name != ep.name:
            raise ValueError(f"entry point {ep.name} registers a service named {spec.name}")
        specs[spec.name] = spec
    return [specs[name] for name in sorted(specs)]


def in_dependency_order(specs: Iterable[ServiceSpec]) -> list[ServiceSpec]:
    """Producers before their consumers (for demos and start-up); ties by name."""
    pending = {s.name: s for s in specs}
    ordered: list[ServiceSpec] = []
    while pending:
        ready = sorted(
            name
            for name, s in pending.items()
            if not any(dep in pending and dep != name for dep in s.runs_after)
        )
        if not ready:
            raise ValueError(f"services consume each other in a cycle: {sorted(pending)}")
        for name in ready:
            ordered.append(pending.pop(name))
    return ordered


def by_name(specs: Iterable[ServiceSpec], name: str) -> ServiceSpec:
    """The spec called `name`; a `LookupError` naming the registered ones otherwise."""
    table = {s.name: s for s in specs}
    if name not in table:
        raise LookupError(f"unknown service {name!r}; registered: {', '.join(sorted(table))}")
    return table[name]
