"""The dashboard's commission and plans pages over HTTP, on real Kafka and PostgreSQL, from
the commission's and plan tracking's read-model stories: the decisions with tallies,
recusals and rationales (a decision not yet published, and who recused, only for the
commission and the staff), the funnel's selected and on-track counts equal to the API's, and
each plan's status, milestones, budget and overdue items as the plans API reports them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from helpers import running
from readside_support import new_world, projector, publish, wait_caught_up
from test_dashboard import HTML, Cells
from test_readside_commission import MEMBERS, RATIONALE
from test_readside_commission import told as commission_told
from test_readside_plans import PlanStory
from test_readside_plans import service_of as plans_service

from konkurs_platform.auth import Role, mint_token
from konkurs_platform.settings import Settings
from konkurs_readside.bootstrap import create_app

pytestmark = pytest.mark.integration


@dataclass
class Site:
    settings: Settings
    http: httpx.AsyncClient
    call: str

    async def get(self, path: str, role: Role, *, html: bool = True) -> httpx.Response:
        token = mint_token(self.settings, role, f"{role.value}-dash")
        headers = {"Authorization": f"Bearer {token}", **(HTML if html else {})}
        answer = await self.http.get(path, headers=headers)
        assert answer.status_code == 200, answer.text
        return answer


@pytest.fixture(scope="module")
async def commission(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[Site]:
    world, schema, story = await commission_told(settings, pool)
    app = create_app(world, schema=schema)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://readside") as http:
            yield Site(world, http, story.call_id)


@pytest.fixture(scope="module")
async def plans(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[Site]:
    world, schema = await new_world(settings, pool)
    story = PlanStory(f"dash-plans-{world.topic_prefix[-8:]}")
    story.events.announce(story.call_id)
    story.tell()
    await publish(world, story.events.published, plans_service)
    async with running(projector(world, pool, schema, max_records=20)):
        await wait_caught_up(world, pool, schema)
    app = create_app(world, schema=schema)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://readside") as http:
            yield Site(world, http, story.call_id)


def _selected(decisions: dict[str, Any]) -> int:
    """The API's decisions counted as the funnel counts them: selected and not replaced."""
    return len(
        {
            c["application_id"]
            for d in decisions["decisions"]
            for c in d["selected"]
            if c["replaced"] is None
        }
    )


async def test_the_commission_page_shows_tallies_recusals_and_rationales_to_insiders(
    commission: Site,
) -> None:
    story_call = commission.call
    page = await commission.get(f"/dashboard/calls/{story_call}/commission?lang=en", Role.OPERATOR)
    decisions = (
        await commission.get(f"/v1/calls/{story_call}/decisions", Role.OPERATOR, html=False)
    ).json()
    assert set(_attribute_values(page.text, "data-meeting")) == {
        d["meeting_id"] for d in decisions["decisions"]
    }
    assert len(decisions["decisions"]) == 2 and "not published yet" in page.text
    assert RATIONALE in page.text and "casting vote" in page.text.lower()
    # m5 was recused automatically for A2: named, with the reason, for the staff.
    assert MEMBERS["m5"][0] in page.text
    overview = await commission.get(f"/dashboard/calls/{story_call}", Role.OPERATOR)
    funnel = {k: v[0] for k, v in Cells.of(overview.text, "stage").items()}
    assert funnel["selected"] == str(_selected(decisions))


async def test_an_analyst_sees_the_published_decision_only_and_no_member(
    commission: Site,
) -> None:
    story_call = commission.call
    page = await commission.get(f"/dashboard/calls/{story_call}/commission?lang=en", Role.ANALYST)
    decisions = (
        await commission.get(f"/v1/calls/{story_call}/decisions", Role.ANALYST, html=False)
    ).json()
    assert [d["published"] for d in decisions["decisions"]] == [True]
    assert page.text.count("data-meeting=") == 1 and "not published yet" not in page.text
    leaked = [
        x
        for short, (name, _, _) in MEMBERS.items()
        for x in (name, f"{story_call}-{short}")
        if x in page.text
    ]
    assert not leaked, f"the analyst's page names {leaked}"
    assert RATIONALE in page.text  # a published rationale is public
    recusals = [int(n) for n in _attribute_values(page.text, "data-count")]
    assert sum(recusals) >= 1
    overview = await commission.get(f"/dashboard/calls/{story_call}", Role.ANALYST)
    funnel = {k: v[0] for k, v in Cells.of(overview.text, "stage").items()}
    assert funnel["selected"] == str(_selected(decisions))


def _attribute_values(page: str, attribute: str) -> list[str]:
    marker = f'{attribute}="'
    return [part.split('"', 1)[0] for part in page.split(marker)[1:]]


async def test_the_plans_page_shows_each_plans_status_budget_and_overdue_items_as_the_api(
    plans: Site,
) -> None:
    page = await plans.get(f"/dashboard/calls/{plans.call}/plans", Role.ANALYST)
    api = (await plans.get(f"/v1/plans?call_id={plans.call}", Role.ANALYST, html=False)).json()
    statuses = {p: v[0] for p, v in Cells.of(page.text, "plan").items()}
    assert statuses == {p["plan_id"]: p["status"] or "" for p in api["plans"]}
    overdue = (
        await plans.get(f"/v1/overdue?call_id={plans.call}", Role.ANALYST, html=False)
    ).json()
    listed = set(_attribute_values(page.text, "data-overdue"))
    assert listed == {f"{o['plan_id']}/{o['kind']}/{o['item_id']}" for o in overdue["items"]}
    assert listed, "the story leaves an overdue milestone"
    # An open overdue milestone is late on the timeline too.
    late = {f"{o['plan_id']}/{o['item_id']}" for o in overdue["items"] if o["kind"] == "milestone"}
    states = dict(
        zip(
            _attribute_values(page.text, "data-milestone"),
            _attribute_values(page.text, "data-state"),
            strict=True,
        )
    )
    assert all(states[m] == "late" for m in late)
    overview = await plans.get(f"/dashboard/calls/{plans.call}", Role.ANALYST)
    funnel = {k: v[0] for k, v in Cells.of(overview.text, "stage").items()}
    approved = [p for p in api["plans"] if p["status"] is not None]
    assert funnel["plans_on_track"] == str(sum(p["status"] == "on_track" for p in approved))
