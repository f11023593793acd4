"""Scoring's row-shaped reaction (its copy of each call's terms) and the route that reads it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from konkurs.intake.v1 import call_pb2, events_pb2
from konkurs_platform.auth import Role, mint_token
from konkurs_platform.envelope import Actor, Envelope
from konkurs_platform.settings import Settings
from konkurs_scoring.adapters.calls import PostgresCallBook
from konkurs_scoring.adapters.intake_events import CALL_AMENDED, CALL_ANNOUNCED, CALL_CLOSED
from konkurs_scoring.bootstrap import SCHEMA, create_app
from konkurs_scoring.consumers.intake_events import IntakeCallEvents

pytestmark = pytest.mark.integration

CLOSES_AT = datetime(2030, 6, 1, tzinfo=UTC)


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        token = mint_token(settings, Role.EXPERT, "expert-1")
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://scoring",
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            yield client


def timestamp(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def definition(quota: int, overall_threshold: int) -> call_pb2.CallDefinition:
    return call_pb2.CallDefinition(
        programme="clusters",
        closes_at=timestamp(CLOSES_AT),
        quota=quota,
        methodology=call_pb2.Methodology(
            criteria=[call_pb2.Criterion(id="cooperation", weight_percent=100, scale_max=5)],
            overall_threshold_percent=overall_threshold,
        ),
    )


def envelope(call_id: str, version: int, event_type: str, payload: bytes) -> Envelope:
    now = datetime.now(UTC)
    return Envelope(
        event_id=uuid.uuid4(),
        event_type=event_type,
        stream_id=f"call-{call_id}",
        stream_version=version,
        occurred_at=now,
        recorded_at=now,
        actor=Actor(subject="operator-1", role="operator"),
        correlation_id=str(uuid.uuid4()),
        causation_id=None,
        schema_version=1,
        payload=payload,
    )


async def test_the_methodology_route_answers_the_latest_terms_the_reaction_kept(
    http: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    call_id = f"terms-{uuid.uuid4().hex[:8]}"
    announced = events_pb2.CallAnnounced(call_id=call_id, call=definition(6, 60))
    amended = events_pb2.CallAmended(call_id=call_id, revision=2, call=definition(8, 70))
    closed = events_pb2.CallClosed(call_id=call_id, closed_at=timestamp(CLOSES_AT))
    effects = IntakeCallEvents(PostgresCallBook(SCHEMA)).effects()
    # The announcement arrives again after the amendment (a replay): it must not win.
    for event in [
        envelope(call_id, 1, CALL_ANNOUNCED, announced.SerializeToString()),
        envelope(call_id, 2, CALL_AMENDED, amended.SerializeToString()),
        envelope(call_id, 1, CALL_ANNOUNCED, announced.SerializeToString()),
        envelope(call_id, 3, CALL_CLOSED, closed.SerializeToString()),
    ]:
        async with pool.acquire() as conn, conn.transaction():
            await effects[event.event_type](conn, event)

    answer = await http.get(f"/v1/calls/{call_id}/methodology")

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "call_id": call_id,
        "call_version": 2,
        "closes_at": CLOSES_AT.isoformat(),
        "closed_at": CLOSES_AT.isoformat(),
        "quota": 8,
        "methodology": {
            "criteria": [{"id": "cooperation", "weight_percent": 100, "scale_max": 5}],
            "overall_threshold_percent": 70,
        },
    }


async def test_the_methodology_of_an_unknown_call_is_not_found(http: httpx.AsyncClient) -> None:
    answer = await http.get("/v1/calls/never-announced/methodology")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


async def test_the_methodology_route_refuses_an_applicant(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    token = mint_token(settings, Role.APPLICANT, "applicant-1", org="123456789012")
    answer = await http.get(
        "/v1/calls/any/methodology", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 403
