"""The `screening` read model: each application's eligibility as scoring screened it (the
result that holds, each rule's result) and every operator's override with its actor and
justification.

A later assessment (of amended content, or under amended rules) replaces the result and
clears `overridden`, as it does in scoring; the overrides it superseded stay in
`screening_overrides`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from konkurs.scoring.v1 import screening_pb2
from konkurs_platform.db import Connection
from konkurs_platform.envelope import Envelope
from konkurs_readside.projections.rows import Fold, Table
from konkurs_readside.storable import decode_storable

ELIGIBILITY_ASSESSED = screening_pb2.EligibilityAssessed.DESCRIPTOR.full_name
ELIGIBILITY_OVERRIDDEN = screening_pb2.EligibilityOverridden.DESCRIPTOR.full_name

EVENT_TYPES = frozenset({ELIGIBILITY_ASSESSED, ELIGIBILITY_OVERRIDDEN})
TABLES = ("screening", "screening_overrides")

SCREENING = Table(
    "screening",
    ("application_id",),
    (
        "application_id",
        "call_id",
        "eligible",
        "assessed_eligible",
        "overridden",
        "results",
        "application_version",
        "call_version",
        "assessed_at",
        "last_changed_at",
        "stream_version",
        "last_event_id",
    ),
    frozenset({"results"}),
)


class UnscreenedApplication(Exception):
    """An override of an application whose assessment the read model never saw."""


_MESSAGES: dict[str, Any] = {
    ELIGIBILITY_ASSESSED: screening_pb2.EligibilityAssessed,
    ELIGIBILITY_OVERRIDDEN: screening_pb2.EligibilityOverridden,
}


def _fold(fold: Fold, overrides: list[tuple[Any, ...]], e: Envelope, msg: Any) -> None:
    if isinstance(msg, screening_pb2.EligibilityAssessed):
        a = msg
        if not fold.fresh((a.application_id,), e):
            return
        row = {
            "application_id": a.application_id,
            "call_id": a.call_id,
            "eligible": a.eligible,
            "assessed_eligible": a.eligible,
            "overridden": False,
            "results": [
                {"rule": r.rule, "passed": r.passed, "required": r.required, "found": r.found}
                for r in a.results
            ],
            "application_version": a.application_version,
            "call_version": a.call_version,
            "assessed_at": e.occurred_at,
            "last_changed_at": e.occurred_at,
        }
        fold.put(row, e)
        return
    o = msg
    found = fold.rows.get((o.application_id,))
    if found is None:
        raise UnscreenedApplication(f"override of unscreened application {o.application_id!r}")
    if not fold.fresh((o.application_id,), e):
        return
    fold.put(
        {**found, "eligible": o.eligible, "overridden": True, "last_changed_at": e.occurred_at}, e
    )
    overrides.append(
        (
            o.application_id,
            e.stream_version,
            o.call_id,
            o.eligible,
            o.justification,
            o.overrides_version,
            e.event_id,
            e.occurred_at,
            e.actor.subject,
            e.actor.role,
        )
    )


async def apply_batch(conn: Connection, schema: str, events: Sequence[Envelope]) -> None:
    """Fold the batch's screening events onto the applications they touch."""
    decoded = [(e, decode_storable(_MESSAGES[e.event_type], e.payload)) for e in events]
    ids = [msg.application_id for _, msg in decoded]
    fold = await SCREENING.load(conn, schema, "application_id", ids)
    overrides: list[tuple[Any, ...]] = []
    for e, msg in decoded:
        _fold(fold, overrides, e, msg)
    await fold.save(conn, schema)
    if overrides:
        await conn.executemany(
            f"""INSERT INTO {schema}.screening_overrides (application_id, stream_version,
                    call_id, eligible, justification, overrides_version, event_id, occurred_at,
                    actor_subject, actor_role)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING""",
            overrides,
        )
