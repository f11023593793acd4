"""The 2017 commission as demo data: intake's and scoring's demos, the commission's reaction
to their events (as its worker applies them), then the commission's demo, which waits for
the ranking; loaded twice, recorded once: nine members, quorum, one automatic recusal, six
selected with a departure from the ranking and its rationale, the decision published, one
appeal lodged and rejected, all at 2017 times."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from konkurs_commission import demo
from konkurs_commission.bootstrap import SCHEMA, build
from konkurs_commission.consumers.reactions import INTAKE_CONSUMER, SCORING_CONSUMER, Reactions
from konkurs_platform.envelope import Envelope
from konkurs_platform.eventstore import EventStore
from konkurs_platform.inbox import Inbox
from konkurs_platform.reaction import Effect
from konkurs_platform.settings import Settings
from konkurs_scoring import demo as scoring_demo
from tests.integration.test_scoring_demo import deliver_intake_events

pytestmark = pytest.mark.integration

CALL_ID = demo.CALL_ID


async def apply(
    pool: asyncpg.Pool, consumer: str, effects: dict[str, Effect], events: list[Envelope]
) -> None:
    """Each event through the commission's reaction as the worker applies it: inbox claim
    and effect in one transaction."""
    inbox = Inbox(SCHEMA, consumer)
    for event in events:
        async with pool.acquire() as conn, conn.transaction():
            if await inbox.claim(conn, event.event_id) and event.event_type in effects:
                await effects[event.event_type](conn, event)


async def deliver(settings: Settings, pool: asyncpg.Pool) -> None:
    """Intake's 2017 events, then scoring's ranking, to the commission's reactions."""
    intake = EventStore(pool, "intake", settings.events_topic("intake"))
    scoring = EventStore(pool, "scoring", settings.events_topic("scoring"))
    async with pool.acquire() as conn:
        streams = [
            r["stream_id"]
            for r in await conn.fetch(
                "SELECT 'application-' || application_id AS stream_id "
                "FROM intake.applications_index WHERE call_id = $1",
                CALL_ID,
            )
        ]
    intake_events = await intake.load(f"call-{CALL_ID}")
    for stream in streams:
        intake_events += await intake.load(stream)
    reactions = Reactions(build(pool, settings))
    await apply(pool, INTAKE_CONSUMER, reactions.intake_effects(), intake_events)
    ranking = await scoring.load(f"ranking-{CALL_ID}")
    await apply(pool, SCORING_CONSUMER, reactions.scoring_effects(), ranking)


@pytest.fixture
async def loaded(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[int]:
    """The three demos loaded, the commission's started before its worker learned anything;
    yields the number of the commission's events after the first load."""
    from konkurs_intake.bootstrap import load_demo as load_intake_demo

    await load_intake_demo(settings)
    scoring = asyncio.create_task(scoring_demo.load(settings))
    await deliver_intake_events(settings, pool)
    await asyncio.wait_for(scoring, timeout=300)
    commission = asyncio.create_task(demo.load(settings))
    await deliver(settings, pool)
    await asyncio.wait_for(commission, timeout=120)
    async with pool.acquire() as conn:
        yield await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.events")


async def test_the_2017_commission_selects_six_with_a_rationale_and_rejects_one_appeal_once(
    settings: Settings, pool: asyncpg.Pool, loaded: int
) -> None:
    await demo.load(settings)
    commission = build(pool, settings)
    async with pool.acquire() as conn:
        assert await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.events") == loaded
        meeting, _ = await commission.meeting(conn, demo.MEETING_ID)
        appeal, _ = await commission.appeal(conn, demo.APPEAL_ID)
        events = await conn.fetch(
            f"SELECT event_type, occurred_at, imported FROM {SCHEMA}.events "
            "WHERE correlation_id = $1",
            f"demo-load:{CALL_ID}",
        )
        timers = await conn.fetchval(
            f"SELECT count(*) FROM {SCHEMA}.timers WHERE done_at IS NULL AND stream_id = $1",
            f"meeting-{demo.MEETING_ID}",
        )
    scheduled = meeting.scheduled
    assert scheduled is not None and meeting.opened is not None
    assert len(scheduled.members) == 9 and scheduled.quota == 6
    assert meeting.opened.quorum_required == 6 and meeting.quorum_met
    assert [(m, a) for m, a in meeting.recusals] == [
        (demo.AFFILIATED, scheduled.candidates[2].application_id)
    ]
    published = meeting.published
    assert published is not None
    selected = [s.application_id for s in published.selected]
    ranked = [c.application_id for c in scheduled.candidates]
    assert len(selected) == 6
    # The sixth-placed cluster is declined, the seventh selected with the rationale.
    assert ranked[5] not in selected and ranked[6] in selected
    seventh = next(s for s in published.selected if s.application_id == ranked[6])
    assert seventh.rationale == demo.RATIONALE
    assert published.reserve_application_ids[0] == ranked[5]
    assert appeal.decided and appeal.lodged is not None
    assert appeal.lodged.application_id == ranked[5]
    assert meeting.window_closed and timers == 0
    types = Counter(e["event_type"].rsplit(".", 1)[1] for e in events)
    assert types["ClusterSelected"] == 6 and types["AppealRejected"] == 1
    assert types["MinutesApproved"] == 2 and types["DecisionPublished"] == 1
    assert all(e["imported"] for e in events)
    assert all(
        datetime(2017, 7, 1, tzinfo=UTC) <= e["occurred_at"] < datetime(2017, 10, 1, tzinfo=UTC)
        for e in events
    )
