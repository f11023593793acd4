"""The readside's plan routes over HTTP: a coordinator sees its own plan only; operators and
auditors every plan, version and actor; analysts progress without people and without
drafts; the as-of view shows the version in effect at a time; the status and what is
overdue on a date; attainment and budget execution come out as exact figures (null when
unknown); the operator's list of overdue items; hostile parameters are 422 problems naming
them. The figures are those plan tracking computes itself from the same events, day by day."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
from test_readside_plans import OPERATOR, PlanStory, told

from konkurs_plans.adapters.codec import PlanCodec
from konkurs_plans.domain.plans import DECIDER, Plan
from konkurs_plans.domain.progress import progress
from konkurs_platform.auth import Role, mint_token
from konkurs_platform.envelope import decode_envelope
from konkurs_platform.settings import Settings
from konkurs_readside.bootstrap import create_app

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"
UNKNOWN = "00000000-0000-4000-8000-000000000000"
# After A's amendment, before its Q3 report is due.
SUMMER = "2018-08-21"


@dataclass
class World:
    settings: Settings
    http: httpx.AsyncClient
    story: PlanStory

    def plan(self, name: str) -> str:
        return self.story.plans[name]

    async def get(self, path: str, role: Role, **claims: Any) -> httpx.Response:
        token = mint_token(self.settings, role, f"{role.value}-1", **claims)
        return await self.http.get(path, headers={"Authorization": f"Bearer {token}"})

    async def coordinator(self, name: str, path: str) -> httpx.Response:
        return await self.get(path, Role.APPLICANT, org=self.story.coordinators[name])


@pytest.fixture(scope="module")
async def world(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[World]:
    s, schema, story = await told(settings, pool)
    app = create_app(s, schema=schema)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://readside") as http:
            yield World(s, http, story)


def routes(plan_id: str) -> list[str]:
    return [
        f"/v1/plans/{plan_id}",
        f"/v1/plans/{plan_id}/versions",
        f"/v1/plans/{plan_id}/reports",
        f"/v1/plans/{plan_id}/attainment",
        f"/v1/plans/{plan_id}/budget",
    ]


async def test_a_coordinator_sees_its_own_plan_only(world: World) -> None:
    listed = (await world.coordinator("A", "/v1/plans")).json()
    assert [p["plan_id"] for p in listed["plans"]] == [world.plan("A")]
    for path in routes(world.plan("A")):
        assert (await world.coordinator("A", path)).status_code == 200, path
    for path in routes(world.plan("B")):
        refused = await world.coordinator("A", path)
        assert (refused.status_code, refused.headers["content-type"]) == (403, PROBLEM), path
    # B's coordinator sees its own draft, submitted and waiting.
    versions = (await world.coordinator("B", routes(world.plan("B"))[1])).json()["versions"]
    assert [(v["version"], v["state"]) for v in versions] == [(1, "submitted")]
    assert (await world.coordinator("A", f"/v1/plans/{UNKNOWN}")).status_code == 404
    for role in (Role.EXPERT, Role.REGIONAL_OPERATOR, Role.COMMISSION_MEMBER):
        claims = {"region": "KZ-75"} if role is Role.REGIONAL_OPERATOR else {}
        assert (await world.get("/v1/plans", role, **claims)).status_code == 403


async def test_operators_and_auditors_see_every_plan_every_version_and_who_acted(
    world: World,
) -> None:
    call = world.story.call_id
    listed = (await world.get(f"/v1/plans?call_id={call}&on={SUMMER}", Role.OPERATOR)).json()
    assert [p["registration_number"] for p in listed["plans"]] == [
        "TC-2017-001",
        "TC-2017-002",
        "TC-2017-003",
    ]
    assert listed["by_status"] == {"at_risk": 1, "not_approved": 1, "late": 1}
    assert listed["plans"][0]["budget"] == {
        "planned_total": "4500000.00",
        "disbursed_total": "1400000.50",
    }
    late = await world.get(f"/v1/plans?status=late&on={SUMMER}", Role.AUDITOR)
    assert [p["plan_id"] for p in late.json()["plans"]] == [world.plan("C")]

    versions = (await world.get(routes(world.plan("A"))[1], Role.AUDITOR)).json()["versions"]
    assert [(v["version"], v["state"]) for v in versions] == [(1, "superseded"), (2, "approved")]
    assert versions[0]["comments"] == "Date the training measure."
    assert versions[1]["decided_by"] == {"role": "operator", "subject": OPERATOR.subject}
    assert versions[1]["drafted_by"] == {"role": "applicant", "subject": "staff-of-A"}
    b = (await world.get(routes(world.plan("B"))[1], Role.OPERATOR)).json()["versions"]
    assert [v["state"] for v in b] == ["submitted"]

    reports = (await world.get(routes(world.plan("A"))[2], Role.OPERATOR)).json()["reports"]
    assert [(r["period_id"], r["state"], r["submissions"]) for r in reports] == [
        ("2018-Q1", "accepted", 1),
        ("2018-Q2", "accepted", 2),
    ]
    assert reports[1]["submitted_by"] == {"role": "applicant", "subject": "staff-of-A"}


async def test_analysts_see_progress_without_people_and_without_drafts(world: World) -> None:
    people = ["staff-of-", OPERATOR.subject]
    for name in "ABC":
        for path in ["/v1/plans", f"/v1/overdue?on={SUMMER}", *routes(world.plan(name))]:
            answer = await world.get(path, Role.ANALYST)
            assert answer.status_code == 200, path
            assert not [p for p in people if p in answer.text], f"{path} names a person"
    versions = (await world.get(routes(world.plan("A"))[1], Role.ANALYST)).json()["versions"]
    assert [v["decided_by"] for v in versions] == [{"role": "operator"}] * 2
    assert (await world.get(routes(world.plan("B"))[1], Role.ANALYST)).json()["versions"] == []


async def test_the_as_of_view_shows_the_version_in_effect_at_that_time(world: World) -> None:
    a = routes(world.plan("A"))[0]

    async def at(when: str) -> dict[str, Any] | None:
        answer = await world.get(f"{a}?at={when}", Role.OPERATOR)
        assert answer.status_code == 200, answer.text
        version: dict[str, Any] | None = answer.json()["version"]
        return version

    def import_targets(version: dict[str, Any]) -> dict[str, str]:
        (share,) = [i for i in version["content"]["indicators"] if i["code"] == "import_share"]
        return {t["period_id"]: t["value"] for t in share["targets"]}

    assert await at("2017-12-31T00:00:00Z") is None
    spring = await at("2018-05-01T00:00:00%2B06:00")
    assert spring is not None and spring["version"] == 1
    assert import_targets(spring)["2018-Q3"] == "70"
    assert [m["status"] for m in spring["content"]["milestones"]] == ["scheduled"] * 3
    autumn = await at("2018-09-01T00:00:00Z")
    assert autumn is not None and autumn["version"] == 2
    assert import_targets(autumn)["2018-Q3"] == "90"
    assert autumn["reason"].startswith("Import substitution")

    now = (await world.get(a, Role.OPERATOR)).json()
    assert (now["version"]["version"], now["at"]) == (2, None)
    assert [m["status"] for m in now["version"]["content"]["milestones"]] == [
        "met",
        "met",
        "scheduled",
    ]
    assert [p["report"] for p in now["periods"]] == ["accepted", "accepted", None, None]


async def test_the_status_and_what_is_overdue_depend_on_the_date(world: World) -> None:
    a, b, c = (routes(world.plan(n))[0] for n in "ABC")

    async def on(path: str, day: str = "") -> dict[str, Any]:
        answer = await world.get(f"{path}?on={day}" if day else path, Role.OPERATOR)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    # A: Q2's import share is a quarter of the way (below three quarters): at risk; nothing
    # overdue, since m2 was met and Q2 reported, late, before.
    summer = await on(a, SUMMER)
    assert (summer["on"], summer["status"], summer["overdue"]) == (SUMMER, "at_risk", [])
    # After Q3's report was due, and after m3 (moved to 31 December) was: late.
    winter = await on(a, "2019-01-01")
    assert winter["status"] == "late"
    assert [(o["kind"], o["item_id"], o["due_on"]) for o in winter["overdue"]] == [
        ("report", "2018-Q3", "2018-10-30"),
        ("milestone", "m3", "2018-12-31"),
    ]
    # The day a due date passes counts from the day after.
    assert (await on(a, "2018-10-30"))["status"] == "at_risk"
    assert (await on(a, "2018-10-31"))["status"] == "late"
    # C: y is overdue (marked by the timer), x was cancelled; its reports were never made.
    c_summer = await on(c, SUMMER)
    assert c_summer["status"] == "late"
    assert [(o["kind"], o["item_id"], o["marked_at"] is not None) for o in c_summer["overdue"]] == [
        ("milestone", "y", True),
        ("report", "2018-Q1", False),
        ("report", "2018-Q2", False),
    ]
    # Without a date: today in the call's time zone.
    today = await on(a)
    assert (today["status"], today["on"] > "2025") == ("late", True)
    # B was never approved: nothing to measure.
    b_now = await on(b)
    assert (b_now["version"], b_now["status"], b_now["pending_state"]) == (None, None, "submitted")
    assert b_now["overdue"] == []


async def test_attainment_over_http_is_exact_and_unknown_is_null(world: World) -> None:
    body = (await world.get(routes(world.plan("A"))[3], Role.ANALYST)).json()
    periods = {i["code"]: {p["period_id"]: p for p in i["periods"]} for i in body["indicators"]}
    assert sorted(periods) == ["exports", "import_share", "joint_projects", "members"]
    share = periods["import_share"]
    assert (share["2018-Q1"]["attainment"], share["2018-Q2"]["attainment"]) == ("2.0000", "0.2500")
    assert share["2018-Q3"] == {
        "period_id": "2018-Q3",
        "plan_version": 2,
        "target": "90",
        "actual": None,
        "attainment": None,
        "report": None,
    }
    assert periods["exports"]["2018-Q1"]["actual"] is None
    assert periods["joint_projects"]["2018-Q2"]["attainment"] == "0.5000"


async def test_budget_execution_per_measure_and_plan_on_a_date(world: World) -> None:
    path = routes(world.plan("A"))[4]
    body = (await world.get(f"{path}?on=2018-06-30", Role.OPERATOR)).json()
    assert body["execution"] == {
        "planned_total": "4500000.00",
        "planned_to_date": "1500000.00",
        "disbursed_to_date": "1400000.50",
        "overall": "0.3111",
        "to_date": "0.9333",
    }
    s1, s2 = body["measures"]
    assert (s1["execution"]["overall"], s1["execution"]["to_date"]) == ("0.2250", "0.9000")
    assert (s2["execution"]["overall"], s2["execution"]["to_date"]) == ("1.0000", "1.0000")
    # Before anything was planned: nothing to execute against yet, so unknown, not zero.
    early = (await world.get(f"{path}?on=2018-01-01", Role.OPERATOR)).json()
    assert (early["execution"]["overall"], early["execution"]["to_date"]) == ("0.0000", None)
    # Without a date: today in the call's time zone, long after every disbursement.
    today = (await world.get(path, Role.OPERATOR)).json()
    assert today["execution"]["overall"] == "0.3111"
    assert today["execution"]["to_date"] == "0.3111"


async def test_the_operators_list_shows_what_is_overdue_on_a_date_across_plans(
    world: World,
) -> None:
    call = world.story.call_id

    async def items(day: str) -> list[tuple[str, str, str, bool]]:
        answer = await world.get(f"/v1/overdue?on={day}&call_id={call}", Role.OPERATOR)
        assert answer.status_code == 200, answer.text
        return [
            (i["registration_number"], i["kind"], i["item_id"], i["marked_at"] is not None)
            for i in answer.json()["items"]
        ]

    assert await items(SUMMER) == [
        ("TC-2017-003", "milestone", "y", True),
        ("TC-2017-003", "report", "2018-Q1", False),
        ("TC-2017-003", "report", "2018-Q2", False),
    ]
    # Before C's x was cancelled it would be on the list too, but what is known now counts:
    # x is cancelled, A's m2 met and its Q2 report submitted.
    assert await items("2018-07-31") == await items(SUMMER)
    assert [(n, i) for n, _, i, _ in await items("2018-11-01")] == [
        ("TC-2017-003", "y"),
        ("TC-2017-003", "2018-Q1"),
        ("TC-2017-003", "2018-Q2"),
        ("TC-2017-001", "2018-Q3"),
        ("TC-2017-003", "2018-Q3"),
    ]
    other = await world.get("/v1/overdue?call_id=no-such-call", Role.AUDITOR)
    assert other.json()["items"] == []
    assert (await world.coordinator("C", "/v1/overdue")).status_code == 403


@pytest.mark.parametrize(
    ("query", "pointer"),
    [
        ("/v1/plans?status=behind", "status"),
        ("/v1/plans?call_id=%01", "call_id"),
        ("/v1/plans/{plan}?at=2018-05-01", "at"),
        ("/v1/plans/{plan}?at=yesterday", "at"),
        ("/v1/plans/{plan}/budget?on=2018-13-01", "on"),
        ("/v1/plans/%7F/attainment", "plan_id"),
        ("/v1/overdue?on=yesterday", "on"),
        ("/v1/plans?on=2018-02-30", "on"),
    ],
)
async def test_a_hostile_parameter_is_a_422_problem_naming_it(
    world: World, query: str, pointer: str
) -> None:
    answer = await world.get(query.format(plan=world.plan("A")), Role.OPERATOR)
    assert (answer.status_code, answer.headers["content-type"]) == (422, PROBLEM)
    assert pointer in answer.text


def service_plans(story: PlanStory) -> dict[str, Plan]:
    """Each plan of the story as plan tracking folds it from the same events."""
    codec = PlanCodec()
    return {
        name: DECIDER.fold(
            [
                codec.decode(decode_envelope(raw))
                for stream, raw in story.events.published
                if stream == f"plan-{plan_id}"
            ]
        )
        for name, plan_id in story.plans.items()
    }


# Every month of the story and the days around the due dates it has.
DAYS = [date(2018, m, 1) for m in range(1, 13)] + [
    date(2018, 3, 31),
    date(2018, 4, 30),
    date(2018, 5, 1),
    date(2018, 6, 30),
    date(2018, 7, 30),
    date(2018, 7, 31),
    date(2018, 10, 30),
    date(2018, 10, 31),
    date(2018, 12, 31),
    date(2019, 1, 1),
    date(2019, 1, 31),
]


async def test_the_readside_computes_what_plan_tracking_computes_on_every_day_asked(
    world: World,
) -> None:
    plans = service_plans(world.story)
    call = world.story.call_id
    for day in DAYS:
        listed = await world.get(f"/v1/plans?call_id={call}&on={day}", Role.OPERATOR)
        overdue = await world.get(f"/v1/overdue?call_id={call}&on={day}", Role.OPERATOR)
        mine = {p["plan_id"]: p for p in listed.json()["plans"]}
        items = overdue.json()["items"]
        for name in "AC":
            theirs = progress(plans[name], day)
            plan_id = world.plan(name)
            assert mine[plan_id]["status"] == theirs.status, (name, day)
            assert sorted(
                (i["kind"], i["item_id"]) for i in items if i["plan_id"] == plan_id
            ) == sorted(
                [("milestone", m) for m in theirs.milestones_overdue]
                + [("report", p) for p in theirs.reports_overdue]
            ), (name, day)
            budget = (await world.get(f"/v1/plans/{plan_id}/budget?on={day}", Role.OPERATOR)).json()
            assert budget["execution"] == {
                "planned_total": str(theirs.budget.planned_total),
                "planned_to_date": str(theirs.budget.planned_to_date),
                "disbursed_to_date": str(theirs.budget.disbursed_to_date),
                "overall": None if theirs.budget.overall is None else str(theirs.budget.overall),
                "to_date": None if theirs.budget.to_date is None else str(theirs.budget.to_date),
            }, (name, day)
    # Attainment does not depend on the day: the accepted periods' figures, target by target.
    theirs_a = progress(plans["A"], DAYS[-1]).attainments
    body = (await world.get(routes(world.plan("A"))[3], Role.OPERATOR)).json()
    mine_a = [
        (i["code"], p["period_id"], p["target"], p["actual"], p["attainment"])
        for i in body["indicators"]
        for p in i["periods"]
        if p["report"] == "accepted" and p["target"] is not None
    ]
    assert sorted(mine_a) == sorted(
        (
            a.code,
            a.period_id,
            str(a.target),
            None if a.actual is None else str(a.actual),
            None if a.attainment is None else str(a.attainment),
        )
        for a in theirs_a
    )
    assert len(mine_a) == 6
