"""The `commission_appeals` read model: every appeal against a published decision, its
procedural ground and explanation, the panel named to decide it, and its outcome (rejected
or upheld with reasons; whether a re-evaluation was requested).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from konkurs.commission.v1 import events_pb2 as pb
from konkurs_platform.db import Connection
from konkurs_platform.envelope import Envelope
from konkurs_readside.projections.rows import Fold, Table
from konkurs_readside.storable import decode_storable

_MESSAGES: dict[str, Any] = {
    m.DESCRIPTOR.full_name: m
    for m in (
        pb.AppealLodged,
        pb.AppealPanelNamed,
        pb.AppealRejected,
        pb.AppealUpheld,
        pb.ReevaluationRequested,
    )
}
EVENT_TYPES = frozenset(_MESSAGES)
TABLES = ("commission_appeals",)

LODGED, REJECTED, UPHELD = "lodged", "rejected", "upheld"

APPEALS = Table(
    "commission_appeals",
    ("appeal_id",),
    (
        "appeal_id",
        "call_id",
        "application_id",
        "meeting_id",
        "applicant_bin",
        "ground",
        "explanation",
        "lodged_at",
        "panel",
        "status",
        "reasons",
        "decided_by",
        "decided_at",
        "reevaluation_requested",
        "last_changed_at",
        "stream_version",
        "last_event_id",
    ),
)


class UnknownAppeal(Exception):
    """An event of an appeal whose `AppealLodged` the read model never saw."""


def ground_name(ground: int) -> str:
    """`APPEAL_GROUND_QUORUM_OR_COUNT` -> `quorum_or_count`."""
    return str(pb.AppealGround.Name(ground)).removeprefix("APPEAL_GROUND_").lower()  # type: ignore[arg-type]


def _fold(fold: Fold, e: Envelope, msg: Any) -> None:
    key = (msg.appeal_id,)
    if not fold.fresh(key, e):
        return
    if isinstance(msg, pb.AppealLodged):
        fold.put(
            {
                "appeal_id": msg.appeal_id,
                "call_id": msg.call_id,
                "application_id": msg.application_id,
                "meeting_id": msg.meeting_id,
                "applicant_bin": msg.applicant_bin,
                "ground": ground_name(msg.ground),
                "explanation": msg.explanation,
                "lodged_at": msg.lodged_at.ToDatetime(tzinfo=UTC),
                "panel": [],
                "status": LODGED,
                "reasons": None,
                "decided_by": None,
                "decided_at": None,
                "reevaluation_requested": False,
                "last_changed_at": e.occurred_at,
            },
            e,
        )
        return
    found = fold.rows.get(key)
    if found is None:
        raise UnknownAppeal(f"{e.event_type} for an unknown appeal {msg.appeal_id!r}")
    row = {**found, "last_changed_at": e.occurred_at}
    if isinstance(msg, pb.AppealPanelNamed):
        row["panel"] = list(msg.member_ids)
    elif isinstance(msg, (pb.AppealRejected, pb.AppealUpheld)):
        row.update(
            status=REJECTED if isinstance(msg, pb.AppealRejected) else UPHELD,
            reasons=msg.reasons,
            decided_by=msg.decided_by,
            decided_at=msg.decided_at.ToDatetime(tzinfo=UTC),
        )
    else:
        row["reevaluation_requested"] = True
    fold.put(row, e)


async def apply_batch(conn: Connection, schema: str, events: Sequence[Envelope]) -> None:
    """Fold the batch's appeal events onto their appeals."""
    decoded = [(e, decode_storable(_MESSAGES[e.event_type], e.payload)) for e in events]
    fold = await APPEALS.load(conn, schema, "appeal_id", [m.appeal_id for _, m in decoded])
    for e, msg in decoded:
        _fold(fold, e, msg)
    await fold.save(conn, schema)
