"""The 2017 programme as demo data: loaded once, through the historical-import path."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest

from konkurs_intake import demo
from konkurs_intake.app.applications import Applications, Authorise, Submission
from konkurs_intake.app.calls import Calls
from konkurs_intake.bootstrap import load_demo
from konkurs_intake.demo import CALL_ID, CLOSES_AT, SKETCHES, content
from konkurs_intake.domain.applications import ApplicationState
from konkurs_intake.domain.identifiers import bin_problem
from konkurs_intake.spec import SPEC
from konkurs_platform.db import Connection, migrate_service
from konkurs_platform.eventstore import Metadata
from konkurs_platform.handler import Outcome
from konkurs_platform.personal.store import SealingEventStore
from konkurs_platform.settings import Settings

pytestmark = pytest.mark.integration

PRESS_RELEASE = {
    "KZ-75": 4, "KZ-51": 1, "KZ-11": 2, "KZ-63": 3, "KZ-47": 1, "KZ-39": 2,
    "KZ-55": 3, "KZ-35": 2, "KZ-19": 1, "KZ-27": 1, "KZ-31": 1,
}  # fmt: skip


def test_the_demo_applications_have_valid_bins_and_the_press_release_distribution() -> None:
    assert Counter(s.region for s in SKETCHES) == PRESS_RELEASE
    for n, sketch in enumerate(SKETCHES):
        c = content(n, sketch)
        bins = [c.coordinator.bin, *(p.bin for p in c.participants)]
        assert all(bin_problem(b) is None for b in bins)
        assert len(set(bins)) == len(bins)


async def test_loading_the_demo_twice_records_the_2017_competition_once(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    await load_demo(settings)
    await load_demo(settings)
    async with pool.acquire() as conn:
        events = await conn.fetch(
            "SELECT stream_id, event_type, occurred_at, imported, actor_subject "
            "FROM intake.events WHERE stream_id = $1 OR stream_id IN "
            "(SELECT 'application-' || application_id FROM intake.applications_index "
            " WHERE call_id = $2)",
            f"call-{CALL_ID}",
            CALL_ID,
        )
        regions = await conn.fetch(
            "SELECT region_code, registration_number FROM intake.applications_index "
            "WHERE call_id = $1",
            CALL_ID,
        )
    types = Counter(e["event_type"].rsplit(".", 1)[1] for e in events)
    assert types == {"CallAnnounced": 1, "ApplicationSubmitted": 21, "CallClosed": 1}
    # Closed by the loader, in the load's one transaction: the intake clock of another
    # test's app never saw the call open.
    assert all(e["imported"] and e["actor_subject"] == "demo-loader" for e in events)
    astana = timezone(timedelta(hours=6))
    window = (datetime(2017, 4, 10, tzinfo=astana), datetime(2017, 6, 9, tzinfo=astana))
    assert all(window[0] <= e["occurred_at"] <= window[1] for e in events)
    assert Counter(r["region_code"] for r in regions) == PRESS_RELEASE
    almaty = sorted(r["registration_number"] for r in regions if r["region_code"] == "KZ-75")
    assert almaty == [f"KZ-75-2017-{n:04d}" for n in range(1, 5)]


@dataclass
class CrashingApplications(Applications):
    """Intake's applications, failing at the `crash_at`-th submission as a crash would."""

    crash_at: int = 0

    async def handle_submit_application(
        self,
        submission: Submission,
        now: datetime,
        meta: Metadata,
        conn: Connection,
        authorise: Authorise | None = None,
    ) -> Outcome[ApplicationState]:
        self.crash_at -= 1
        if self.crash_at == 0:
            raise ConnectionResetError("the loader's connection was lost")
        return await super().handle_submit_application(submission, now, meta, conn, authorise)


async def test_a_load_interrupted_half_way_leaves_nothing_so_the_clock_never_closes_it_first(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    """Announced alone, the 2017 call's long-due close timer would close it at once, dated
    today and before its applications; the load is one transaction, so it never is."""
    schema = f"intake_{uuid.uuid4().hex[:8]}"
    await migrate_service(settings, SPEC, schema=schema)
    store = SealingEventStore(pool, schema, settings.events_topic("intake"))
    calls = Calls(store)
    with pytest.raises(ConnectionResetError):
        await demo.load(
            pool, calls, CrashingApplications(store, calls, crash_at=len(SKETCHES) // 2)
        )
    async with pool.acquire() as conn:
        assert await conn.fetchval(f"SELECT count(*) FROM {schema}.events") == 0
        assert await conn.fetchval(f"SELECT count(*) FROM {schema}.timers") == 0

    await demo.load(pool, calls, Applications(store, calls))
    async with pool.acquire() as conn:
        closed = await conn.fetchrow(
            f"SELECT occurred_at, imported, actor_subject FROM {schema}.events "
            "WHERE event_type LIKE '%.CallClosed'"
        )
        events = await conn.fetchval(f"SELECT count(*) FROM {schema}.events")
    assert closed is not None
    assert dict(closed) == {
        "occurred_at": CLOSES_AT,
        "imported": True,
        "actor_subject": "demo-loader",
    }
    assert events == 1 + len(SKETCHES) + 1
