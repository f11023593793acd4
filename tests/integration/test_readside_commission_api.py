"""The readside's commission routes over HTTP: the commission and the staff see meetings and
votes with the members named; analysts the meetings without people; a published decision is
public and an unpublished one is the commission's alone; applicants read their own appeals
and no one else's; unknown and hostile ids are problems."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from test_readside_commission import MEMBERS, RATIONALE, SHARED_BIN, CommissionStory, told

from konkurs_platform.auth import Role, mint_token
from konkurs_platform.settings import Settings
from konkurs_readside.bootstrap import create_app

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


@dataclass
class World:
    settings: Settings
    http: httpx.AsyncClient
    story: CommissionStory

    async def get(self, path: str, role: Role, **claims: Any) -> httpx.Response:
        token = mint_token(self.settings, role, f"{role.value}-1", **claims)
        return await self.http.get(path, headers={"Authorization": f"Bearer {token}"})

    def people(self) -> list[str]:
        """Every member's id and name: what no analyst may read."""
        return [self.story.member_id(s) for s in MEMBERS] + [n for n, _, _ in MEMBERS.values()]


@pytest.fixture(scope="module")
async def world(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[World]:
    s, schema, story = await told(settings, pool)
    app = create_app(s, schema=schema)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://readside") as http:
            yield World(s, http, story)


@pytest.mark.parametrize(
    "role", [Role.COMMISSION_SECRETARY, Role.COMMISSION_MEMBER, Role.AUDITOR, Role.OPERATOR]
)
async def test_the_commission_and_the_staff_see_a_meeting_with_its_members_named(
    world: World, role: Role
) -> None:
    story = world.story
    answer = await world.get(f"/v1/meetings/{story.meeting_id}", role)
    assert answer.status_code == 200, answer.text
    meeting = answer.json()
    assert meeting["agenda"]["ranking_content_hash"] == f"{1:064x}"
    assert meeting["quorum"] == {"required": 4, "present": 5, "met": True}
    assert [(m["name"], m["present"]) for m in meeting["members"]] == [
        (name, True) for name, _, _ in MEMBERS.values()
    ]
    assert [c["application_id"] for c in meeting["candidates"]] == story.apps
    second = meeting["candidates"][1]
    assert SHARED_BIN in second["participant_bins"]
    assert second["tally"]["casting_vote_used"] is True
    assert meeting["candidates"][2]["rationale"] == RATIONALE
    declared = meeting["recusals"][1]
    assert (declared["member_id"], declared["automatic"]) == (story.member_id("m3"), False)
    assert declared["reason"].startswith("My brother")
    assert [a["role"] for a in meeting["minutes"]["approvals"]] == ["chair", "secretary"]
    assert meeting["reserve"] == [story.apps[4]]


async def test_an_analyst_sees_meetings_without_people_and_no_votes(world: World) -> None:
    story = world.story
    listing = await world.get(f"/v1/calls/{story.call_id}/meetings", Role.ANALYST)
    assert [m["meeting_id"] for m in listing.json()["meetings"]] == [
        story.meeting_id,
        story.second_meeting_id,
    ]
    answer = await world.get(f"/v1/meetings/{story.meeting_id}", Role.ANALYST)
    assert answer.status_code == 200
    assert [m["role"] for m in answer.json()["members"]] == [
        "chair",
        "secretary",
        "member",
        "member",
        "member",
    ]
    for person in world.people():
        assert person not in answer.text
    assert SHARED_BIN not in answer.text and "My brother" not in answer.text
    votes = await world.get(f"/v1/meetings/{story.meeting_id}/votes", Role.ANALYST)
    assert votes.status_code == 403
    assert votes.headers["content-type"] == PROBLEM


async def test_the_votes_show_each_members_vote_with_replaced_ones_recusals_and_dissents(
    world: World,
) -> None:
    story = world.story
    a1, a2, a3, a4, a5 = story.apps
    answer = await world.get(f"/v1/meetings/{story.meeting_id}/votes", Role.COMMISSION_MEMBER)
    assert answer.status_code == 200
    body = answer.json()
    by_app = {c["application_id"]: c for c in body["candidates"]}
    # In the composition's order, whatever order they came in.
    assert [(v["name"], v["choice"], v["replaced"]) for v in by_app[a1]["votes"]] == [
        (MEMBERS["chair"][0], "for", []),
        (MEMBERS["m3"][0], "for", ["against"]),
        (MEMBERS["m4"][0], "for", []),
        (MEMBERS["m5"][0], "for", []),
    ]
    assert [r["name"] for r in by_app[a2]["recused"]] == [MEMBERS["m5"][0]]
    assert by_app[a2]["tally"]["casting_vote_used"] is True
    assert (by_app[a4]["carried"], by_app[a5]["vote"], by_app[a5]["votes"]) == (
        False,
        "none",
        [],
    )
    (opinion,) = body["dissenting_opinions"]
    assert (opinion["name"], opinion["application_id"]) == (MEMBERS["m3"][0], a3)


async def test_a_published_decision_is_public_and_an_unpublished_one_the_commissions_alone(
    world: World,
) -> None:
    story = world.story
    a1, a2, a3, a4, a5 = story.apps
    path = f"/v1/calls/{story.call_id}/decisions"
    public = await world.get(path, Role.APPLICANT, org=story.coordinators[4])
    assert public.status_code == 200
    (decision,) = public.json()["decisions"]
    assert decision["meeting_id"] == story.meeting_id and decision["published"]
    assert [c["application_id"] for c in decision["selected"]] == [a1, a2, a3, a4]
    assert decision["selected"][1]["replaced"]["cause"] == "withdrawn"
    assert decision["selected"][3]["from_reserve"] is True
    assert decision["selected"][2]["rationale"] == RATIONALE
    assert [
        (c["application_id"], c["reason"], c["reserve_position"]) for c in decision["declined"]
    ] == [(a5, "quota filled", 1)]
    assert decision["reserve"] == [a5]
    # Participants' BINs are the applicants' business, not the public's.
    assert SHARED_BIN not in public.text
    for role in (Role.EXPERT, Role.ANALYST, Role.REGIONAL_OPERATOR):
        claims = {"region": "KZ-75"} if role is Role.REGIONAL_OPERATOR else {}
        other = await world.get(path, role, **claims)
        assert [d["meeting_id"] for d in other.json()["decisions"]] == [story.meeting_id]
    insider = await world.get(path, Role.COMMISSION_SECRETARY)
    assert [(d["meeting_id"], d["published"]) for d in insider.json()["decisions"]] == [
        (story.meeting_id, True),
        (story.second_meeting_id, False),
    ]


async def test_an_applicant_reads_its_own_appeals_and_no_one_elses(world: World) -> None:
    story = world.story
    rejected, upheld = story.appeals
    mine = story.coordinators[4]
    listing = await world.get(f"/v1/calls/{story.call_id}/appeals", Role.APPLICANT, org=mine)
    assert listing.status_code == 200
    (appeal,) = listing.json()["appeals"]
    assert (appeal["appeal_id"], appeal["status"], appeal["ground"]) == (
        rejected,
        "rejected",
        "conflict_of_interest",
    )
    own = await world.get(f"/v1/appeals/{rejected}", Role.APPLICANT, org=mine)
    assert own.status_code == 200 and own.json()["reasons"].startswith("The recused member")
    other = await world.get(f"/v1/appeals/{upheld}", Role.APPLICANT, org=mine)
    assert other.status_code == 404 and other.headers["content-type"] == PROBLEM
    everything = await world.get(f"/v1/calls/{story.call_id}/appeals", Role.COMMISSION_MEMBER)
    assert [
        (a["appeal_id"], a["status"], a["reevaluation_requested"])
        for a in everything.json()["appeals"]
    ] == [
        (rejected, "rejected", False),
        (upheld, "upheld", True),
    ]
    meetings = await world.get(f"/v1/calls/{story.call_id}/meetings", Role.APPLICANT, org=mine)
    assert meetings.status_code == 403


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/meetings/no-such-meeting", 404),
        ("/v1/meetings/no-such-meeting/votes", 404),
        ("/v1/appeals/no-such-appeal", 404),
        ("/v1/calls/no-such-call/decisions", 404),
        ("/v1/meetings/bad%00id", 422),
        ("/v1/meetings/" + "m" * 201, 422),
    ],
)
async def test_unknown_and_hostile_ids_are_problems(world: World, path: str, status: int) -> None:
    answer = await world.get(path, Role.AUDITOR)
    assert answer.status_code == status
    assert answer.headers["content-type"] == PROBLEM
