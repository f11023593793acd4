"""The 2017 programme as demo data: loaded once, through the historical-import path."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest

from konkurs_intake.bootstrap import load_demo
from konkurs_intake.demo import CALL_ID, SKETCHES, content
from konkurs_intake.domain.identifiers import bin_problem
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
    assert all(e["imported"] for e in events if e["actor_subject"] == "demo-loader")
    # Closed by the loader or, if it was first, by the intake clock of another test's app.
    assert {e["actor_subject"] for e in events} <= {"demo-loader", "system:intake-clock"}
    astana = timezone(timedelta(hours=6))
    window = (datetime(2017, 4, 10, tzinfo=astana), datetime(2017, 6, 9, tzinfo=astana))
    assert all(window[0] <= e["occurred_at"] <= window[1] for e in events)
    assert Counter(r["region_code"] for r in regions) == PRESS_RELEASE
    almaty = sorted(r["registration_number"] for r in regions if r["region_code"] == "KZ-75")
    assert almaty == [f"KZ-75-2017-{n:04d}" for n in range(1, 5)]
