"""Scoring's screening and assignment on the real database: intake's events through the
reaction (delivered twice), the registry, the automatic assignment, declarations, the
content an expert may read, and the overdue timer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from konkurs.intake.v1 import application_pb2, call_pb2, events_pb2
from konkurs_platform.auth import Role, mint_token
from konkurs_platform.envelope import Actor, Envelope
from konkurs_platform.inbox import Inbox
from konkurs_platform.protobuf import to_timestamp
from konkurs_platform.settings import Settings
from konkurs_scoring.bootstrap import SCHEMA, create_app, event_store, intake_reaction
from konkurs_scoring.consumers.intake_events import CONSUMER

pytestmark = pytest.mark.integration

NOW = datetime(2030, 6, 1, 9, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def envelope(stream: str, version: int, message: object) -> Envelope:
    return Envelope(
        event_id=uuid.uuid4(),
        event_type=message.DESCRIPTOR.full_name,  # type: ignore[attr-defined]
        stream_id=stream,
        stream_version=version,
        occurred_at=NOW,
        recorded_at=NOW,
        actor=Actor(subject="intake", role="system"),
        correlation_id=str(uuid.uuid4()),
        causation_id=None,
        schema_version=2,
        payload=message.SerializeToString(),  # type: ignore[attr-defined]
    )


def call(call_id: str, *, blind: bool) -> events_pb2.CallAnnounced:
    return events_pb2.CallAnnounced(
        call_id=call_id,
        call=call_pb2.CallDefinition(
            closes_at=to_timestamp(NOW),
            quota=2,
            accepted_region_codes=["KZ-63", "KZ-75"],
            eligibility=call_pb2.EligibilityRules(min_participants=2),
            methodology=call_pb2.Methodology(
                experts_per_application=2, blind_applicants=blind, evaluation_days=10
            ),
        ),
    )


def submitted(
    call_id: str, n: int, region: str, bins: list[str]
) -> events_pb2.ApplicationSubmitted:
    return events_pb2.ApplicationSubmitted(
        application_id=f"{call_id}-app-{n}",
        call_id=call_id,
        registration_number=f"TC-{n:03d}",
        content=application_pb2.ApplicationContent(
            cluster=application_pb2.Cluster(
                name=f"Cluster {n}", region_code=region, primary_oked_code="31090"
            ),
            coordinator=application_pb2.Organisation(bin=bins[0], name="Coordinator LLP"),
            participants=[
                application_pb2.Participant(
                    bin=b, name=f"Member {b}", kind=application_pb2.PARTICIPANT_KIND_SME
                )
                for b in bins
            ],
            strategy_summary="Furniture from local timber.",
        ),
    )


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Clock]]:
    clock = Clock()
    app = create_app(settings, clock)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://scoring"
        ) as client:
            yield client, clock


def auth(settings: Settings, role: Role, subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, role, subject)}"}


async def deliver(settings: Settings, pool: asyncpg.Pool, events: list[Envelope]) -> None:
    """As `react` does: claim in the inbox and run the effect, one transaction per event."""
    effects = intake_reaction(event_store(pool, settings)).effects()
    inbox = Inbox(SCHEMA, CONSUMER)
    for event in events:
        async with pool.acquire() as conn, conn.transaction():
            if await inbox.claim(conn, event.event_id):
                await effects[event.event_type](conn, event)


async def test_screening_assignment_and_declarations_end_to_end_on_the_database(
    settings: Settings, pool: asyncpg.Pool, http: tuple[httpx.AsyncClient, Clock]
) -> None:
    client, clock = http
    call_id = f"s1-{uuid.uuid4().hex[:8]}"
    operator = auth(settings, Role.OPERATOR, "operator-1")
    apps = [
        submitted(call_id, 1, "KZ-63", ["100000000001", "100000000002"]),
        submitted(call_id, 2, "KZ-75", ["100000000003", "100000000004"]),
        # Outside the call's regions: screened ineligible.
        submitted(call_id, 3, "KZ-11", ["100000000005", "100000000006"]),
        # One participant: fails the minimum.
        submitted(call_id, 4, "KZ-63", ["100000000007"]),
    ]
    closed = events_pb2.CallClosed(call_id=call_id, closed_at=to_timestamp(NOW))
    events = [
        envelope(f"call-{call_id}", 1, call(call_id, blind=True)),
        *(envelope(f"application-{a.application_id}", 1, a) for a in apps[:3]),
        envelope(f"call-{call_id}", 2, closed),
        # Submitted before the close but delivered after it: screened on arrival.
        envelope(f"application-{apps[3].application_id}", 1, apps[3]),
    ]
    await deliver(settings, pool, events)
    # A redelivery (even past the inbox: new ids, same facts) changes nothing.
    count = "SELECT count(*) FROM scoring.events WHERE stream_id LIKE $1"
    async with pool.acquire() as conn:
        before = await conn.fetchval(count, f"screening-{call_id}-%")
    await deliver(settings, pool, events)
    await deliver(
        settings, pool, [e.__class__(**{**e.__dict__, "event_id": uuid.uuid4()}) for e in events]
    )
    async with pool.acquire() as conn:
        assert await conn.fetchval(count, f"screening-{call_id}-%") == before == 4

    screening = (await client.get(f"/v1/calls/{call_id}/screening", headers=operator)).json()
    assert screening["settled"] is True
    assert {a["application_id"][-5:]: a["eligible"] for a in screening["applications"]} == {
        "app-1": True,
        "app-2": True,
        "app-3": False,
        "app-4": False,
    }

    # Experts: e-aff works for a participant of app-1; e-63 is from app-1's region.
    registry = [
        ("e-aff", ["100000000001"], ["KZ-75"]),
        ("e-63", [], ["KZ-63"]),
        ("e-x", [], ["KZ-35"]),
        ("e-y", [], ["KZ-35"]),
    ]
    for expert_id, bins, regions in registry:
        answer = await client.post(
            "/v1/experts",
            json={"expert_id": expert_id, "name": f"Expert {expert_id}",
                  "affiliation_bins": bins, "region_codes": regions, "oked_sections": ["C"]},
            headers=operator,
        )  # fmt: skip
        assert answer.status_code == 201, answer.text
    # The name is sealed in the stored event, clear in the registry's answer.
    async with pool.acquire() as conn:
        payload = await conn.fetchval(
            "SELECT payload FROM scoring.events WHERE stream_id = 'expert-e-x'"
        )
    assert b"Expert e-x" not in payload
    expert_x = await client.get("/v1/experts/e-x", headers=operator)
    assert expert_x.json()["name"] == "Expert e-x"

    plan = await client.post(f"/v1/calls/{call_id}/assignments:auto", headers=operator)
    assert plan.status_code == 200, plan.text
    picks = {(p["application_id"][-5:], p["expert_id"]) for p in plan.json()["assigned"]}
    assert ("app-1", "e-aff") not in picks
    assert all(app in {"app-1", "app-2"} for app, _ in picks) and len(picks) == 4
    again = await client.post(f"/v1/calls/{call_id}/assignments:auto", headers=operator)
    assert again.json() == {"assigned": [], "shortfalls": []}

    app1 = apps[0].application_id
    panel = (await client.get(f"/v1/applications/{app1}/assignments", headers=operator)).json()
    expert = panel["assignments"][0]["expert_id"]
    as_expert = auth(settings, Role.EXPERT, expert)
    # No content before the declaration.
    refused = await client.get(f"/v1/applications/{app1}/content", headers=as_expert)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    declared = await client.post(
        f"/v1/applications/{app1}/declaration", json={"conflict": False}, headers=as_expert
    )
    assert declared.status_code == 200, declared.text
    content = (await client.get(f"/v1/applications/{app1}/content", headers=as_expert)).json()
    # Blind: the content without names or BINs.
    assert content["blind"] is True and "registration_number" not in content
    assert "coordinator" not in content["content"]
    assert all("bin" not in p and "name" not in p for p in content["content"]["participants"])
    assert "name" not in content["content"]["cluster"]
    # Operators read it whole.
    whole = (await client.get(f"/v1/applications/{app1}/content", headers=operator)).json()
    assert whole["content"]["coordinator"]["bin"] == "100000000001"

    # The other expert declares a conflict: unassigned, replaced by the same rules.
    other = panel["assignments"][1]["expert_id"]
    conflict = await client.post(
        f"/v1/applications/{app1}/declaration",
        json={"conflict": True, "nature": "My brother directs the coordinator."},
        headers=auth(settings, Role.EXPERT, other),
    )
    assert conflict.status_code == 200, conflict.text
    replacement = conflict.json()["replacement"]["assigned"]
    assert len(replacement) == 1 and replacement[0]["expert_id"] not in (other, "e-aff")
    active = {a["expert_id"] for a in conflict.json()["assignments"] if a["active"]}
    assert other not in active and "e-aff" not in active and len(active) == 2

    # A withdrawal delivered after the close releases the panel.
    app2 = apps[1].application_id
    await deliver(
        settings,
        pool,
        [envelope(f"application-{app2}", 2, events_pb2.ApplicationWithdrawn(
            application_id=app2, reason="merged with another cluster"))],
    )  # fmt: skip
    released = (await client.get(f"/v1/applications/{app2}/assignments", headers=operator)).json()
    assert not any(a["active"] for a in released["assignments"])

    # The due time passes: the timer flags the assignment overdue, then it can be reassigned.
    clock.now = NOW + timedelta(days=11)
    service = client._transport.app.state.scoring  # type: ignore[attr-defined]
    fired = await service.clock_service.fire_due()
    assert any(t.stream_id == f"assignment-{app1}" for t in fired)
    flagged = (await client.get(f"/v1/applications/{app1}/assignments", headers=operator)).json()
    assert all(a["overdue"] for a in flagged["assignments"] if a["active"])
    reassigned = await client.post(
        f"/v1/applications/{app1}/assignments/{expert}:reassign",
        json={"reason": "No evaluation ten days after the due time."},
        headers=operator,
    )
    assert reassigned.status_code == 200, reassigned.text
    assert not next(a for a in reassigned.json()["assignments"] if a["expert_id"] == expert)[
        "active"
    ]
