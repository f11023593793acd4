"""The `commission_votes` read model: each member's vote on each candidate of a meeting (the
one that counts and, in order, the ones it replaced before the vote closed), every recusal
(automatic, with the matching BINs, or declared, with the member's reason) and every
dissenting opinion.

Recusals and opinions are recorded once each: their rows are only ever inserted, keyed by
what makes them unique, so a redelivered one changes nothing. A vote's row remembers the
version of the meeting's stream it reflects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from konkurs.commission.v1 import events_pb2 as pb
from konkurs_platform.db import Connection
from konkurs_platform.envelope import Envelope
from konkurs_readside.projections.rows import Fold, Table
from konkurs_readside.storable import decode_storable

MEMBER_RECUSED = pb.MemberRecused.DESCRIPTOR.full_name
VOTE_CAST = pb.VoteCast.DESCRIPTOR.full_name
DISSENT_ATTACHED = pb.DissentingOpinionAttached.DESCRIPTOR.full_name

EVENT_TYPES = frozenset({MEMBER_RECUSED, VOTE_CAST, DISSENT_ATTACHED})
TABLES = ("commission_recusals", "commission_votes", "commission_dissents")

VOTES = Table(
    "commission_votes",
    ("meeting_id", "application_id", "member_id"),
    (
        "meeting_id",
        "application_id",
        "member_id",
        "choice",
        "replaced",
        "cast_at",
        "stream_version",
        "last_event_id",
    ),
)


def choice_name(choice: int) -> str:
    """`VOTE_CHOICE_FOR` -> `for`."""
    return str(pb.VoteChoice.Name(choice)).removeprefix("VOTE_CHOICE_").lower()  # type: ignore[arg-type]


def _fold_vote(fold: Fold, e: Envelope, msg: pb.VoteCast) -> None:
    key = (msg.meeting_id, msg.application_id, msg.member_id)
    if not fold.fresh(key, e):
        return
    found = fold.rows.get(key)
    replaced = [*found["replaced"], found["choice"]] if found else []
    fold.put(
        {
            "meeting_id": msg.meeting_id,
            "application_id": msg.application_id,
            "member_id": msg.member_id,
            "choice": choice_name(msg.choice),
            "replaced": replaced,
            "cast_at": e.occurred_at,
        },
        e,
    )


async def _insert_recusals(conn: Connection, schema: str, events: Sequence[Envelope]) -> None:
    rows = []
    for e in events:
        r = decode_storable(pb.MemberRecused, e.payload)
        rows.append(
            (
                r.meeting_id,
                r.member_id,
                r.application_id,
                r.automatic,
                list(r.matching_bins),
                r.reason,
                e.occurred_at,
                e.stream_version,
                e.event_id,
            )
        )
    await conn.executemany(
        f"""INSERT INTO {schema}.commission_recusals (meeting_id, member_id, application_id,
                automatic, matching_bins, reason, recorded_at, stream_version, event_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING""",
        rows,
    )


async def _insert_dissents(conn: Connection, schema: str, events: Sequence[Envelope]) -> None:
    rows: list[tuple[Any, ...]] = []
    for e in events:
        d = decode_storable(pb.DissentingOpinionAttached, e.payload)
        rows.append(
            (
                d.meeting_id,
                e.stream_version,
                d.member_id,
                d.application_id,
                d.text,
                e.occurred_at,
                e.event_id,
            )
        )
    await conn.executemany(
        f"""INSERT INTO {schema}.commission_dissents (meeting_id, stream_version, member_id,
                application_id, text, attached_at, event_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING""",
        rows,
    )


async def apply_batch(conn: Connection, schema: str, events: Sequence[Envelope]) -> None:
    """Insert the batch's recusals and opinions; fold its votes onto the members' votes."""
    recusals = [e for e in events if e.event_type == MEMBER_RECUSED]
    if recusals:
        await _insert_recusals(conn, schema, recusals)
    dissents = [e for e in events if e.event_type == DISSENT_ATTACHED]
    if dissents:
        await _insert_dissents(conn, schema, dissents)
    votes = [
        (e, decode_storable(pb.VoteCast, e.payload)) for e in events if e.event_type == VOTE_CAST
    ]
    if votes:
        fold = await VOTES.load(conn, schema, "meeting_id", [m.meeting_id for _, m in votes])
        for e, msg in votes:
            _fold_vote(fold, e, msg)
        await fold.save(conn, schema)
