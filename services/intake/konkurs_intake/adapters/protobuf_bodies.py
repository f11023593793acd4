"""Protobuf request bodies (`konkurs.intake.v1.ApplicationContent`) read into the JSON shape.

The API validates one shape whichever media type a client sends: a protobuf body is turned
into the JSON object `ApplicationBody` reads, so a fault gets the same pointer and reason
either way. Unset message fields stay absent (the JSON model says "is required"), and
fields the schema does not know are refused like unknown JSON members rather than dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError, Message
from google.protobuf.unknown_fields import UnknownFieldSet

from konkurs.intake.v1 import application_pb2
from konkurs_intake.adapters.codec import PARTICIPANT_KINDS

MESSAGE = "konkurs.intake.v1.ApplicationContent"

_KIND_NAMES = {number: kind.value for kind, number in PARTICIPANT_KINDS.items()}


class MalformedMessage(ValueError):
    """Bytes that do not parse as the message."""


@dataclass
class UnknownFields(ValueError):
    """The message carries fields its schema does not know: (pointer, reason) for each."""

    fields: list[tuple[str, str]]


def application_content_json(raw: bytes) -> dict[str, Any]:
    """The JSON shape of an `ApplicationContent` message, for validation by the API's body
    model; `MalformedMessage` or `UnknownFields` when it cannot be read as one."""
    try:
        message = application_pb2.ApplicationContent.FromString(raw)
    except DecodeError as exc:
        raise MalformedMessage(f"The body is not a valid {MESSAGE}: {exc}.") from exc
    if unknown := _unknown_fields(message):
        raise UnknownFields(unknown)
    return _content(message)


def _unknown_fields(msg: Message, at: str = "") -> list[tuple[str, str]]:
    """Fields the schema does not know, anywhere in `msg` (a client on a newer or wrong
    schema)."""
    unknown = UnknownFieldSet(msg)
    # By index: the set is a sequence, but its type stubs declare no iteration.
    found = [(at, f"unknown field number {unknown[i].field_number}") for i in range(len(unknown))]
    for descriptor, value in msg.ListFields():
        if descriptor.message_type is None:
            continue
        items = value if descriptor.is_repeated else [value]
        for i, item in enumerate(items):
            suffix = f"/{i}" if descriptor.is_repeated else ""
            found.extend(_unknown_fields(item, f"{at}/{descriptor.name}{suffix}"))
    return found


def _money(m: Any) -> dict[str, Any]:
    return {"currency": m.currency, "minor_units": m.minor_units}


def _put(target: dict[str, Any], key: str, msg: Message, convert: Callable[[Any], Any]) -> None:
    # A message field left unset is missing ("is required"), not an empty object.
    if msg.HasField(key):
        target[key] = convert(getattr(msg, key))


def _participant(p: application_pb2.Participant) -> dict[str, Any]:
    out: dict[str, Any] = {
        "bin": p.bin,
        "name": p.name,
        "employees": p.employees,
        "export_share_percent": p.export_share_percent,
    }
    if p.kind in _KIND_NAMES:
        out["kind"] = _KIND_NAMES[p.kind]
    elif p.kind != application_pb2.PARTICIPANT_KIND_UNSPECIFIED:
        out["kind"] = f"unknown kind {p.kind}"
    _put(out, "annual_revenue", p, _money)
    return out


def _specialisation(c: application_pb2.Cluster) -> list[str]:
    # A current client names the primary and the related codes; an older one lists them all,
    # most important first, in the deprecated field. Both read as the JSON body's one list.
    if c.primary_oked_code or c.related_oked_codes:
        return [c.primary_oked_code, *c.related_oked_codes]
    return list(c.specialisation_oked_codes)


def _co_financing(c: application_pb2.CoFinancing) -> dict[str, Any]:
    out: dict[str, Any] = {"share_percent": c.share_percent}
    _put(out, "amount", c, _money)
    return out


def _content(m: application_pb2.ApplicationContent) -> dict[str, Any]:
    out: dict[str, Any] = {
        "participants": [_participant(p) for p in m.participants],
        "strategy_summary": m.strategy_summary,
        "requested_support": [],
        "documents": [
            {
                "kind": d.kind,
                "filename": d.filename,
                "media_type": d.media_type,
                "size_bytes": d.size_bytes,
                "sha256": d.sha256,
            }
            for d in m.documents
        ],
    }
    for s in m.requested_support:
        support: dict[str, Any] = {"kind": s.kind, "description": s.description}
        _put(support, "amount", s, _money)
        out["requested_support"].append(support)
    _put(
        out,
        "cluster",
        m,
        lambda c: {
            "name": c.name,
            "description": c.description,
            "region_code": c.region_code,
            "specialisation_oked_codes": _specialisation(c),
        },
    )
    _put(out, "coordinator", m, lambda o: {"bin": o.bin, "name": o.name})
    _put(out, "co_financing", m, _co_financing)
    _put(out, "contact", m, lambda c: {"name": c.name, "phone": c.phone, "email": c.email})
    return out
