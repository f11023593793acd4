"""The 2017 decision on the readside, as `make run` shows it: the three demos loaded (intake's,
scoring's, the commission's), the envelopes intake and the commission stored for the call
published as their relays would, and the readside's routes give the published decision (six
selected, the seventh-placed with its rationale, the sixth-placed first on the reserve list),
the meeting with its nine members named, the recusal, and the rejected appeal."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from helpers import running
from readside_support import new_world, projector, publish, wait_caught_up
from test_readside_commission import service_of

from konkurs_commission import demo
from konkurs_platform.auth import Role, mint_token
from konkurs_platform.settings import Settings
from konkurs_readside.bootstrap import create_app
from tests.integration.test_commission_demo import loaded

pytestmark = pytest.mark.integration

__all__ = ["loaded"]  # the fixture, used by name


async def test_the_2017_decision_meeting_and_appeal_show_on_the_readside(
    settings: Settings, pool: asyncpg.Pool, loaded: int
) -> None:
    async with pool.acquire() as conn:
        # The call (the readside's routes answer for calls it knows), then every event the
        # commission recorded, in the order it recorded them.
        call = await conn.fetch(
            "SELECT stream_id, envelope FROM intake.events WHERE stream_id = $1 ORDER BY version",
            f"call-{demo.CALL_ID}",
        )
        commission = await conn.fetch(
            "SELECT stream_id, envelope FROM commission.events ORDER BY position"
        )
    assert len(commission) == loaded
    stored = [*call, *commission]
    world, schema = await new_world(settings, pool)
    await publish(world, [(r["stream_id"], bytes(r["envelope"])) for r in stored], service_of)
    async with running(projector(world, pool, schema)):
        await wait_caught_up(world, pool, schema)

    app = create_app(world, schema=schema)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rs") as rs,
    ):

        async def get(path: str, role: Role, **claims: str) -> httpx.Response:
            token = mint_token(world, role, f"{role.value}-1", **claims)
            return await rs.get(path, headers={"Authorization": f"Bearer {token}"})

        public = await get(
            f"/v1/calls/{demo.CALL_ID}/decisions", Role.APPLICANT, org="170440000017"
        )
        meeting = await get(f"/v1/meetings/{demo.MEETING_ID}", Role.AUDITOR)
        appeals = await get(f"/v1/calls/{demo.CALL_ID}/appeals", Role.COMMISSION_SECRETARY)

    (decision,) = public.json()["decisions"]
    assert decision["meeting_id"] == demo.MEETING_ID and decision["published"]
    assert len(decision["selected"]) == 6
    ranks = [c["rank"] for c in decision["selected"]]
    assert 6 not in ranks and 7 in ranks
    seventh = next(c for c in decision["selected"] if c["rank"] == 7)
    assert seventh["rationale"] == demo.RATIONALE
    sixth = next(c for c in decision["declined"] if c["rank"] == 6)
    assert decision["reserve"][0] == sixth["application_id"]
    assert decision["appeal_window_closed"]

    m = meeting.json()
    assert len(m["members"]) == 9 and all(
        x["name"] and x["name"] != "[erased]" for x in m["members"]
    )
    assert m["quorum"]["met"] and m["quorum"]["required"] == 6
    assert [r["member_id"] for r in m["recusals"]] == [demo.AFFILIATED]
    (appeal,) = appeals.json()["appeals"]
    assert (appeal["appeal_id"], appeal["status"]) == (demo.APPEAL_ID, "rejected")
    assert appeal["application_id"] == sixth["application_id"]
