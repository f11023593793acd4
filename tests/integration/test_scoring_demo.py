"""The 2017 programme's evaluation as demo data: intake's demo, scoring's reaction to its
events (as the worker applies them), then scoring's demo, which waits for the screening;
loaded twice, recorded once, three applications failing a rule of the call, one of them
overridden to eligible, and the ranking published for the eligible applications."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from konkurs_intake.bootstrap import load_demo as load_intake_demo
from konkurs_platform.auth import Role, mint_token
from konkurs_platform.eventstore import EventStore
from konkurs_platform.inbox import Inbox
from konkurs_platform.settings import Settings
from konkurs_scoring import demo
from konkurs_scoring.app import assignment
from konkurs_scoring.bootstrap import (
    SCHEMA,
    create_app,
    event_store,
    intake_reaction,
    screenings_of,
)
from konkurs_scoring.consumers.intake_events import CONSUMER

pytestmark = pytest.mark.integration

CALL_ID = "kz-clusters-2017"
# Intake's demo: three applications fail one rule of the call each; the one whose strategy
# was filed on paper is overridden to eligible, the other two stay ineligible.
FAILED = {
    ("min_sme_share_percent",): 1,
    ("university_or_research",): 1,
    ("required_documents",): 1,
}
INELIGIBLE = 2
EVALUATED = demo.APPLICATIONS - INELIGIBLE


async def deliver_intake_events(settings: Settings, pool: asyncpg.Pool) -> None:
    """Intake's events of the 2017 call through scoring's reaction, as the worker applies
    them (inbox claim and effect, one transaction per event): the call announced, half the
    applications, the close, the other half (those arrive after the close, as they may from
    other partitions)."""
    intake = EventStore(pool, "intake", settings.events_topic("intake"))
    async with pool.acquire() as conn:
        streams = [
            r["stream_id"]
            for r in await conn.fetch(
                "SELECT 'application-' || application_id AS stream_id "
                "FROM intake.applications_index WHERE call_id = $1 ORDER BY registration_number",
                CALL_ID,
            )
        ]
    announced, *closed = await intake.load(f"call-{CALL_ID}")
    events = [announced]
    for n, stream in enumerate(streams):
        if n == len(streams) // 2:
            events += closed
        events += await intake.load(stream)
    effects = intake_reaction(event_store(pool, settings)).effects()
    inbox = Inbox(SCHEMA, CONSUMER)
    for event in events:
        async with pool.acquire() as conn, conn.transaction():
            if await inbox.claim(conn, event.event_id) and event.event_type in effects:
                await effects[event.event_type](conn, event)


@pytest.fixture
async def loaded(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[int]:
    """Both demos loaded, scoring's started before the worker delivered anything; yields
    the number of scoring's events after the first load."""
    await load_intake_demo(settings)
    scoring = asyncio.create_task(demo.load(settings))
    await deliver_intake_events(settings, pool)
    await asyncio.wait_for(scoring, timeout=120)
    async with pool.acquire() as conn:
        yield await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.events")


async def test_the_2017_evaluation_screens_out_rule_failures_once_and_publishes_the_ranking(
    settings: Settings, pool: asyncpg.Pool, loaded: int
) -> None:
    await demo.load(settings)
    screenings = screenings_of(assignment.build(event_store(pool, settings)))
    async with pool.acquire() as conn:
        assert await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.events") == loaded
        screening = await conn.fetch(
            f"SELECT s.application_id, s.eligible, s.overridden FROM {SCHEMA}.screening s "
            f"JOIN {SCHEMA}.applications a USING (application_id) WHERE a.call_id = $1",
            CALL_ID,
        )
        assessed = {
            r["application_id"]: (await screenings.load(r["application_id"], conn)).state
            for r in screening
        }
        assignments = await conn.fetch(
            f"SELECT application_id, expert_id, declared, active, overdue, completed "
            f"FROM {SCHEMA}.assignments WHERE call_id = $1",
            CALL_ID,
        )
        events = await conn.fetch(
            "SELECT stream_id, event_type, occurred_at, imported, actor_subject "
            f"FROM {SCHEMA}.events WHERE correlation_id = $1",
            f"demo-load:{CALL_ID}",
        )
        timers = await conn.fetchval(
            f"SELECT count(*) FROM {SCHEMA}.timers WHERE stream_id LIKE 'assignment-%' "
            "AND done_at IS NULL AND stream_id = ANY($1::text[])",
            [f"assignment-{a['application_id']}" for a in assignments],
        )
    # Screened by the call's rules: three fail one rule each, the others pass every rule; the
    # one missing a document filed on paper is overridden to eligible, its failed assessment
    # kept, and the two others stay ineligible.
    assert len(screening) == demo.APPLICATIONS
    failed = {
        a: tuple(r.rule for r in state.results if not r.passed) for a, state in assessed.items()
    }
    assert Counter(rules for rules in failed.values() if rules) == FAILED
    overridden = [r["application_id"] for r in screening if r["overridden"]]
    assert [failed[a] for a in overridden] == [("required_documents",)]
    assert Counter((r["eligible"], r["overridden"]) for r in screening) == {
        (True, False): demo.APPLICATIONS - len(FAILED),
        (True, True): 1,
        (False, False): INELIGIBLE,
    }
    ineligible = {r["application_id"] for r in screening if not r["eligible"]}
    assert ineligible == {a for a, rules in failed.items() if rules} - set(overridden)
    # Three experts on each eligible application, declared and submitted, none overdue; none
    # on an ineligible one.
    active = [a for a in assignments if a["active"]]
    per_application = Counter(a["application_id"] for a in active)
    assert len(per_application) == EVALUATED
    assert not ineligible & {a["application_id"] for a in assignments}
    assert set(per_application.values()) == {3}
    assert all(a["declared"] == "no_conflict" and a["completed"] for a in active)
    assert not any(a["overdue"] for a in assignments)
    assert timers == 0
    # One conflict declared, its expert replaced.
    conflicted = [a for a in assignments if a["declared"] == "conflict"]
    assert len(conflicted) == 1 and not conflicted[0]["active"]
    types = Counter(e["event_type"].rsplit(".", 1)[1] for e in events)
    assert types["ConflictDeclared"] == 1
    assert types["ExpertRegistered"] == len(demo.POOL)
    assert types["EligibilityOverridden"] == 1
    assert types["EvaluationSubmitted"] == 3 * EVALUATED
    # Three panels diverge: their rapporteurs record consensus reports.
    assert types["ConsensusRequired"] == types["ConsensusRecorded"] == 3
    assert types["RankingPublished"] == 1
    assert "AssignmentOverdue" not in types
    # The demo's commands recorded as history, in the summer of 2017; the screening, the
    # worker's reaction to intake's imported events, is history too, dated by its cause.
    history = [e for e in events if not e["actor_subject"].startswith("system:")]
    caused = [e for e in events if e["actor_subject"].startswith("system:")]
    assert caused and all(e["imported"] for e in events)
    assert all(
        datetime(2017, 6, 1, tzinfo=UTC) <= e["occurred_at"] < datetime(2017, 10, 1, tzinfo=UTC)
        for e in history
    )
    assert all(
        datetime(2017, 4, 1, tzinfo=UTC) <= e["occurred_at"] < datetime(2017, 7, 1, tzinfo=UTC)
        for e in caused
    )
    assert types["EligibilityAssessed"] == demo.APPLICATIONS


async def test_the_2017_ranking_is_served_and_no_expert_evaluates_where_affiliated(
    settings: Settings, pool: asyncpg.Pool, loaded: int
) -> None:
    app = create_app(settings)
    token = mint_token(settings, Role.OPERATOR, "operator-1")
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://scoring"
        ) as client:
            answer = await client.get(
                f"/v1/calls/{CALL_ID}/ranking", headers={"Authorization": f"Bearer {token}"}
            )
    assert answer.status_code == 200, answer.text
    entries = answer.json()["entries"]
    assert [e["rank"] for e in entries] == list(range(1, len(entries) + 1))
    assert len(entries) == EVALUATED
    # The affiliated expert never evaluates the application of the organisation they served.
    async with pool.acquire() as conn:
        affiliated = await conn.fetchval(
            f"SELECT count(*) FROM {SCHEMA}.assignments x JOIN {SCHEMA}.applications a "
            "USING (application_id) JOIN scoring.experts e USING (expert_id) "
            "WHERE x.call_id = $1 AND a.coordinator_bin = ANY(e.affiliation_bins)",
            CALL_ID,
        )
    assert affiliated == 0
