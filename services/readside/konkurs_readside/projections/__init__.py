"""The read models, each a `Projection`: the event types it needs, the tables it owns, and
how to apply a batch of events to them.

A projection's tables are what `konkurs projections rebuild NAME` rebuilds and swaps; a
later service's read model is one more module in this package.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from konkurs_platform.db import Connection
from konkurs_platform.envelope import Envelope

ApplyBatch = Callable[[Connection, str, Sequence[Envelope]], Awaitable[None]]


@dataclass(frozen=True)
class Projection:
    """One read model.

    `apply` gets the batch's events of `event_types` in consumption order (each stream's
    events in version order, since a stream lives on one partition) and writes them into
    `schema`; it must be idempotent per event, because the relay may publish an event twice.
    The envelopes' own strings are storable already; payloads are decoded with
    `konkurs_readside.storable.decode_storable`, so that no string a producer may legally
    emit keeps an event out of the read model.
    """

    name: str
    event_types: frozenset[str]
    tables: tuple[str, ...]
    apply: ApplyBatch


def _discover() -> dict[str, Projection]:
    """Every module of this package that defines `EVENT_TYPES`, `TABLES` and `apply_batch`
    (named by its `NAME`, or the module's name), in name order: a new read model is one more
    module here, and nothing else names it."""
    found: dict[str, Projection] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if not all(hasattr(module, a) for a in ("EVENT_TYPES", "TABLES", "apply_batch")):
            continue
        name = getattr(module, "NAME", info.name)
        found[name] = Projection(name, module.EVENT_TYPES, module.TABLES, module.apply_batch)
    return found


PROJECTIONS: dict[str, Projection] = _discover()
