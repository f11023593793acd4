"""The readside's scoring routes over HTTP: who sees what (staff everything; analysts no
expert and no actor; applicants their own screening and ranking entries, never an expert;
experts and regional operators nothing), the progress counts, ranking versions, the streamed
CSV and Parquet exports, and hostile parameters refused as 422 problems naming them."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pyarrow.parquet as pq
import pytest
from test_readside_scoring import CRITERIA, EXPERT_NAMES, PARTNER, ScoringStory, told

from konkurs_platform.auth import Role, mint_token
from konkurs_platform.settings import Settings
from konkurs_readside.bootstrap import create_app

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"
OVER_LONG = "c" * 201


@dataclass
class World:
    settings: Settings
    http: httpx.AsyncClient
    story: ScoringStory

    @property
    def call(self) -> str:
        return self.story.call_id

    async def get(self, path: str, role: Role, **claims: Any) -> httpx.Response:
        token = mint_token(self.settings, role, f"{role.value}-1", **claims)
        return await self.http.get(path, headers={"Authorization": f"Bearer {token}"})

    def people(self) -> list[str]:
        """Every expert's id and name: what no analyst or applicant may read."""
        return [self.story.expert_id(x) for x in EXPERT_NAMES] + list(EXPERT_NAMES.values())


@pytest.fixture(scope="module")
async def world(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[World]:
    s, schema, story = await told(settings, pool)
    app = create_app(s, schema=schema)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://readside") as http:
            yield World(s, http, story)


def routes(call: str) -> list[str]:
    return [
        f"/v1/calls/{call}/screening",
        f"/v1/calls/{call}/assignments",
        f"/v1/calls/{call}/progress",
        f"/v1/calls/{call}/ranking",
        f"/v1/exports/ranking.csv?call_id={call}",
        f"/v1/exports/ranking.parquet?call_id={call}",
    ]


async def test_operators_see_rules_overrides_and_the_experts_by_name(world: World) -> None:
    a1, a2, a3, a4 = world.story.apps
    screening = (await world.get(f"/v1/calls/{world.call}/screening", Role.OPERATOR)).json()
    assert (screening["screened"], screening["eligible"], screening["overridden"]) == (4, 3, 1)
    by_app = {a["application_id"]: a for a in screening["applications"]}
    assert [a["registration_number"] for a in screening["applications"]] == [
        f"TC-2017-00{n}" for n in range(1, 5)
    ]
    (override,) = by_app[a3]["overrides"]
    assert override["actor"] == {"role": "operator", "subject": "kiri-operator"}
    assert (by_app[a3]["eligible"], by_app[a3]["assessed_eligible"]) == (True, False)
    assert [r["rule"] for r in by_app[a4]["results"] if not r["passed"]] == ["min_participants"]

    answer = await world.get(f"/v1/calls/{world.call}/assignments", Role.AUDITOR)
    panels = {a["application_id"]: a for a in answer.json()["applications"]}
    assert (panels[a2]["current"], panels[a2]["declared"]) == (3, 3)
    (conflicted,) = [x for x in panels[a2]["assignments"] if x["declaration"] == "conflict"]
    assert conflicted["expert"] == {
        "expert_id": world.story.expert_id("c"),
        "name": EXPERT_NAMES["c"],
    }
    assert conflicted["conflict_nature"] == "I advised the coordinator in 2016."
    assert (conflicted["current"], conflicted["unassignment_cause"]) == (False, "conflict")
    assert (panels[a3]["declared"], panels[a3]["overdue"]) == (2, 1)
    # a drafts, b submitted, d is overdue: only b's assignment is complete.
    assert [x["completed_at"] is not None for x in panels[a3]["assignments"]] == [
        False,
        True,
        False,
    ]
    assert a1 in panels and a4 not in panels


async def test_analysts_see_every_row_but_no_expert_and_no_actor(world: World) -> None:
    for path in routes(world.call)[:4]:
        answer = await world.get(path, Role.ANALYST)
        assert answer.status_code == 200, answer.text
        leaked = [p for p in world.people() if p in answer.text]
        assert not leaked, f"{path} shows {leaked} to an analyst"
    screening = (await world.get(f"/v1/calls/{world.call}/screening", Role.ANALYST)).json()
    assert screening["screened"] == 4
    overrides = [o for a in screening["applications"] for o in a["overrides"]]
    assert [o["actor"] for o in overrides] == [{"role": "operator"}]
    assignments = (await world.get(f"/v1/calls/{world.call}/assignments", Role.ANALYST)).json()
    rows = [x for a in assignments["applications"] for x in a["assignments"]]
    assert len(rows) == 10
    assert all(
        {"expert", "reason", "conflict_nature", "unassignment_reason"}.isdisjoint(x) for x in rows
    )
    assert "advised the coordinator" not in str(assignments)


async def test_applicants_see_their_own_screening_and_ranking_entry_and_no_expert(
    world: World,
) -> None:
    _, a2, _, a4 = world.story.apps
    coordinator_of_a2 = world.story.coordinators[1]
    for org in (coordinator_of_a2, PARTNER):
        screening = await world.get(f"/v1/calls/{world.call}/screening", Role.APPLICANT, org=org)
        assert [a["application_id"] for a in screening.json()["applications"]] == [a2]
        ranking = await world.get(f"/v1/calls/{world.call}/ranking", Role.APPLICANT, org=org)
        body = ranking.json()
        assert (body["ranking_version"], body["of"]) == (2, 2)
        assert [(e["rank"], e["application_id"]) for e in body["entries"]] == [(1, a2)]
        assert "event_ids" not in body["entries"][0]
        for answer in (screening, ranking):
            assert not [p for p in world.people() if p in answer.text]
    earlier = await world.get(
        f"/v1/calls/{world.call}/ranking?version=1", Role.APPLICANT, org=coordinator_of_a2
    )
    assert [e["rank"] for e in earlier.json()["entries"]] == [2]

    ineligible = world.story.coordinators[3]
    own = await world.get(f"/v1/calls/{world.call}/screening", Role.APPLICANT, org=ineligible)
    (row,) = own.json()["applications"]
    assert (row["application_id"], row["eligible"]) == (a4, False)
    unranked = await world.get(f"/v1/calls/{world.call}/ranking", Role.APPLICANT, org=ineligible)
    assert unranked.json()["entries"] == []
    for path in routes(world.call)[1:3] + routes(world.call)[4:]:
        refused = await world.get(path, Role.APPLICANT, org=coordinator_of_a2)
        assert refused.status_code == 403, path
        assert refused.headers["content-type"] == PROBLEM


async def test_experts_and_regional_operators_see_nothing_here(world: World) -> None:
    for path in routes(world.call):
        for role, claims in ((Role.EXPERT, {}), (Role.REGIONAL_OPERATOR, {"region": "KZ-75"})):
            answer = await world.get(path, role, **claims)
            assert answer.status_code == 403, (path, role)
            assert answer.headers["content-type"] == PROBLEM


async def test_progress_counts_each_step_of_the_evaluation(world: World) -> None:
    a1, a2, a3, a4 = world.story.apps
    body = (await world.get(f"/v1/calls/{world.call}/progress", Role.ANALYST)).json()
    counted = {k: body[k] for k in ("applications", "eligible", "assigned", "declared")}
    assert counted == {"applications": 4, "eligible": 3, "assigned": 3, "declared": 2}
    later = {k: body[k] for k in ("drafts", "submitted", "final", "overdue")}
    assert later == {"drafts": 1, "submitted": 2, "final": 2, "overdue": 1}
    assert (body["consensus_required"], body["consensus_recorded"]) == (1, 1)
    assert body["by_stage"] == {"final": 2, "awaiting_declarations": 1, "ineligible": 1}
    items = {i["application_id"]: i for i in body["items"]}
    assert (items[a1]["round"], items[a1]["submitted"]) == (2, 3)
    assert (items[a2]["conflicts"], items[a2]["assigned"]) == (1, 3)
    assert (items[a3]["drafts"], items[a3]["submitted"], items[a3]["stage"]) == (
        1,
        1,
        "awaiting_declarations",
    )
    assert items[a4]["round"] is None


async def test_the_latest_ranking_unless_a_version_is_asked_for(world: World) -> None:
    a1, a2, _, _ = world.story.apps
    latest = (await world.get(f"/v1/calls/{world.call}/ranking", Role.COMMISSION_MEMBER)).json()
    assert latest["ranking_version"] == 2
    assert [(e["application_id"], e["overall"]["exact"]) for e in latest["entries"]] == [
        (a2, "211/3"),
        (a1, "196/3"),
    ]
    assert latest["entries"][1]["failed_thresholds"] == ["overall"]
    assert latest["entries"][0]["scores"][0] == {
        "criterion_id": "strategy",
        "value": 3.3333,
        "exact": "10/3",
    }
    assert len(latest["entries"][0]["event_ids"]) == 2
    assert latest["tie_break"] == ["criterion:strategy", "registration"]
    first = (await world.get(f"/v1/calls/{world.call}/ranking?version=1", Role.OPERATOR)).json()
    assert [e["application_id"] for e in first["entries"]] == [a1, a2]
    assert first["content_hash"] == f"{1:064x}"
    missing = await world.get(f"/v1/calls/{world.call}/ranking?version=3", Role.OPERATOR)
    assert missing.status_code == 404
    assert (await world.get("/v1/calls/no-such-call/ranking", Role.OPERATOR)).status_code == 404
    assert (await world.get("/v1/calls/no-such-call/progress", Role.OPERATOR)).status_code == 404


async def test_the_ranking_exports_as_csv_and_parquet_with_exact_scores(world: World) -> None:
    a1, a2, _, _ = world.story.apps
    answer = await world.get(f"/v1/exports/ranking.csv?call_id={world.call}", Role.ANALYST)
    assert answer.status_code == 200, answer.text
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(r["rank"], r["application_id"], r["overall_exact"]) for r in rows] == [
        ("1", a2, "211/3"),
        ("2", a1, "196/3"),
    ]
    assert [r[f"score_{c}_exact"] for r in rows for c in CRITERIA] == ["10/3"] * 4
    assert rows[1]["fundable"] == "False" and rows[1]["failed_thresholds"] == "overall"

    parquet = await world.get(
        f"/v1/exports/ranking.parquet?call_id={world.call}&version=1", Role.AUDITOR
    )
    assert parquet.status_code == 200, parquet.text
    table = pq.read_table(io.BytesIO(parquet.content)).to_pylist()
    assert [(t["ranking_version"], t["application_id"]) for t in table] == [(1, a1), (1, a2)]
    assert table[0]["score_strategy"] == pytest.approx(10 / 3)
    assert table[0]["overall"] == pytest.approx(241 / 3)
    missing = await world.get(
        f"/v1/exports/ranking.csv?call_id={world.call}&version=9", Role.ANALYST
    )
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("target", "parameter", "location"),
    [
        ("/v1/calls/%00/screening", "call_id", "path"),
        ("/v1/calls/a%1Bb/assignments", "call_id", "path"),
        (f"/v1/calls/{OVER_LONG}/progress", "call_id", "path"),
        ("/v1/calls/x%7F/ranking", "call_id", "path"),
        ("/v1/calls/x/ranking?version=%00", "version", "query"),
        ("/v1/calls/x/ranking?version=0", "version", "query"),
        ("/v1/calls/x/ranking?version=99999999999999999999", "version", "query"),
        ("/v1/exports/ranking.csv?call_id=%00", "call_id", "query"),
        ("/v1/exports/ranking.csv", "call_id", "query"),
        ("/v1/exports/ranking.parquet?call_id=a%0Ab", "call_id", "query"),
        ("/v1/exports/ranking.parquet?call_id=x&version=-1", "version", "query"),
    ],
)
async def test_a_hostile_parameter_is_a_422_problem_naming_it(
    world: World, target: str, parameter: str, location: str
) -> None:
    answer = await world.get(target, Role.AUDITOR)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    named = [(e.get("parameter"), e.get("in")) for e in answer.json()["errors"]]
    assert named == [(parameter, location)]
