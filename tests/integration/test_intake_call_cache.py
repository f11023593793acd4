"""An intake process keeps the calls it has read, but a submission is always decided on the
call as it stands: a change made through another process is seen at once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx

from konkurs_intake.bootstrap import create_app
from konkurs_platform.auth import Role
from konkurs_platform.settings import Settings
from tests.integration.test_intake_applications import (
    COORDINATOR,
    application,
    auth,
    call_body,
    submit,
)
from tests.integration.test_timers import MovableClock


@asynccontextmanager
async def intake_process(
    settings: Settings, clock: MovableClock | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """One intake API with its own pool and its own memory, as one process has."""
    app = create_app(settings) if clock is None else create_app(settings, clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            yield client


async def test_a_region_removed_by_another_process_is_refused_at_the_next_submission(
    settings: Settings,
) -> None:
    operator = auth(settings, Role.OPERATOR)
    applicant = auth(settings, Role.APPLICANT, org=COORDINATOR)
    now = datetime.now(UTC)
    call_id = f"t-{uuid.uuid4().hex[:10]}"
    call = call_body(call_id, now + timedelta(hours=1), now + timedelta(days=30))
    clock = MovableClock(now)
    async with intake_process(settings, clock) as first, intake_process(settings) as second:
        assert (await first.post("/v1/calls", json=call, headers=operator)).status_code == 201
        # The first process reads the call (and keeps it) with this submission.
        early = await submit(first, call_id, applicant, application("KZ-71"))
        assert early.status_code == 409, early.text  # not open yet
        # Another process amends the call before it opens: KZ-71 is no longer eligible.
        call["regions"] = ["KZ-75", "KZ-63"]
        del call["call_id"]  # named by the path
        amended = await second.put(
            f"/v1/calls/{call_id}", json=call, headers=operator | {"If-Match": '"1"'}
        )
        assert amended.status_code == 200, amended.text
        clock.now = now + timedelta(hours=2)  # the call is open
        refused = await submit(first, call_id, applicant, application("KZ-71"))
        assert refused.status_code == 422, refused.text
        assert "/cluster/region_code" in refused.text
        # And the call as amended is the one it now decides on.
        accepted = await submit(first, call_id, applicant, application("KZ-75"))
        assert accepted.status_code == 201, accepted.text
