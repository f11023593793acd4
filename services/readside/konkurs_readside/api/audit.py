"""`GET /v1/audit/streams/{stream_id}` and `GET /v1/audit/verify`, for auditors."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from google.protobuf import descriptor_pool, json_format, message_factory

from konkurs_platform.auth import Principal, Role, require
from konkurs_platform.envelope import EnvelopeError, decode_envelope
from konkurs_platform.problems import NOT_FOUND, Problem, problem_responses
from konkurs_readside import audit
from konkurs_readside.api.parameters import Identifier

router = APIRouter(tags=["audit"])


def _payload(event_type: str, payload: bytes) -> dict[str, Any] | None:
    """The payload in protobuf's JSON mapping when its type is known to this process."""
    try:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(event_type)
        message = message_factory.GetMessageClass(descriptor).FromString(payload)
    except Exception:  # an unknown type or bytes that do not parse: shown as base64 only
        return None
    decoded: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return decoded


def event_entry(row: Any) -> dict[str, Any]:
    envelope = bytes(row["envelope"])
    try:
        payload = _payload(row["event_type"], decode_envelope(envelope).payload)
    except EnvelopeError:  # a tampered row: `GET /v1/audit/verify` says which and why
        payload = None
    return {
        "seq": row["seq"],
        "event_id": str(row["event_id"]),
        "event_type": row["event_type"],
        "stream_id": row["stream_id"],
        "stream_version": row["stream_version"],
        "occurred_at": row["occurred_at"].isoformat(),
        "recorded_at": row["recorded_at"].isoformat(),
        "actor": {
            "subject": row["actor_subject"],
            "role": row["actor_role"],
            "organisation": row["actor_organisation"],
            "region": row["actor_region"],
        },
        "correlation_id": row["correlation_id"],
        "causation_id": row["causation_id"],
        "imported": row["imported"],
        "payload": payload,
        "envelope_base64": base64.b64encode(envelope).decode(),
        "hash": bytes(row["hash"]).hex(),
        "prev_hash": bytes(row["prev_hash"]).hex(),
    }


@router.get(
    "/v1/audit/streams/{stream_id}",
    responses=problem_responses(401, 403, 404),
    summary="The full history of one aggregate",
)
async def stream_history(
    stream_id: Identifier,
    request: Request,
    _: Annotated[Principal, Depends(require(Role.AUDITOR))],
) -> dict[str, Any]:
    """Every event of the stream (an application, a call, any aggregate) in order, with who
    acted, when, what caused it and the conversation it belongs to, and its link in the
    hash chain."""
    async with request.app.state.pool.acquire() as conn:
        rows = await audit.stream_history(conn, request.app.state.schema, stream_id)
    if not rows:
        raise Problem(NOT_FOUND, f"No events of stream {stream_id} in the audit log.")
    return {"stream_id": stream_id, "events": [event_entry(r) for r in rows]}


@router.get(
    "/v1/audit/verify",
    responses=problem_responses(401, 403),
    summary="Recompute the hash chain",
)
async def verify_chain(
    request: Request, _: Annotated[Principal, Depends(require(Role.AUDITOR))]
) -> dict[str, Any]:
    """Recompute every link of the audit chain; `first_broken_link` names the first that does
    not hold, and why."""
    async with request.app.state.pool.acquire() as conn:
        outcome = await audit.verify(conn, request.app.state.schema)
    return outcome.as_dict()
