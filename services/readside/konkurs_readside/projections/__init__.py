"""The read models, each a `Projection`: the event types it needs, the tables it owns, and
how to apply a batch of events to them.

A projection's tables are what `konkurs projections rebuild NAME` rebuilds and swaps; a
later service's read model is one more module registered in `PROJECTIONS`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from konkurs_platform.db import Connection
from konkurs_platform.envelope import Envelope
from konkurs_readside.projections import (
    applications,
    assignments,
    calls,
    evaluations,
    rankings,
    screening,
)

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


PROJECTIONS: dict[str, Projection] = {
    p.name: p
    for p in (
        Projection("calls", calls.EVENT_TYPES, calls.TABLES, calls.apply_batch),
        Projection(
            "applications", applications.EVENT_TYPES, applications.TABLES, applications.apply_batch
        ),
        # Scoring's (issue 8).
        Projection("screening", screening.EVENT_TYPES, screening.TABLES, screening.apply_batch),
        Projection(
            "assignments", assignments.EVENT_TYPES, assignments.TABLES, assignments.apply_batch
        ),
        Projection(
            "evaluations", evaluations.EVENT_TYPES, evaluations.TABLES, evaluations.apply_batch
        ),
        Projection("rankings", rankings.EVENT_TYPES, rankings.TABLES, rankings.apply_batch),
    )
}
