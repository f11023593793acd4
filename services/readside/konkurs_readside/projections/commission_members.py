"""The `commission_members` read model: each call's commission as its latest composition
lists it (role, position, affiliations), and each member's name.

A member's name is personal data, sealed in the member's own stream (`MemberNamed` on
`commission-<call>-member-<member>`, `konkurs_platform.personal`). The batch opens it with
the key store's keys, holding the subject's erasure off until it commits; a member erased
before shows `ERASED`. The privacy service's `SubjectErased` puts `ERASED` in place of the
name, so the read model holds the clear name exactly as long as the key exists, and a rebuild
(which finds no key) comes out the same. Every other commission read model holds member ids
only: a name reaches a reader through this table, the one place an erasure has to reach.

A member a later composition drops keeps their row, with no place in the list (`ordinal`
null): the meetings they sat in still name them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from konkurs.commission.v1 import events_pb2 as pb
from konkurs.privacy.v1 import events_pb2 as privacy_pb2
from konkurs_platform.db import Connection
from konkurs_platform.envelope import Envelope
from konkurs_platform.personal.keystore import KeyStore
from konkurs_platform.personal.sealing import ERASED
from konkurs_platform.personal.store import open_payloads
from konkurs_readside.projections.rows import Fold, Table
from konkurs_readside.storable import decode_storable

COMMISSION_COMPOSED = pb.CommissionComposed.DESCRIPTOR.full_name
MEMBER_NAMED = pb.MemberNamed.DESCRIPTOR.full_name
SUBJECT_ERASED = privacy_pb2.SubjectErased.DESCRIPTOR.full_name

EVENT_TYPES = frozenset({COMMISSION_COMPOSED, MEMBER_NAMED, SUBJECT_ERASED})
TABLES = ("commission_members", "commission_member_names")

_KEYS = KeyStore()

MEMBERS = Table(
    "commission_members",
    ("call_id", "member_id"),
    (
        "call_id",
        "member_id",
        "role",
        "position",
        "affiliation_bins",
        "ordinal",
        "composition_version",
        "stream_version",
        "last_event_id",
    ),
)
NAMES = Table(
    "commission_member_names",
    ("call_id", "member_id"),
    ("call_id", "member_id", "stream_id", "name", "stream_version", "last_event_id"),
)


def role_name(role: int) -> str:
    """`MEMBER_ROLE_CHAIR` -> `chair`."""
    return str(pb.MemberRole.Name(role)).removeprefix("MEMBER_ROLE_").lower()  # type: ignore[arg-type]


def member_row(member: Any, ordinal: int) -> dict[str, Any]:
    """The columns a member as a composition lists them fills."""
    return {
        "member_id": member.member_id,
        "role": role_name(member.role),
        "position": member.position,
        "affiliation_bins": list(member.affiliation_bins),
        "ordinal": ordinal,
    }


def _fold_composition(fold: Fold, e: Envelope, msg: pb.CommissionComposed) -> None:
    listed = set()
    for ordinal, member in enumerate(msg.members, start=1):
        listed.add(member.member_id)
        key = (msg.call_id, member.member_id)
        if fold.fresh(key, e):
            row = member_row(member, ordinal)
            fold.put(
                {"call_id": msg.call_id, **row, "composition_version": msg.composition_version}, e
            )
    for key, row in list(fold.rows.items()):
        # Dropped by this composition: off the list, still on record.
        if key[0] == msg.call_id and key[1] not in listed and fold.fresh(key, e):
            fold.put({**row, "ordinal": None, "composition_version": msg.composition_version}, e)


def _fold_name(fold: Fold, e: Envelope, msg: pb.MemberNamed) -> None:
    key = (msg.call_id, msg.member_id)
    if fold.fresh(key, e):
        fold.put(
            {
                "call_id": msg.call_id,
                "member_id": msg.member_id,
                "stream_id": e.stream_id,
                "name": msg.name,
            },
            e,
        )


async def apply_batch(conn: Connection, schema: str, events: Sequence[Envelope]) -> None:
    """Fold the batch's compositions onto their members and its names (opened) onto the
    names; then erase the names of the members the batch's `SubjectErased` events name."""
    composed = [
        (e, decode_storable(pb.CommissionComposed, e.payload))
        for e in events
        if e.event_type == COMMISSION_COMPOSED
    ]
    if composed:
        fold = await MEMBERS.load(conn, schema, "call_id", [m.call_id for _, m in composed])
        for e, msg in composed:
            _fold_composition(fold, e, msg)
        await fold.save(conn, schema)
    named = await open_payloads(
        conn, _KEYS, [e for e in events if e.event_type == MEMBER_NAMED], hold=True
    )
    if named:
        names = [(e, decode_storable(pb.MemberNamed, e.payload)) for e in named]
        name_fold = await NAMES.load(conn, schema, "call_id", [m.call_id for _, m in names])
        for e, name in names:
            _fold_name(name_fold, e, name)
        await name_fold.save(conn, schema)
    erased = [e for e in events if e.event_type == SUBJECT_ERASED]
    if erased:
        await _erase_names(conn, schema, erased)


async def _erase_names(conn: Connection, schema: str, events: Sequence[Envelope]) -> None:
    """`ERASED` in place of the names of the erased members (their subject is
    `<name stream>/<path>`; other subjects match no row).

    Idempotent, and independent of order: a member projected after the erasure opened no
    key, and shows `ERASED` already."""
    streams = sorted(
        {
            decode_storable(privacy_pb2.SubjectErased, e.payload).subject_id.rpartition("/")[0]
            for e in events
        }
    )
    await conn.execute(
        f"UPDATE {schema}.commission_member_names SET name = $2 WHERE stream_id = ANY($1)",
        streams,
        ERASED,
    )
