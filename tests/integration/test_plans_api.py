"""Plan tracking's reaction and HTTP API on the real PostgreSQL: ClusterSelected opens a
plan once however often it arrives; only the plan's coordinator drafts, submits, reports and
reads it among applicants; the operator returns and approves; an amendment is a new version
with its reason and every version stays readable, with the plan as it stood at any time; a
report is returned, submitted again and accepted, and counts in the figures.

ClusterSelected events are made here and handed to the reaction as the worker's agent does
(inbox claim and effect in one transaction): the commission is being built at the same time.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from konkurs.commission.v1 import events_pb2
from konkurs_plans.adapters.codec import PLAN_OPENED
from konkurs_plans.bootstrap import SCHEMA, commission_reaction, create_app, plans_of
from konkurs_plans.consumers.commission_events import CONSUMER
from konkurs_platform.auth import Role, mint_token
from konkurs_platform.envelope import Actor, Envelope
from konkurs_platform.inbox import Inbox
from konkurs_platform.protobuf import to_timestamp
from konkurs_platform.settings import Settings

pytestmark = pytest.mark.integration

CALL_ID = "kz-clusters-2017"
COORDINATOR = "170440000017"
OTHER = "170440000025"
SELECTED_AT = datetime(2017, 7, 14, 10, tzinfo=UTC)


def cluster_selected(
    application_id: str,
    coordinator_bin: str = COORDINATOR,
    *,
    at: datetime = SELECTED_AT,
    imported: bool = False,
    event_id: uuid.UUID | None = None,
) -> Envelope:
    """A ClusterSelected of the 2017 call, as the commission's relay publishes it."""
    payload = events_pb2.ClusterSelected(
        call_id=CALL_ID,
        application_id=application_id,
        registration_number=f"KZ-2017-{application_id[:6]}",
        cluster_name=f"Кластер {application_id[:6]} (иллюстративный)",
        region_code="KZ-75",
        coordinator_bin=coordinator_bin,
        rank=1,
        meeting_id="meeting-1",
        selected_at=to_timestamp(at),
    ).SerializeToString()
    return Envelope(
        event_id=event_id or uuid.uuid4(),
        event_type=events_pb2.ClusterSelected.DESCRIPTOR.full_name,
        stream_id=f"selection-{CALL_ID}",
        stream_version=1,
        occurred_at=at,
        recorded_at=at,
        actor=Actor("system:commission", "system"),
        correlation_id=f"test-{uuid.uuid4()}",
        causation_id=None,
        schema_version=1,
        payload=payload,
        imported=imported,
    )


async def deliver(pool: asyncpg.Pool, settings: Settings, *envelopes: Envelope) -> None:
    """The envelopes through plan tracking's reaction, as the worker applies them when they
    arrive (at their own time: the tests' clocks stand in 2017)."""
    inbox = Inbox(SCHEMA, CONSUMER)
    for envelope in envelopes:
        at = envelope.occurred_at
        plans = plans_of(pool, settings, lambda at=at: at)  # type: ignore[misc]
        effects = commission_reaction(plans).effects()
        async with pool.acquire() as conn, conn.transaction():
            if await inbox.claim(conn, envelope.event_id):
                await effects[envelope.event_type](conn, envelope)


class Clock:
    """The time of the API's commands and timers, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Api:
    client: httpx.AsyncClient
    clock: Clock
    settings: Settings
    app: Any

    def as_(self, role: Role, org: str | None = None) -> dict[str, str]:
        token = mint_token(self.settings, role, f"{role.value}-1", org=org)
        return {"Authorization": f"Bearer {token}"}

    @property
    def coordinator(self) -> dict[str, str]:
        return self.as_(Role.APPLICANT, COORDINATOR)

    @property
    def operator(self) -> dict[str, str]:
        return self.as_(Role.OPERATOR)


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    clock = Clock(datetime(2017, 8, 1, 4, tzinfo=UTC))
    app = create_app(settings, clock)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://plans"
        ) as client:
            yield Api(client, clock, settings, app)


def content(members_q4: str = "14", *, strategy_due: str = "2017-12-31") -> dict[str, Any]:
    """A small plan: two milestones, one indicator, one support measure."""
    return {
        "summary": "Illustrative plan.",
        "milestones": [
            {
                "milestone_id": "diagnostics-report",
                "title": "Diagnostics report",
                "phase_id": "diagnostics",
                "owner": COORDINATOR,
                "due_on": "2017-09-30",
            },
            {
                "milestone_id": "strategy",
                "title": "Strategy adopted",
                "phase_id": "organisation",
                "owner": COORDINATOR,
                "due_on": strategy_due,
            },
        ],
        "indicators": [
            {
                "code": "members",
                "name": "Members",
                "unit": "organisations",
                "direction": "increasing",
                "baseline_year": 2016,
                "baseline_value": "10",
                "targets": [
                    {"period_id": "2017-Q3", "value": "12"},
                    {"period_id": "2017-Q4", "value": members_q4},
                ],
            }
        ],
        "support_measures": [
            {
                "measure_id": "co-financing",
                "kind": "co-financing of a cluster organisation",
                "amount": "1000000.00",
                "budget_source": "republican budget",
                "planned": [{"on": "2017-10-15", "amount": "400000.00"}],
            }
        ],
    }


async def opened_plan(pool: asyncpg.Pool, settings: Settings) -> str:
    """A plan opened by a ClusterSelected of this test's own."""
    plan_id = str(uuid.uuid4())
    await deliver(pool, settings, cluster_selected(plan_id))
    return plan_id


async def approved_plan(api: Api, pool: asyncpg.Pool) -> str:
    """A plan drafted, submitted and approved through the API at the clock's time."""
    plan_id = await opened_plan(pool, api.settings)
    c = api.client
    drafted = await c.put(
        f"/v1/plans/{plan_id}/draft", json={"content": content()}, headers=api.coordinator
    )
    assert drafted.status_code == 200, drafted.text
    assert (await c.post(f"/v1/plans/{plan_id}/draft:submit", headers=api.coordinator)).is_success
    approved = await c.post(f"/v1/plans/{plan_id}/draft:approve", headers=api.operator)
    assert approved.status_code == 200, approved.text
    return plan_id


async def test_a_redelivered_or_repeated_cluster_selected_opens_no_second_plan(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    plan_id = str(uuid.uuid4())
    selected = cluster_selected(plan_id)
    await deliver(pool, settings, selected, selected)
    # Past the inbox (its row pruned, or another path): the derived event id holds.
    effects = commission_reaction(plans_of(pool, settings)).effects()
    async with pool.acquire() as conn, conn.transaction():
        await effects[selected.event_type](conn, selected)
    # A second selection event of the same cluster (from the reserve, say) finds the plan.
    await deliver(pool, settings, cluster_selected(plan_id))
    async with pool.acquire() as conn:
        events = await conn.fetch(
            f"SELECT event_type, causation_id FROM {SCHEMA}.events WHERE stream_id = $1",
            f"plan-{plan_id}",
        )
        indexed = await conn.fetchval(
            f"SELECT count(*) FROM {SCHEMA}.plans WHERE plan_id = $1", plan_id
        )
    assert [(e["event_type"], e["causation_id"]) for e in events] == [
        (PLAN_OPENED, str(selected.event_id))
    ]
    assert indexed == 1
    plan = (await plans_of(pool, settings).load(plan_id)).state
    assert plan.opened.time_zone == "Asia/Almaty"  # type: ignore[union-attr]
    assert [p.period_id for p in plan.opened.periods][-1] == "2019-Q4"  # type: ignore[union-attr]


async def test_only_the_plans_coordinator_edits_and_reads_it_among_applicants(
    api: Api, pool: asyncpg.Pool
) -> None:
    plan_id = await opened_plan(pool, api.settings)
    c, url = api.client, f"/v1/plans/{plan_id}/draft"
    stranger = api.as_(Role.APPLICANT, OTHER)
    for headers in (stranger, api.operator, api.as_(Role.ADMIN)):
        refused = await c.put(url, json={"content": content()}, headers=headers)
        assert refused.status_code == 403, refused.text
    assert (await c.get(f"/v1/plans/{plan_id}", headers=stranger)).status_code == 403
    listed = await c.get("/v1/plans", headers=stranger)
    assert plan_id not in {p["plan_id"] for p in listed.json()["plans"]}
    drafted = await c.put(url, json={"content": content()}, headers=api.coordinator)
    assert drafted.status_code == 200, drafted.text
    assert drafted.json()["pending"]["status"] == "draft"
    assert (await c.post(f"{url}:submit", headers=stranger)).status_code == 403
    for role in (Role.ANALYST, Role.AUDITOR, Role.OPERATOR):
        seen = await c.get(f"/v1/plans/{plan_id}", headers=api.as_(role))
        assert seen.status_code == 200, (role, seen.text)
    mine = await c.get("/v1/plans", headers=api.coordinator)
    assert plan_id in {p["plan_id"] for p in mine.json()["plans"]}
    async with pool.acquire() as conn:
        count = await conn.fetchval(
            f"SELECT count(*) FROM {SCHEMA}.events WHERE stream_id = $1", f"plan-{plan_id}"
        )
    assert count == 2  # opened and drafted: the refusals left nothing


async def test_the_operator_returns_a_version_with_comments_and_approves_it_resubmitted(
    api: Api, pool: asyncpg.Pool
) -> None:
    plan_id = await opened_plan(pool, api.settings)
    c, url = api.client, f"/v1/plans/{plan_id}/draft"
    await c.put(url, json={"content": content()}, headers=api.coordinator)
    assert (await c.post(f"{url}:approve", headers=api.operator)).status_code == 409
    submitted = await c.post(f"{url}:submit", headers=api.coordinator)
    assert submitted.json()["pending"]["status"] == "submitted"
    assert (
        await c.put(url, json={"content": content()}, headers=api.coordinator)
    ).status_code == 409
    comments = {"comments": "Set a 2017-Q4 target of at least 15 members."}
    assert (
        await c.post(f"{url}:return", json=comments, headers=api.coordinator)
    ).status_code == 403
    returned = await c.post(f"{url}:return", json=comments, headers=api.operator)
    assert returned.json()["pending"] == {
        **returned.json()["pending"],
        "status": "draft",
        "comments": [comments["comments"]],
    }
    redrafted = await c.put(url, json={"content": content("15")}, headers=api.coordinator)
    await c.post(f"{url}:submit", headers=api.coordinator)
    stale = await c.post(
        f"{url}:approve", headers={**api.operator, "If-Match": redrafted.headers["ETag"]}
    )
    assert stale.status_code == 412
    approved = await c.post(f"{url}:approve", headers=api.operator)
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["pending"] is None and body["approved"]["version"] == 1
    assert body["approved"]["content"]["indicators"][0]["targets"][1]["value"] == "15"
    assert body["approved"]["effective_from"] == api.clock.now.isoformat()


async def test_an_amendment_keeps_every_version_and_the_as_of_view_shows_what_held_then(
    api: Api, pool: asyncpg.Pool
) -> None:
    plan_id = await approved_plan(api, pool)
    first_approved = api.clock.now
    c, url = api.client, f"/v1/plans/{plan_id}/draft"
    api.clock.now = first_approved + timedelta(days=60)
    without_reason = await c.put(
        url, json={"content": content(strategy_due="2018-03-31")}, headers=api.coordinator
    )
    assert without_reason.status_code == 422
    assert [e["pointer"] for e in without_reason.json()["errors"]] == ["/reason"]
    reason = "The strategy waits for the regional akimat's programme, adopted in March 2018."
    amendment = {"content": content(strategy_due="2018-03-31"), "reason": reason}
    assert (await c.put(url, json=amendment, headers=api.coordinator)).status_code == 200
    await c.post(f"{url}:submit", headers=api.coordinator)
    api.clock.now = first_approved + timedelta(days=70)
    assert (await c.post(f"{url}:approve", headers=api.operator)).status_code == 200

    versions = (await c.get(f"/v1/plans/{plan_id}/versions", headers=api.as_(Role.AUDITOR))).json()
    assert [(v["version"], v["status"], v["reason"]) for v in versions["versions"]] == [
        (1, "approved", ""),
        (2, "approved", reason),
    ]
    v1 = await c.get(f"/v1/plans/{plan_id}/versions/1", headers=api.coordinator)
    assert v1.json()["content"]["milestones"][1]["due_on"] == "2017-12-31"

    async def as_of(moment: datetime) -> httpx.Response:
        return await c.get(
            f"/v1/plans/{plan_id}", params={"as_of": moment.isoformat()}, headers=api.operator
        )

    before = await as_of(first_approved - timedelta(days=30))
    assert before.status_code == 404
    between = (await as_of(first_approved + timedelta(days=65))).json()
    assert between["approved"]["version"] == 1 and between["pending"]["version"] == 2
    assert between["approved"]["content"]["milestones"][1]["due_on"] == "2017-12-31"
    after = (await as_of(first_approved + timedelta(days=71))).json()
    assert after["approved"]["version"] == 2 and after["pending"] is None
    assert after["approved"]["content"]["milestones"][1]["due_on"] == "2018-03-31"
    naive = await c.get(
        f"/v1/plans/{plan_id}", params={"as_of": "2017-10-01T00:00:00"}, headers=api.operator
    )
    assert naive.status_code == 422
    events = await c.get(f"/v1/plans/{plan_id}/events", headers=api.as_(Role.AUDITOR))
    assert [e["event_type"].rsplit(".", 1)[1] for e in events.json()["events"]] == [
        "PlanOpened",
        "PlanDrafted",
        "PlanSubmitted",
        "PlanApproved",
        "PlanDrafted",
        "PlanSubmitted",
        "PlanApproved",
    ]
    assert (
        await c.get(f"/v1/plans/{plan_id}/events", headers=api.as_(Role.ANALYST))
    ).status_code == 403


async def test_a_report_is_returned_submitted_again_accepted_and_counts_in_the_figures(
    api: Api, pool: asyncpg.Pool
) -> None:
    plan_id = await approved_plan(api, pool)
    c, url = api.client, f"/v1/plans/{plan_id}/reports/2017-Q3"
    report = {
        "actuals": [{"code": "members", "value": "11", "evidence_sha256": ["b" * 64]}],
        "milestones": [
            {"milestone_id": "diagnostics-report", "status": "met", "met_on": "2017-09-28"}
        ],
        "disbursements": [],
        "narrative": "Diagnostics done; one member joined (illustrative).",
    }
    early = await c.put(url, json=report, headers=api.coordinator)
    assert early.status_code == 409  # 2017-Q3 has not ended on 2017-08-01
    # The period's last day, in the evening in Almaty: the report is in before the milestone's
    # due date passes, so its timer is cancelled, not fired.
    api.clock.now = datetime(2017, 9, 30, 12, tzinfo=UTC)
    assert (
        await c.put(url, json=report, headers=api.as_(Role.APPLICANT, OTHER))
    ).status_code == 403
    submitted = await c.put(url, json=report, headers=api.coordinator)
    assert submitted.status_code == 200, submitted.text
    returned = await c.post(
        f"{url}:return", json={"comments": "Attach the members' register."}, headers=api.operator
    )
    assert returned.status_code == 200
    assert (await c.get(url, headers=api.coordinator)).json()["status"] == "returned"
    report["actuals"][0]["evidence_sha256"] = ["b" * 64, "c" * 64]
    again = await c.put(url, json=report, headers=api.coordinator)
    assert again.status_code == 200, again.text
    accepted = await c.post(f"{url}:accept", headers=api.operator)
    assert accepted.status_code == 200, accepted.text
    seen = (await c.get(url, headers=api.as_(Role.ANALYST))).json()
    assert seen["status"] == "accepted" and seen["comments"] == ["Attach the members' register."]
    assert seen["actuals"][0]["evidence_sha256"] == ["b" * 64, "c" * 64]
    plan = accepted.json()
    assert {m["milestone_id"]: m["status"] for m in plan["milestones"]} == {
        "diagnostics-report": "met",
        "strategy": "scheduled",
    }
    figures = await c.get(
        f"/v1/plans/{plan_id}/progress", params={"on": "2017-10-20"}, headers=api.as_(Role.ANALYST)
    )
    assert figures.json()["attainment"] == [
        {
            "code": "members",
            "period_id": "2017-Q3",
            "target": "12",
            "actual": "11",
            "attainment": "0.5000",
        }
    ]
    # At half the way to the target the plan is at risk; nothing is overdue yet.
    assert figures.json()["status"] == "at_risk"
    assert figures.json()["budget"]["overall"] == "0.0000"
    assert figures.json()["budget"]["to_date"] == "0.0000"
