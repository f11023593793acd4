"""The `assignments` read models: the expert registry (for the experts' names) and every
expert's assignment to an application, with its declaration of interest, whether it is
overdue and when the expert's submission completed it.

An expert's name is personal data, sealed in the events per expert
(`konkurs_platform.personal`, subject `expert-<id>/profile`). The batch opens it with the key
store's keys, holding the subject's erasure off until it commits; an expert erased before
shows `ERASED`. The privacy service's `SubjectErased` puts `ERASED` in place of the name, so
the read model holds the clear name exactly as long as the key exists, and a rebuild (which
finds no key) comes out the same. The assignments hold expert ids only: a name reaches a
reader through the registry row, the one place an erasure has to reach.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from konkurs.privacy.v1 import events_pb2 as privacy_pb2
from konkurs.scoring.v1 import assignment_pb2, experts_pb2
from konkurs_platform.db import Connection
from konkurs_platform.envelope import Envelope
from konkurs_platform.personal.keystore import KeyStore
from konkurs_platform.personal.sealing import ERASED
from konkurs_platform.personal.store import open_payloads
from konkurs_readside.projections.rows import Fold, Table
from konkurs_readside.storable import decode_storable

EXPERT_REGISTERED = experts_pb2.ExpertRegistered.DESCRIPTOR.full_name
EXPERT_UPDATED = experts_pb2.ExpertUpdated.DESCRIPTOR.full_name
EXPERT_DEACTIVATED = experts_pb2.ExpertDeactivated.DESCRIPTOR.full_name
EXPERT_ASSIGNED = assignment_pb2.ExpertAssigned.DESCRIPTOR.full_name
EXPERT_UNASSIGNED = assignment_pb2.ExpertUnassigned.DESCRIPTOR.full_name
CONFLICT_DECLARED = assignment_pb2.ConflictDeclared.DESCRIPTOR.full_name
NO_CONFLICT_DECLARED = assignment_pb2.NoConflictDeclared.DESCRIPTOR.full_name
ASSIGNMENT_OVERDUE = assignment_pb2.AssignmentOverdue.DESCRIPTOR.full_name
ASSIGNMENT_COMPLETED = assignment_pb2.AssignmentCompleted.DESCRIPTOR.full_name
SUBJECT_ERASED = privacy_pb2.SubjectErased.DESCRIPTOR.full_name

_EXPERT_MESSAGES: dict[str, Any] = {
    EXPERT_REGISTERED: experts_pb2.ExpertRegistered,
    EXPERT_UPDATED: experts_pb2.ExpertUpdated,
    EXPERT_DEACTIVATED: experts_pb2.ExpertDeactivated,
}
_ASSIGNMENT_MESSAGES: dict[str, Any] = {
    EXPERT_ASSIGNED: assignment_pb2.ExpertAssigned,
    EXPERT_UNASSIGNED: assignment_pb2.ExpertUnassigned,
    CONFLICT_DECLARED: assignment_pb2.ConflictDeclared,
    NO_CONFLICT_DECLARED: assignment_pb2.NoConflictDeclared,
    ASSIGNMENT_OVERDUE: assignment_pb2.AssignmentOverdue,
    ASSIGNMENT_COMPLETED: assignment_pb2.AssignmentCompleted,
}
EVENT_TYPES = frozenset({*_EXPERT_MESSAGES, *_ASSIGNMENT_MESSAGES, SUBJECT_ERASED})
TABLES = ("experts", "assignments")

# The data subject of an expert's profile: `<stream id>/<this path>`.
PROFILE_PATH = "profile"
_KEYS = KeyStore()

NO_DECLARATION, NO_CONFLICT, CONFLICT = "none", "no_conflict", "conflict"

EXPERTS = Table(
    "experts",
    ("expert_id",),
    ("expert_id", "stream_id", "name", "active", "stream_version", "last_event_id"),
)
ASSIGNMENTS = Table(
    "assignments",
    ("application_id", "expert_id"),
    (
        "application_id",
        "expert_id",
        "call_id",
        "mode",
        "reason",
        "assigned_at",
        "due_at",
        "current",
        "declaration",
        "conflict_nature",
        "declared_at",
        "overdue",
        "unassignment_cause",
        "unassignment_reason",
        "unassigned_at",
        "completed_at",
        "last_changed_at",
        "stream_version",
        "last_event_id",
    ),
)


class UnknownExpert(Exception):
    """An event about an expert whose registration the read model never saw."""


class UnknownAssignment(Exception):
    """An event about an assignment whose `ExpertAssigned` the read model never saw."""


def _enum_name(enum: Any, value: int, prefix: str) -> str:
    """`ASSIGNMENT_MODE_MANUAL` -> `manual`."""
    return str(enum.Name(value)).removeprefix(prefix).lower()


def _fold_expert(fold: Fold, e: Envelope, msg: Any) -> None:
    key = (msg.expert_id,)
    if not fold.fresh(key, e):
        return
    if isinstance(msg, experts_pb2.ExpertRegistered):
        fold.put(
            {
                "expert_id": msg.expert_id,
                "stream_id": e.stream_id,
                "name": msg.profile.name,
                "active": True,
            },
            e,
        )
        return
    found = fold.rows.get(key)
    if found is None:
        raise UnknownExpert(f"{e.event_type} for an unknown expert {msg.expert_id!r}")
    if isinstance(msg, experts_pb2.ExpertUpdated):
        # The profile is complete in each update.
        fold.put({**found, "name": msg.profile.name}, e)
    else:
        fold.put({**found, "active": False}, e)


def _fold_assignment(fold: Fold, e: Envelope, msg: Any) -> None:
    key = (msg.application_id, msg.expert_id)
    if not fold.fresh(key, e):
        return
    at = e.occurred_at
    if isinstance(msg, assignment_pb2.ExpertAssigned):
        found = fold.rows.get(key)
        if found is not None and found["current"]:
            # Renewed for a re-evaluation's round: a new due time, nothing owed yet; the
            # declaration stands (scoring keeps it too).
            fold.put(
                {
                    **found,
                    "due_at": msg.due_at.ToDatetime(tzinfo=UTC),
                    "overdue": False,
                    "completed_at": None,
                    "reason": msg.reason,
                    "last_changed_at": at,
                },
                e,
            )
            return
        # Assigned again after an unassignment: a fresh assignment, a fresh declaration.
        fold.put(
            {
                "application_id": msg.application_id,
                "expert_id": msg.expert_id,
                "call_id": msg.call_id,
                "mode": _enum_name(assignment_pb2.AssignmentMode, msg.mode, "ASSIGNMENT_MODE_"),
                "reason": msg.reason,
                "assigned_at": msg.assigned_at.ToDatetime(tzinfo=UTC),
                "due_at": msg.due_at.ToDatetime(tzinfo=UTC),
                "current": True,
                "declaration": NO_DECLARATION,
                "conflict_nature": None,
                "declared_at": None,
                "overdue": False,
                "unassignment_cause": None,
                "unassignment_reason": None,
                "unassigned_at": None,
                "completed_at": None,
                "last_changed_at": at,
            },
            e,
        )
        return
    found = fold.rows.get(key)
    if found is None:
        raise UnknownAssignment(f"{e.event_type} for an unknown assignment {key!r}")
    row = {**found, "last_changed_at": at}
    if isinstance(msg, assignment_pb2.ExpertUnassigned):
        cause = _enum_name(assignment_pb2.UnassignmentCause, msg.cause, "UNASSIGNMENT_CAUSE_")
        row.update(
            current=False,
            unassignment_cause=cause,
            unassignment_reason=msg.reason,
            unassigned_at=at,
        )
    elif isinstance(msg, assignment_pb2.ConflictDeclared):
        row.update(declaration=CONFLICT, conflict_nature=msg.nature, declared_at=at)
    elif isinstance(msg, assignment_pb2.NoConflictDeclared):
        row.update(declaration=NO_CONFLICT, declared_at=at)
    elif isinstance(msg, assignment_pb2.AssignmentCompleted):
        row.update(completed_at=msg.completed_at.ToDatetime(tzinfo=UTC))
    else:
        row.update(overdue=True)
    fold.put(row, e)


async def apply_batch(conn: Connection, schema: str, events: Sequence[Envelope]) -> None:
    """Fold the batch's expert and assignment events onto their rows; then erase the names
    of the experts the batch's `SubjectErased` events name."""
    erased = [e for e in events if e.event_type == SUBJECT_ERASED]
    expert_events = await open_payloads(
        conn, _KEYS, [e for e in events if e.event_type in _EXPERT_MESSAGES], hold=True
    )
    if expert_events:
        decoded = [
            (e, decode_storable(_EXPERT_MESSAGES[e.event_type], e.payload)) for e in expert_events
        ]
        experts = await EXPERTS.load(conn, schema, "expert_id", [m.expert_id for _, m in decoded])
        for e, msg in decoded:
            _fold_expert(experts, e, msg)
        await experts.save(conn, schema)
    assignment_events = [
        (e, decode_storable(_ASSIGNMENT_MESSAGES[e.event_type], e.payload))
        for e in events
        if e.event_type in _ASSIGNMENT_MESSAGES
    ]
    if assignment_events:
        assignments = await ASSIGNMENTS.load(
            conn, schema, "application_id", [m.application_id for _, m in assignment_events]
        )
        for e, msg in assignment_events:
            _fold_assignment(assignments, e, msg)
        await assignments.save(conn, schema)
    if erased:
        await _erase_names(conn, schema, erased)


async def _erase_names(conn: Connection, schema: str, events: Sequence[Envelope]) -> None:
    """`ERASED` in place of the names of the erased experts.

    Idempotent, and independent of order: an expert projected after the erasure opened no
    key, and shows `ERASED` already."""
    streams = []
    for e in events:
        stream_id, _, path = decode_storable(
            privacy_pb2.SubjectErased, e.payload
        ).subject_id.rpartition("/")
        if path == PROFILE_PATH:
            streams.append(stream_id)
    if streams:
        await conn.execute(
            f"UPDATE {schema}.experts SET name = $2 WHERE stream_id = ANY($1)",
            sorted(streams),
            ERASED,
        )
