"""Older event shapes read as the current one.

Events are kept forever, in the shape they were written in; `Envelope.schema_version` says
which. An upcaster turns the payload of version n of an event type into version n+1, and
`upcast` chains them (v1 -> v2 -> v3) until none is left, so every reader (the event store's
load, projections, reactions) sees only the current shape, as in the eventsourcing library's
`upcast_v1_v2`. The stored bytes never change: the legal record is what was written, and
upcasting happens on each read.

The upcasters of a context ship with its schema, in the module `upcasters` of its protobuf
package (e.g. `konkurs.intake.v1.upcasters`, from `schemas/konkurs/intake/v1/upcasters.py`),
as a mapping `UPCASTERS: {(event_type, from_version): function}`. `registered()` finds them
by that layout, so neither the platform nor a reading service names a context, and a
context's upcasters cannot be left out of a process that reads its events.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from konkurs_platform.envelope import Envelope, EnvelopeError

# The serialized payload of version n -> that of version n+1.
Upcaster = Callable[[bytes], bytes]

# Where the generated code and the upcasters shipped with it live.
SCHEMA_PACKAGE = "konkurs"


class UpcastError(EnvelopeError):
    """A stored payload its upcaster cannot read: treated like any undecodable event."""


class Upcasters:
    """Upcasters by (event type, the version they read); each returns the next version."""

    def __init__(self, upcasters: Mapping[tuple[str, int], Upcaster]) -> None:
        self._steps = dict(upcasters)
        for event_type, version in self._steps:
            # A gap would leave the versions below it stuck at an old shape.
            if version > 1 and (event_type, version - 1) not in self._steps:
                raise ValueError(f"{event_type}: an upcaster from v{version} but none from v1")

    def current_version(self, event_type: str) -> int:
        """The version every stored `event_type` is read as (1 if it never changed)."""
        versions = [v for t, v in self._steps if t == event_type]
        return max(versions) + 1 if versions else 1

    def upcast(self, envelope: Envelope) -> Envelope:
        """`envelope` with its payload in the current version of its event type; the same
        envelope if it is current already (or newer than this process knows)."""
        version, payload = envelope.schema_version, envelope.payload
        while (step := self._steps.get((envelope.event_type, version))) is not None:
            try:
                payload = step(payload)
            except Exception as exc:  # protobuf raises DecodeError, upcasters their own
                raise UpcastError(
                    f"{envelope.event_type} v{version} of event {envelope.event_id} "
                    f"cannot be upcast: {exc}"
                ) from exc
            version += 1
        if version == envelope.schema_version:
            return envelope
        return dataclasses.replace(envelope, schema_version=version, payload=payload)


def discover(package: str = SCHEMA_PACKAGE) -> Upcasters:
    """The upcasters of every schema under `package` (`<package>/<context>/<version>/
    upcasters.py` on the import path); two modules claiming one step is an error."""
    steps: dict[tuple[str, int], Upcaster] = {}
    for name in sorted(_upcaster_modules(package)):
        for key, step in importlib.import_module(name).UPCASTERS.items():
            if key in steps:
                raise ValueError(f"two upcasters of {key[0]} v{key[1]}")
            steps[key] = step
    return Upcasters(steps)


def _upcaster_modules(package: str) -> Iterable[str]:
    # The schema package is a namespace package (generated code has no __init__), which
    # pkgutil does not walk, so its directories are searched.
    roots = importlib.import_module(package).__path__
    return {
        ".".join((package, *path.relative_to(root).with_suffix("").parts))
        for root in map(Path, roots)
        for path in root.glob("*/*/upcasters.py")
    }


@functools.cache
def registered() -> Upcasters:
    """The upcasters of every schema installed with this process, found once."""
    return discover()


def upcast(envelope: Envelope) -> Envelope:
    """`envelope` read as the current version of its event type (see `Upcasters.upcast`).

    Raises `UpcastError` (an `EnvelopeError`) for a payload that cannot be upcast.
    """
    return registered().upcast(envelope)
