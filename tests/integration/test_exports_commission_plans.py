"""The streamed CSV and Parquet exports of the commission's read models (meetings, decisions)
and plan tracking's (plans, versions, reports, attainment, budget, overdue marks) over HTTP,
on the commission's and plans' read-model stories: equal to the read models' rows, Parquet
read back with pyarrow equal to the CSV, the commission and the staff every column and
every decision, analysts no person, no decision before it is published and no draft."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pyarrow.parquet as pq
import pytest
from test_readside_commission import MEMBERS, RATIONALE
from test_readside_commission import told as commission_told
from test_readside_plans import told as plans_told

from konkurs_platform.auth import Role, mint_token
from konkurs_platform.settings import Settings
from konkurs_readside.api import exports
from konkurs_readside.bootstrap import create_app

pytestmark = pytest.mark.integration

PLAN_MODELS = (
    "plans",
    "plan_versions",
    "plan_reports",
    "plan_attainment",
    "plan_budget",
    "plan_overdue",
)
COMMISSION_MODELS = ("meetings", "decisions")
EXPORTS = {
    "meetings": exports.MEETINGS,
    "decisions": exports.DECISIONS,
    "plans": exports.PLANS,
    "plan_versions": exports.PLAN_VERSIONS,
    "plan_reports": exports.PLAN_REPORTS,
    "plan_attainment": exports.PLAN_ATTAINMENT,
    "plan_budget": exports.PLAN_BUDGET,
    "plan_overdue": exports.PLAN_OVERDUE,
}


@dataclass
class World:
    settings: Settings
    schema: str
    http: httpx.AsyncClient
    call_id: str
    # What no analyst may read in this world.
    people: list[str]

    async def get(self, model: str, extension: str, role: Role) -> httpx.Response:
        token = mint_token(self.settings, role, f"{role.value}-1")
        answer = await self.http.get(
            f"/v1/exports/{model}.{extension}?call_id={self.call_id}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200, answer.text
        return answer

    async def csv(self, model: str, role: Role) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO((await self.get(model, "csv", role)).text)))


@asynccontextmanager
async def serving(
    settings: Settings, schema: str, call_id: str, people: list[str]
) -> AsyncIterator[World]:
    app = create_app(settings, schema=schema)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://readside") as http:
            yield World(settings, schema, http, call_id, people)


@pytest.fixture(scope="module")
async def commission(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[World]:
    world, schema, story = await commission_told(settings, pool)
    people = [story.member_id(m) for m in MEMBERS] + [name for name, _, _ in MEMBERS.values()]
    async with serving(world, schema, story.call_id, people) as served:
        yield served


@pytest.fixture(scope="module")
async def plans(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[World]:
    world, schema, story = await plans_told(settings, pool)
    # The subjects of the story's actors: the coordinators' staff and the operator.
    people = [f"staff-of-{name}" for name in story.plans] + ["kiri-operator"]
    async with serving(world, schema, story.call_id, people) as served:
        yield served


async def rows(pool: asyncpg.Pool, world: World, sql: str) -> list[Any]:
    async with pool.acquire() as conn:
        return list(await conn.fetch(sql.format(s=world.schema), world.call_id))


async def test_analysts_get_published_decisions_without_people_the_commission_all(
    commission: World, pool: asyncpg.Pool
) -> None:
    published, unpublished = await rows(
        pool,
        commission,
        """SELECT meeting_id FROM {s}.commission_meetings WHERE call_id = $1
           ORDER BY scheduled_for""",
    )
    insider = await commission.csv("decisions", Role.COMMISSION_SECRETARY)
    analyst = await commission.csv("decisions", Role.ANALYST)
    assert {r["meeting_id"] for r in insider} == {published[0], unpublished[0]}
    assert {r["meeting_id"] for r in analyst} == {published[0]}
    # A2 withdrew after the decision; A4 took its place from the reserve list.
    assert [(r["outcome"], r["from_reserve"]) for r in analyst] == [
        ("selected", "False"),
        ("selected", "False"),
        ("selected", "False"),
        ("selected", "True"),
        ("declined", "False"),
    ]
    a1, a2, a3 = analyst[:3]
    assert (a1["votes_for"], a1["votes_against"]) == ("4", "0")
    assert a2["casting_vote_used"] == "True"
    assert (a2["replaced_cause"], a3["rationale"]) == ("withdrawn", RATIONALE)
    assert "participant_bins" in insider[0] and "participant_bins" not in analyst[0]

    meetings = await commission.csv("meetings", Role.ANALYST)
    assert [(m["meeting_id"], m["status"]) for m in meetings] == [
        (published[0], "published"),
        (unpublished[0], "decided"),
    ]
    assert meetings[0]["present"] == "5"
    assert "present_member_ids" not in meetings[0]
    staff = await commission.csv("meetings", Role.AUDITOR)
    assert staff[0]["present_member_ids"].count(";") == 4


@pytest.mark.parametrize("model", COMMISSION_MODELS)
async def test_no_commission_export_shows_an_analyst_a_member(
    commission: World, model: str
) -> None:
    for extension in ("csv", "parquet"):
        body = (await commission.get(model, extension, Role.ANALYST)).content
        leaked = [p for p in commission.people if p.encode() in body]
        assert not leaked, f"{model}.{extension} shows {leaked} to an analyst"


async def test_analysts_get_decided_plan_versions_only_and_no_actor(
    plans: World, pool: asyncpg.Pool
) -> None:
    staff = await plans.csv("plan_versions", Role.OPERATOR)
    analyst = await plans.csv("plan_versions", Role.ANALYST)
    assert {r["state"] for r in staff} > {"approved", "superseded"}
    assert {r["state"] for r in analyst} == {"approved", "superseded"}
    decided = await rows(
        pool,
        plans,
        """SELECT v.plan_id, v.version FROM {s}.plan_versions v JOIN {s}.plans p USING (plan_id)
           WHERE p.call_id = $1 AND v.state IN ('approved', 'superseded')""",
    )
    assert sorted((r["plan_id"], int(r["version"])) for r in analyst) == sorted(
        (r["plan_id"], r["version"]) for r in decided
    )
    assert all(r["drafted_by"].startswith("staff-of-") for r in staff)
    assert "drafted_by" not in analyst[0] and analyst[0]["drafted_by_role"] == "applicant"
    pending = await plans.csv("plans", Role.ANALYST)
    assert "pending_state" not in pending[0]


@pytest.mark.parametrize("model", PLAN_MODELS)
async def test_no_plan_export_shows_an_analyst_an_actor(plans: World, model: str) -> None:
    for extension in ("csv", "parquet"):
        body = (await plans.get(model, extension, Role.ANALYST)).content
        leaked = [p for p in plans.people if p.encode() in body]
        assert not leaked, f"{model}.{extension} shows {leaked} to an analyst"


async def test_budget_and_attainment_exports_are_the_read_models_exact_figures(
    plans: World, pool: asyncpg.Pool
) -> None:
    budget = await rows(
        pool,
        plans,
        """SELECT b.* FROM {s}.plan_budget b JOIN {s}.plans p USING (plan_id)
           WHERE p.call_id = $1""",
    )
    exported = {
        (r["plan_id"], r["measure_id"]): r for r in await plans.csv("plan_budget", Role.ANALYST)
    }
    assert len(exported) == len(budget) > 0
    for b in budget:
        row = exported[(b["plan_id"], b["measure_id"])]
        assert (Decimal(row["amount"]), Decimal(row["disbursed_total"])) == (
            b["amount"],
            b["disbursed_total"],
        )
    assert "900000.50" in {r["disbursed_total"] for r in exported.values()}

    attainment = await rows(
        pool,
        plans,
        """SELECT t.* FROM {s}.plan_attainment t JOIN {s}.plans p USING (plan_id)
           WHERE p.call_id = $1""",
    )
    exported = {
        (r["plan_id"], r["period_id"], r["code"]): r
        for r in await plans.csv("plan_attainment", Role.ANALYST)
    }
    assert len(exported) == len(attainment) > 0
    for t in attainment:
        row = exported[(t["plan_id"], t["period_id"], t["code"])]
        assert (Decimal(row["attainment"]) if row["attainment"] else None) == t["attainment"]
    overdue = await plans.csv("plan_overdue", Role.ANALYST)
    assert sorted((r["kind"], r["item_id"]) for r in overdue) == [
        ("milestone", "m2"),
        ("milestone", "x"),
        ("milestone", "y"),
        ("report", "2018-Q2"),
    ]


@pytest.mark.parametrize("model", [*COMMISSION_MODELS, *PLAN_MODELS])
async def test_each_parquet_export_reads_back_as_its_csv_with_its_types(
    commission: World, plans: World, model: str
) -> None:
    world = commission if model in COMMISSION_MODELS else plans
    for role in (Role.ADMIN, Role.ANALYST):
        table = pq.read_table(io.BytesIO((await world.get(model, "parquet", role)).content))
        columns = [(c.name, c.type) for c in EXPORTS[model].columns]
        visible = [c for c in columns if c[0] in table.column_names]
        assert [(f.name, f.type) for f in table.schema] == visible
        csv_rows = await world.csv(model, role)
        assert table.num_rows == len(csv_rows) > 0
        first = table.column_names[0]
        assert table.column(first).to_pylist() == [r[first] for r in csv_rows]
