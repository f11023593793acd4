"""The `evaluations` read model: where each application's evaluation stands in its current
round (who drafts, who submitted, consensus, final scores), the ground of a call's progress.

It holds no score an expert gave: a draft or a submission only counts, so no reader of the
read model can break the blind review.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from konkurs.scoring.v1 import evaluation_pb2 as pb
from konkurs_platform.db import Connection
from konkurs_platform.envelope import Envelope
from konkurs_readside.projections.rows import Fold, Table
from konkurs_readside.storable import decode_storable

_MESSAGES: dict[str, Any] = {
    m.DESCRIPTOR.full_name: m
    for m in (
        pb.EvaluationDraftSaved,
        pb.EvaluationSubmitted,
        pb.AutomaticScoresComputed,
        pb.ConsensusRequired,
        pb.RapporteurNamed,
        pb.ConsensusRecorded,
        pb.EvaluationFinalised,
        pb.EvaluationReopened,
    )
}
EVENT_TYPES = frozenset(_MESSAGES)
TABLES = ("evaluations",)

EVALUATIONS = Table(
    "evaluations",
    ("application_id",),
    (
        "application_id",
        "call_id",
        "round",
        "drafting",
        "submitted",
        "consensus_required",
        "divergences",
        "rapporteur",
        "consensus_recorded",
        "final",
        "overall_numerator",
        "overall_denominator",
        "fundable",
        "failed_thresholds",
        "finalised_at",
        "last_changed_at",
        "stream_version",
        "last_event_id",
    ),
    frozenset({"divergences"}),
)


def _round(application_id: str, call_id: str, number: int) -> dict[str, Any]:
    """An evaluation round before anything happened in it."""
    return {
        "application_id": application_id,
        "call_id": call_id,
        "round": number,
        "drafting": [],
        "submitted": [],
        "consensus_required": False,
        "divergences": [],
        "rapporteur": None,
        "consensus_recorded": False,
        "final": False,
        "overall_numerator": None,
        "overall_denominator": None,
        "fundable": None,
        "failed_thresholds": [],
        "finalised_at": None,
    }


def _fold(fold: Fold, e: Envelope, msg: Any) -> None:
    key = (msg.application_id,)
    if not fold.fresh(key, e):
        return
    found = fold.rows.get(key)
    row = {**found} if found else _round(msg.application_id, msg.call_id, msg.round)
    row["last_changed_at"] = e.occurred_at
    if isinstance(msg, pb.EvaluationDraftSaved):
        if msg.expert_id not in row["drafting"]:
            row["drafting"] = sorted([*row["drafting"], msg.expert_id])
    elif isinstance(msg, pb.EvaluationSubmitted):
        row["drafting"] = [x for x in row["drafting"] if x != msg.expert_id]
        row["submitted"] = sorted({*row["submitted"], msg.expert_id})
    elif isinstance(msg, pb.ConsensusRequired):
        row["consensus_required"] = True
        row["divergences"] = [
            {
                "criterion_id": d.criterion_id,
                "lowest_half_points": d.lowest_half_points,
                "highest_half_points": d.highest_half_points,
            }
            for d in msg.divergences
        ]
    elif isinstance(msg, pb.RapporteurNamed):
        row["rapporteur"] = msg.expert_id
    elif isinstance(msg, pb.ConsensusRecorded):
        row["consensus_recorded"] = True
    elif isinstance(msg, pb.EvaluationFinalised):
        row.update(
            final=True,
            overall_numerator=msg.overall.numerator,
            overall_denominator=msg.overall.denominator,
            fundable=msg.fundable,
            failed_thresholds=list(msg.failed_thresholds),
            finalised_at=msg.finalised_at.ToDatetime(tzinfo=UTC),
        )
    elif isinstance(msg, pb.EvaluationReopened):
        # A new round starts from nothing; the earlier rounds stay in scoring's stream.
        row = {
            **_round(msg.application_id, msg.call_id, msg.round),
            "last_changed_at": e.occurred_at,
        }
    # AutomaticScoresComputed changes no progress: the version moves on all the same.
    fold.put(row, e)


async def apply_batch(conn: Connection, schema: str, events: Sequence[Envelope]) -> None:
    """Fold the batch's evaluation events onto the applications they touch."""
    decoded = [(e, decode_storable(_MESSAGES[e.event_type], e.payload)) for e in events]
    fold = await EVALUATIONS.load(
        conn, schema, "application_id", [m.application_id for _, m in decoded]
    )
    for e, msg in decoded:
        _fold(fold, e, msg)
    await fold.save(conn, schema)
