"""Plan tracking's read models on the readside, from real encoded plans events on the broker:
the workflow of versions (returned, drafted again, approved, amended), reports returned and
accepted, milestones moved by accepted reports and kept by an amendment, the timers' overdue
marks, and the derived rows: attainment on the edge cases (direction down, zero baseline,
missing actuals, overshoot, no target) and the budget per measure. A redelivery changes
nothing; a rebuild gives the live rows; an event the read models cannot apply is parked and
the others apply. `PlanStory` builds the events (as the plans service's codec would) for the
API tests too."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from helpers import dead_letter_count, running
from readside_support import Events, new_world, projector, publish
from readside_support import wait_caught_up as wait_projected

from konkurs.plans.v1 import events_pb2 as pb
from konkurs_platform.envelope import Actor, decode_envelope, encode_envelope
from konkurs_platform.protobuf import to_timestamp
from konkurs_platform.settings import Settings
from konkurs_readside.projections.plans import TABLES
from konkurs_readside.rebuild import rebuild
from konkurs_readside.storable import NUL, REPLACEMENT

pytestmark = pytest.mark.integration

D = Decimal
SYSTEM = Actor(subject="plans", role="system")
OPERATOR = Actor(subject="kiri-operator", role="operator")
QUARTERS = [
    ("2018-Q1", "2018-01-01", "2018-03-31", "2018-04-30"),
    ("2018-Q2", "2018-04-01", "2018-06-30", "2018-07-30"),
    ("2018-Q3", "2018-07-01", "2018-09-30", "2018-10-30"),
    ("2018-Q4", "2018-10-01", "2018-12-31", "2019-01-30"),
]
SCHEDULED = pb.MILESTONE_STATUS_SCHEDULED
MET = pb.MILESTONE_STATUS_MET
CANCELLED = pb.MILESTONE_STATUS_CANCELLED
UP, DOWN = pb.DIRECTION_INCREASING, pb.DIRECTION_DECREASING


def milestone(
    milestone_id: str, due_on: str, status: Any = SCHEDULED, met_on: str = ""
) -> pb.Milestone:
    return pb.Milestone(
        milestone_id=milestone_id,
        title=f"Milestone {milestone_id}",
        phase_id="organisation",
        owner="Cluster organisation LLP",
        due_on=due_on,
        status=status,
        met_on=met_on,
    )


def indicator(code: str, direction: Any, baseline: str, targets: dict[str, str]) -> pb.Indicator:
    return pb.Indicator(
        code=code,
        name=code.replace("_", " "),
        unit="units",
        direction=direction,
        baseline_year=2017,
        baseline_value=baseline,
        targets=[pb.Target(period_id=p, value=v) for p, v in targets.items()],
    )


def measure(measure_id: str, amount: str, planned: dict[str, str]) -> pb.SupportMeasure:
    return pb.SupportMeasure(
        measure_id=measure_id,
        kind=f"kind of {measure_id}",
        amount=amount,
        budget_source="republican budget",
        planned=[pb.Disbursement(on=on, amount=a) for on, a in planned.items()],
    )


def content_a(import_targets: dict[str, str], m3_due: str) -> pb.PlanContent:
    """Plan A: one indicator of each edge (members up, import share down, joint projects from
    a zero baseline with targets in half the periods, exports never reported)."""
    return pb.PlanContent(
        milestones=[
            milestone("m1", "2018-02-28"),
            milestone("m2", "2018-06-30"),
            milestone("m3", m3_due),
        ],
        indicators=[
            indicator(
                "members",
                UP,
                "10",
                {"2018-Q1": "12", "2018-Q2": "14", "2018-Q3": "16", "2018-Q4": "20"},
            ),
            indicator("import_share", DOWN, "100", import_targets),
            indicator("joint_projects", UP, "0", {"2018-Q2": "2", "2018-Q4": "3"}),
            indicator("exports", UP, "5", {"2018-Q1": "6"}),
        ],
        support_measures=[
            measure("s1", "4000000.00", {"2018-03-01": "1000000.00", "2018-09-01": "3000000.00"}),
            measure("s2", "500000", {"2018-06-01": "500000"}),
        ],
        summary="Grow the cluster and replace imports.",
    )


IMPORT_V1 = {"2018-Q1": "90", "2018-Q2": "80", "2018-Q3": "70", "2018-Q4": "60"}
IMPORT_V2 = {"2018-Q1": "90", "2018-Q2": "80", "2018-Q3": "90", "2018-Q4": "85"}


def actual(code: str, value: str, *evidence: str) -> pb.IndicatorActual:
    return pb.IndicatorActual(code=code, value=value, evidence_sha256=list(evidence))


def paid(measure_id: str, on: str, amount: str) -> pb.DisbursementMade:
    return pb.DisbursementMade(
        measure_id=measure_id, disbursement=pb.Disbursement(on=on, amount=amount)
    )


@dataclass
class PlanStory:
    """Three plans of one call, as their events:

    - A: returned once, then approved (v1); Q1 accepted (m1 met, members halfway, import
      share overshot, exports unreported); the timers mark m2 and the Q2 report overdue; Q2
      submitted late, returned, submitted again and accepted (m2 met, import share a quarter
      of the way: at risk); amended with a reason (v2: import targets eased from Q3, m3
      moved, every milestone scheduled as drafted: the reports' statuses stand);
    - B: drafted and submitted, never approved;
    - C: approved with x and y, never reported on; the timers mark both overdue; v2 cancels
      x and keeps y (overdue: late).
    """

    call_id: str
    events: Events = field(default_factory=Events)
    plans: dict[str, str] = field(default_factory=dict)
    coordinators: dict[str, str] = field(default_factory=dict)

    def coordinator(self, name: str) -> Actor:
        return Actor(
            subject=f"staff-of-{name}", role="applicant", organisation=self.coordinators[name]
        )

    def at(self, when: str) -> None:
        """The events that follow happen from `when` (UTC) on."""
        self.events.clock = datetime.fromisoformat(when).replace(tzinfo=UTC)

    def emit(self, name: str, message: Any, actor: Actor) -> None:
        self.events.emit(f"plan-{self.plans[name]}", message, actor)

    def open(self, name: str, number: int) -> str:
        plan_id = str(uuid.uuid4())
        self.plans[name] = plan_id
        self.coordinators[name] = f"{uuid.uuid4().int % 10**12:012d}"
        self.emit(
            name,
            pb.PlanOpened(
                plan_id=plan_id,
                call_id=self.call_id,
                registration_number=f"TC-2017-{number:03d}",
                cluster_name=f"Cluster {name}",
                region_code="KZ-75",
                coordinator_bin=self.coordinators[name],
                phases=[
                    pb.Phase(
                        phase_id="organisation",
                        name_ru="Организация",
                        name_kk="Ұйымдастыру",
                        name_en="Organisation",
                        starts_on="2018-01-01",
                        ends_on="2018-12-31",
                    )
                ],
                periods=[
                    pb.ReportingPeriod(period_id=p, starts_on=s, ends_on=e, report_due_on=d)
                    for p, s, e, d in QUARTERS
                ],
                time_zone="Asia/Almaty",
                selection_event_id=str(uuid.uuid4()),
            ),
            SYSTEM,
        )
        return plan_id

    def draft(self, name: str, version: int, content: pb.PlanContent, reason: str = "") -> None:
        plan_id = self.plans[name]
        self.emit(
            name,
            pb.PlanDrafted(plan_id=plan_id, version=version, content=content, reason=reason),
            self.coordinator(name),
        )

    def submit(self, name: str, version: int) -> None:
        self.emit(
            name,
            pb.PlanSubmitted(plan_id=self.plans[name], version=version),
            self.coordinator(name),
        )

    def approve(self, name: str, version: int) -> None:
        self.emit(
            name,
            pb.PlanApproved(
                plan_id=self.plans[name],
                version=version,
                effective_from=to_timestamp(self.events.clock),
            ),
            OPERATOR,
        )

    def report(self, name: str, period: str, version: int, **parts: Any) -> None:
        self.emit(
            name,
            pb.ReportSubmitted(
                plan_id=self.plans[name],
                period_id=period,
                plan_version=version,
                narrative=f"What we did in {period}.",
                **parts,
            ),
            self.coordinator(name),
        )

    def accept(self, name: str, period: str) -> None:
        self.emit(name, pb.ReportAccepted(plan_id=self.plans[name], period_id=period), OPERATOR)

    def milestone_overdue(self, name: str, milestone_id: str, due_on: str) -> None:
        self.emit(
            name,
            pb.MilestoneOverdue(plan_id=self.plans[name], milestone_id=milestone_id, due_on=due_on),
            SYSTEM,
        )

    def tell(self) -> None:
        """Every event of the story, in an order each stream keeps."""
        self.at("2017-12-01T09:00:00")
        self.open("A", 1)
        self.open("B", 2)
        self.open("C", 3)
        self.draft("A", 1, content_a(IMPORT_V1, "2018-09-30"))
        self.submit("A", 1)
        self.emit(
            "A",
            pb.PlanReturned(
                plan_id=self.plans["A"], version=1, comments="Date the training measure."
            ),
            OPERATOR,
        )
        self.draft("A", 1, content_a(IMPORT_V1, "2018-09-30"))
        self.submit("A", 1)
        self.at("2018-01-10T06:00:00")
        self.approve("A", 1)
        self.draft("B", 1, pb.PlanContent(summary="B's first draft"))
        self.submit("B", 1)
        self.draft(
            "C",
            1,
            pb.PlanContent(
                milestones=[milestone("x", "2018-03-31"), milestone("y", "2018-04-30")],
                summary="C's plan",
            ),
        )
        self.submit("C", 1)
        self.approve("C", 1)

        self.at("2018-04-10T05:00:00")
        self.report(
            "A",
            "2018-Q1",
            1,
            actuals=[actual("members", "11", "ab" * 32), actual("import_share", "80")],
            milestones=[pb.MilestoneTransition(milestone_id="m1", status=MET, met_on="2018-02-20")],
            disbursements=[paid("s1", "2018-03-15", "900000.50")],
        )
        self.accept("A", "2018-Q1")
        # The midnight ending 31 March and 30 April in Almaty (UTC+6).
        self.at("2018-03-31T18:00:00")
        self.milestone_overdue("C", "x", "2018-03-31")
        self.at("2018-04-30T18:00:00")
        self.milestone_overdue("C", "y", "2018-04-30")

        self.at("2018-06-30T18:00:00")
        self.milestone_overdue("A", "m2", "2018-06-30")
        self.at("2018-07-30T18:00:00")
        self.emit(
            "A",
            pb.ReportOverdue(plan_id=self.plans["A"], period_id="2018-Q2", due_on="2018-07-30"),
            SYSTEM,
        )
        self.at("2018-08-02T05:00:00")
        q2 = {
            "actuals": [
                actual("members", "13"),
                actual("import_share", "95"),
                actual("joint_projects", "1"),
            ],
            "milestones": [
                pb.MilestoneTransition(milestone_id="m2", status=MET, met_on="2018-07-15")
            ],
            "disbursements": [paid("s2", "2018-06-10", "500000")],
        }
        self.report("A", "2018-Q2", 1, **q2)
        self.emit(
            "A",
            pb.ReportReturned(
                plan_id=self.plans["A"], period_id="2018-Q2", comments="Evidence for members."
            ),
            OPERATOR,
        )
        self.report("A", "2018-Q2", 1, **q2)
        self.accept("A", "2018-Q2")

        self.at("2018-08-20T04:00:00")
        self.draft(
            "A",
            2,
            content_a(IMPORT_V2, "2018-12-31"),
            reason="Import substitution is slower than planned: targets eased from Q3.",
        )
        self.submit("A", 2)
        self.approve("A", 2)
        self.draft(
            "C",
            2,
            pb.PlanContent(
                milestones=[
                    milestone("x", "2018-03-31", CANCELLED),
                    milestone("y", "2018-04-30"),
                ],
                summary="C's plan without x",
            ),
            reason="x is no longer needed.",
        )
        self.submit("C", 2)
        self.approve("C", 2)


def service_of(stream_id: str) -> str:
    """Every stream of these stories is plan tracking's."""
    return "plans"


async def told(settings: Settings, pool: asyncpg.Pool) -> tuple[Settings, str, PlanStory]:
    """A world of its own with the story published and projected, in small batches."""
    world, schema = await new_world(settings, pool)
    story = PlanStory(f"plans-{uuid.uuid4().hex[:8]}")
    story.tell()
    await publish(world, story.events.published, service_of)
    async with running(projector(world, pool, schema, max_records=7)):
        await wait_projected(world, pool, schema)
    return world, schema, story


_KEYS = {
    "plans": "plan_id",
    "plan_versions": "plan_id, version",
    "plan_reports": "plan_id, period_id",
    "plan_overdue": "plan_id, kind, item_id, due_on",
    "plan_attainment": "plan_id, period_id, code",
    "plan_budget": "plan_id, measure_id",
}


async def snapshot(pool: asyncpg.Pool, schema: str) -> dict[str, list[asyncpg.Record]]:
    """Every row of the plans read models, by primary key."""
    async with pool.acquire() as conn:
        return {
            t: list(await conn.fetch(f"SELECT * FROM {schema}.{t} ORDER BY {_KEYS[t]}"))
            for t in TABLES
        }


async def rows_of(pool: asyncpg.Pool, schema: str, table: str, plan_id: str) -> list[Any]:
    async with pool.acquire() as conn:
        return list(
            await conn.fetch(
                f"SELECT * FROM {schema}.{table} WHERE plan_id = $1 ORDER BY {_KEYS[table]}",
                plan_id,
            )
        )


async def test_plan_events_project_into_plans_versions_reports_and_overdue_marks(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    _, schema, story = await told(settings, pool)
    a, b, c = (story.plans[n] for n in "ABC")
    plans = {r["plan_id"]: r for r in (await snapshot(pool, schema))["plans"]}
    assert (plans[a]["current_version"], plans[a]["pending_version"]) == (2, None)
    assert (plans[b]["current_version"], plans[b]["pending_state"]) == (None, "submitted")
    assert plans[a]["latest_accepted_period"] == "2018-Q2"
    # v2 drafts every milestone scheduled: what the accepted reports made of m1 and m2
    # stands; m3 is moved.
    assert [
        (m["milestone_id"], m["status"], m["met_on"], m["due_on"])
        for m in json.loads(plans[a]["milestones"])
    ] == [
        ("m1", "met", "2018-02-20", "2018-02-28"),
        ("m2", "met", "2018-07-15", "2018-06-30"),
        ("m3", "scheduled", None, "2018-12-31"),
    ]
    # A version settles a milestone: C's v2 cancels x.
    assert json.loads(plans[c]["tracked"]) == {
        "x": {"status": "cancelled", "met_on": None},
        "y": {"status": "scheduled", "met_on": None},
    }

    versions = await rows_of(pool, schema, "plan_versions", a)
    assert [(v["version"], v["state"]) for v in versions] == [(1, "superseded"), (2, "approved")]
    v1, v2 = versions
    assert v1["comments"] == "Date the training measure."
    assert v1["effective_to"] == v2["effective_from"]
    assert v2["effective_from"].date() == date(2018, 8, 20)
    assert v2["reason"].startswith("Import substitution is slower")
    assert (v2["drafted_by"], v2["decided_by"]) == ("staff-of-A", "kiri-operator")

    reports = {r["period_id"]: r for r in await rows_of(pool, schema, "plan_reports", a)}
    assert (reports["2018-Q2"]["state"], reports["2018-Q2"]["submissions"]) == ("accepted", 2)
    assert reports["2018-Q2"]["comments"] == "Evidence for members."
    assert json.loads(reports["2018-Q1"]["actuals"])[0]["evidence_sha256"] == ["ab" * 32]

    marks = [
        (r["kind"], r["item_id"], r["due_on"], r["marked_at"])
        for p in (a, c)
        for r in await rows_of(pool, schema, "plan_overdue", p)
    ]
    assert marks == [
        ("milestone", "m2", date(2018, 6, 30), datetime(2018, 6, 30, 18, 7, tzinfo=UTC)),
        ("report", "2018-Q2", date(2018, 7, 30), datetime(2018, 7, 30, 18, 7, tzinfo=UTC)),
        ("milestone", "x", date(2018, 3, 31), datetime(2018, 3, 31, 18, 7, tzinfo=UTC)),
        ("milestone", "y", date(2018, 4, 30), datetime(2018, 4, 30, 18, 7, tzinfo=UTC)),
    ]


async def test_the_milestones_move_when_a_report_is_accepted_not_when_it_is_submitted(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    world, schema = await new_world(settings, pool)
    story = PlanStory(f"plans-{uuid.uuid4().hex[:8]}")
    story.at("2018-01-01T00:00:00")
    story.open("A", 1)
    story.draft("A", 1, content_a(IMPORT_V1, "2018-09-30"))
    story.submit("A", 1)
    story.approve("A", 1)
    story.at("2018-07-02T05:00:00")
    story.report(
        "A",
        "2018-Q2",
        1,
        milestones=[pb.MilestoneTransition(milestone_id="m2", status=MET, met_on="2018-06-29")],
    )
    await publish(world, story.events.published, service_of)
    async with running(projector(world, pool, schema)):
        await wait_projected(world, pool, schema)
        (plan,) = await rows_of(pool, schema, "plans", story.plans["A"])
        assert json.loads(plan["milestones"])[1]["status"] == "scheduled"

        story.accept("A", "2018-Q2")
        await publish(world, story.events.published[-1:], service_of)
        await wait_projected(world, pool, schema)
    (plan,) = await rows_of(pool, schema, "plans", story.plans["A"])
    m2 = json.loads(plan["milestones"])[1]
    assert (m2["status"], m2["met_on"]) == ("met", "2018-06-29")


async def test_attainment_on_direction_down_zero_baseline_missing_actuals_and_overshoot(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    _, schema, story = await told(settings, pool)
    rows = await rows_of(pool, schema, "plan_attainment", story.plans["A"])
    got = {
        (r["code"], r["period_id"]): (r["plan_version"], r["target"], r["actual"], r["attainment"])
        for r in rows
    }
    assert len(got) == 16
    # Every period against the version in effect (v2), as plan tracking measures them.
    # Halfway from 10 towards 12; then three quarters from 10 towards 14.
    assert got["members", "2018-Q1"] == (2, D(12), D(11), D("0.5000"))
    assert got["members", "2018-Q2"] == (2, D(14), D(13), D("0.7500"))
    # Less is better: 80 against a target of 90 from 100 overshoots it twice over; 95
    # against 80 is a quarter of the way.
    assert got["import_share", "2018-Q1"] == (2, D(90), D(80), D("2.0000"))
    assert got["import_share", "2018-Q2"] == (2, D(80), D(95), D("0.2500"))
    # A zero baseline; no target in Q1, so no figure even with nothing reported.
    assert got["joint_projects", "2018-Q1"] == (2, None, None, None)
    assert got["joint_projects", "2018-Q2"] == (2, D(2), D(1), D("0.5000"))
    # An indicator the report leaves out is unknown, not zero.
    assert got["exports", "2018-Q1"] == (2, D(6), None, None)
    # Periods without an accepted report: the eased targets, nothing known yet.
    assert got["import_share", "2018-Q3"] == (2, D(90), None, None)
    assert got["members", "2018-Q4"] == (2, D(20), None, None)
    states = {r["period_id"]: r["report_state"] for r in rows}
    assert states == {
        "2018-Q1": "accepted",
        "2018-Q2": "accepted",
        "2018-Q3": None,
        "2018-Q4": None,
    }


async def test_budget_rows_count_the_disbursements_of_accepted_reports_per_measure(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    _, schema, story = await told(settings, pool)
    rows = await rows_of(pool, schema, "plan_budget", story.plans["A"])
    assert [
        (r["measure_id"], r["plan_version"], r["planned_total"], r["disbursed_total"]) for r in rows
    ] == [("s1", 2, D("4000000.00"), D("900000.50")), ("s2", 2, D(500000), D(500000))]
    assert json.loads(rows[0]["disbursed"]) == [
        {"on": "2018-03-15", "amount": "900000.50", "period_id": "2018-Q1"}
    ]
    assert await rows_of(pool, schema, "plan_budget", story.plans["C"]) == []


async def test_a_redelivery_of_every_plan_event_changes_nothing(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    world, schema, story = await told(settings, pool)
    before = await snapshot(pool, schema)
    # The relay publishes at least once: every event once more, seen in later batches ...
    await publish(world, story.events.published, service_of)
    async with running(projector(world, pool, schema, max_records=7)):
        await wait_projected(world, pool, schema)
    assert await snapshot(pool, schema) == before
    # ... and in the very batch of the originals, where no stored row guards them yet.
    again, fresh = await new_world(settings, pool)
    await publish(again, story.events.published + story.events.published[::3], service_of)
    async with running(projector(again, pool, fresh, max_records=5000)):
        await wait_projected(again, pool, fresh)
    assert await snapshot(pool, fresh) == before


async def test_a_rebuild_of_the_plans_read_models_equals_the_live_rows(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    world, schema, _ = await told(settings, pool)
    live = await snapshot(pool, schema)
    report = await rebuild(world, pool, schema=schema, names=["plans"])
    assert report.events > 0
    assert await snapshot(pool, schema) == live


async def test_a_plan_event_the_read_models_cannot_apply_is_parked_and_the_others_apply(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    world, schema = await new_world(settings, pool)
    story = PlanStory(f"plans-{uuid.uuid4().hex[:8]}")
    story.at("2018-01-01T00:00:00")
    story.open("A", 1)
    broken = content_a(IMPORT_V1, "2018-09-30")
    broken.indicators[0].targets[0].value = "NaN"
    story.draft("A", 1, broken)
    story.draft("A", 1, content_a(IMPORT_V1, "2018-09-30"))
    story.submit("A", 1)
    story.approve("A", 1)
    # A report on a period the plan does not have, and an event of a plan never opened.
    story.report("A", "2031-Q1", 1)
    story.plans["ghost"] = str(uuid.uuid4())
    story.coordinators["ghost"] = "000000000000"
    story.submit("ghost", 1)
    # A NUL in text the read models store (PostgreSQL text cannot hold one).
    story.report("A", "2018-Q1", 1, actuals=[actual("members", "11")])
    story.events.published[-1] = (
        story.events.published[-1][0],
        _with_narrative(story.events.published[-1][1], f"We{NUL}grew."),
    )
    story.accept("A", "2018-Q1")
    await publish(world, story.events.published, service_of)
    async with running(projector(world, pool, schema)):
        await wait_projected(world, pool, schema)

    assert await dead_letter_count(world) == 3
    (plan,) = await rows_of(pool, schema, "plans", story.plans["A"])
    assert (plan["current_version"], plan["latest_accepted_period"]) == (1, "2018-Q1")
    (report,) = await rows_of(pool, schema, "plan_reports", story.plans["A"])
    assert report["narrative"] == f"We{REPLACEMENT}grew."
    members = [
        r["attainment"]
        for r in await rows_of(pool, schema, "plan_attainment", story.plans["A"])
        if r["code"] == "members" and r["period_id"] == "2018-Q1"
    ]
    assert members == [D("0.5000")]
    async with pool.acquire() as conn:
        assert await conn.fetchval(f"SELECT count(*) FROM {schema}.plans") == 1


def _with_narrative(raw: bytes, narrative: str) -> bytes:
    """The envelope `raw` with its report's narrative replaced."""
    envelope = decode_envelope(raw)
    report = pb.ReportSubmitted.FromString(envelope.payload)
    report.narrative = narrative
    return encode_envelope(replace(envelope, payload=report.SerializeToString()))
