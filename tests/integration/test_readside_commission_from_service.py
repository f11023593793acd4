"""The readside's commission read models agree with the commission service itself: a meeting
held through the commission's API (composition, attendance, an automatic recusal, votes, the
decision, approvals, publication) and an appeal lodged and rejected through it are stored by
the service; the exact envelopes it stored (what its relay publishes, names sealed) go onto
the broker, and the readside shows the meeting, the members' names, the tallies, the decision
and the appeal as the service does."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from helpers import running
from readside_support import new_world, projector, publish, wait_caught_up
from test_readside_commission import service_of

from konkurs_commission.bootstrap import SCHEMA
from konkurs_platform.auth import Role, mint_token
from konkurs_platform.settings import Settings
from konkurs_readside.bootstrap import create_app
from tests.integration.test_commission_meeting import (
    Api,
    api,
    bin_of,
    composed,
    held_and_published,
    ranked_call,
)

pytestmark = pytest.mark.integration

__all__ = ["api"]  # the fixture, used by name


async def test_the_readside_shows_a_meeting_and_an_appeal_held_through_the_service_as_it_does(
    settings: Settings, pool: asyncpg.Pool, api: Api
) -> None:
    call_id = await ranked_call(settings, pool, candidates=3, quota=2)
    await composed(api, call_id)
    meeting = await held_and_published(api, call_id)
    applicant = api.token(Role.APPLICANT, "applicant-1", org=bin_of(1))
    lodged = await api.client.post(
        "/v1/appeals",
        json={
            "meeting_id": meeting,
            "application_id": f"{call_id}-app-1",
            "ground": "quorum_or_count",
            "explanation": "Our vote was miscounted.",
        },
        headers=applicant,
    )
    assert lodged.status_code == 201, lodged.text
    appeal_id = lodged.json()["appeal_id"]
    rejected = await api.client.post(
        f"/v1/appeals/{appeal_id}/decision",
        json={"upheld": False, "reasons": "The count was checked against the votes cast."},
        headers=api.member("chair"),
    )
    assert rejected.status_code == 200, rejected.text
    service_meeting = (
        await api.client.get(f"/v1/meetings/{meeting}", headers=api.secretary())
    ).json()
    service_appeal = (await api.client.get(f"/v1/appeals/{appeal_id}", headers=applicant)).json()

    # What the relay publishes: the stored envelopes, in the order they were appended.
    async with pool.acquire() as conn:
        stored = await conn.fetch(
            f"""SELECT stream_id, envelope FROM {SCHEMA}.events
                WHERE stream_id LIKE $1 OR stream_id = ANY($2) ORDER BY position""",
            f"commission-{call_id}%",
            [f"meeting-{meeting}", f"appeal-{appeal_id}"],
        )
    world, schema = await new_world(settings, pool)
    await publish(world, [(r["stream_id"], bytes(r["envelope"])) for r in stored], service_of)
    async with running(projector(world, pool, schema)):
        await wait_caught_up(world, pool, schema)

    app = create_app(world, schema=schema)
    token = mint_token(world, Role.COMMISSION_SECRETARY, "sec")
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rs") as rs,
    ):
        headers = {"Authorization": f"Bearer {token}"}
        seen = (await rs.get(f"/v1/meetings/{meeting}", headers=headers)).json()
        votes = (await rs.get(f"/v1/meetings/{meeting}/votes", headers=headers)).json()
        appeal = (await rs.get(f"/v1/appeals/{appeal_id}", headers=headers)).json()

    assert seen["status"] == "published"
    assert seen["agenda"]["ranking_content_hash"] == service_meeting["ranking"]["content_hash"]
    assert seen["quorum"]["required"] == service_meeting["quorum_required"]
    assert (
        sorted(m["member_id"] for m in seen["members"] if m["present"])
        == (service_meeting["present_member_ids"])
    )
    # The names were sealed in the service's events and are opened on the readside.
    assert [m["name"] for m in seen["members"]][:2] == ["Chair Person", "Secretary Person"]
    decision = service_meeting["decision"]
    by_outcome = {
        o: [c["application_id"] for c in seen["candidates"] if c["outcome"] == o]
        for o in ("selected", "declined")
    }
    assert by_outcome == {
        o: [d["application_id"] for d in decision[o]] for o in ("selected", "declined")
    }
    assert seen["reserve"] == decision["reserve_application_ids"]
    assert [c["rationale"] for c in seen["candidates"] if c["outcome"] == "selected"] == [
        d["rationale"] for d in decision["selected"]
    ]
    for mine, theirs in zip(seen["candidates"], service_meeting["candidates"], strict=True):
        assert mine["application_id"] == theirs["application_id"]
        assert mine["carried"] == theirs["carried"]
        if theirs["tally"] is not None:
            assert (mine["tally"]["votes_for"], mine["tally"]["votes_against"]) == (
                theirs["tally"]["for"],
                theirs["tally"]["against"],
            )
        recused = [
            r["member_id"]
            for r in seen["recusals"]
            if r["application_id"] == mine["application_id"]
        ]
        assert sorted(recused) == theirs["recused_member_ids"]
    assert {a["role"] for a in seen["minutes"]["approvals"]} == {"chair", "secretary"}
    assert all(v["name"] for c in votes["candidates"] for v in c["votes"])
    assert (appeal["status"], appeal["ground"]) == ("rejected", "quorum_or_count")
    assert appeal["reasons"] == "The count was checked against the votes cast."
    for field in ("applicant_bin", "explanation", "lodged_at", "version"):
        assert appeal[field] == service_appeal[field]
