"""Open data on real Kafka and PostgreSQL: the commission's and plan tracking's events, as
their services publish them (with a redelivery), project into the awards read model; the
public 360Giving package of it validates against the official schema and holds exactly the
approved support measures of the awards that stand, with the disbursements of accepted
reports; its CSV is the same grants; a rebuild of the read model equals the live one."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from helpers import running
from readside_support import Events, new_world, projector, publish, table_rows, wait_caught_up

from konkurs.commission.v1 import events_pb2 as commission
from konkurs.plans.v1 import events_pb2 as plans
from konkurs_platform.envelope import Actor
from konkurs_platform.protobuf import to_timestamp
from konkurs_platform.settings import Settings
from konkurs_readside.bootstrap import create_app
from konkurs_readside.projections import PROJECTIONS
from konkurs_readside.rebuild import rebuild
from tests.unit.test_open_data_360giving import errors

pytestmark = pytest.mark.integration

TABLES = PROJECTIONS["awards"].tables
SECRETARY = Actor(subject="commission-secretary", role="commission_secretary")
COORDINATOR = Actor(subject="coordinator-staff", role="applicant")
RATIONALE = "Ranked below a fundable candidate: the regional programme for 2018-2020."
PUBLISHED_AT = datetime(2017, 7, 20, 10, tzinfo=UTC)
# Which service publishes a stream, by the stream id's prefix.
_SERVICES = {"call": "intake", "application": "intake", "meeting": "commission", "plan": "plans"}


def measure(measure_id: str, kind: str, amount: str, source: str) -> plans.SupportMeasure:
    return plans.SupportMeasure(
        measure_id=measure_id,
        kind=kind,
        amount=amount,
        budget_source=source,
        planned=[plans.Disbursement(on="2018-03-01", amount=amount)],
    )


def paid(measure_id: str, on: str, amount: str) -> plans.DisbursementMade:
    return plans.DisbursementMade(
        measure_id=measure_id, disbursement=plans.Disbursement(on=on, amount=amount)
    )


def _service(stream_id: str) -> str:
    return _SERVICES[stream_id.split("-", 1)[0]]


@dataclass
class AwardsStory:
    """Four applications; the commission selects A1, A2 and A3 (A3 with a rationale), A2
    withdraws and A4 takes its place from the reserve. Their plans:

    - A1: v1 approved (m1 1,000,000.00 republican, m2 250,000.50 local); Q1 accepted with a
      disbursement of 400,000 of m1; Q2 submitted (100,000 of m1), not accepted; v2 drafted
      (m1 raised), not approved;
    - A2: v1 approved, but its award was taken back;
    - A3: v1 approved, then v2 approved with a marketing measure added;
    - A4: v1 drafted, not approved yet.
    """

    call_id: str
    events: Events = field(default_factory=Events)
    apps: list[str] = field(default_factory=list)
    coordinators: list[str] = field(default_factory=list)
    meeting_id: str = field(default_factory=lambda: f"mt-{uuid.uuid4().hex[:10]}")

    def tell(self) -> None:
        self.events.announce(self.call_id)
        for n in range(1, 5):
            coordinator = f"{uuid.uuid4().int % 10**12:012d}"
            self.coordinators.append(coordinator)
            self.apps.append(self.events.submit(self.call_id, n, "KZ-75", coordinator=coordinator))
        a1, a2, a3, a4 = self.apps
        self.decide()
        for app in (a1, a2, a3):
            self.select(app)
        self.meeting(
            commission.WinnerReplaced(
                meeting_id=self.meeting_id,
                withdrawn_application_id=a2,
                cause="withdrawn",
                reason="The coordinator withdrew the application.",
                replacement_application_id=a4,
            )
        )
        self.select(a4, from_reserve=True)

        self.draft(
            a1,
            1,
            measure("m1", "co-financing", "1000000.00", "republican budget"),
            measure("m2", "training", "250000.50", "local budget"),
        )
        self.approve(a1, 1)
        self.report(a1, "2018-Q1", paid("m1", "2018-02-15", "400000.00"))
        self.accept(a1, "2018-Q1")
        self.report(a1, "2018-Q2", paid("m1", "2018-05-15", "100000.00"))
        self.draft(
            a1,
            2,
            measure("m1", "co-financing", "1200000.00", "republican budget"),
            measure("m2", "training", "250000.50", "local budget"),
        )

        self.draft(a2, 1, measure("m1", "training", "90000", "local budget"))
        self.approve(a2, 1)

        self.draft(a3, 1, measure("m1", "training", "500000", "local budget"))
        self.approve(a3, 1)
        self.draft(
            a3,
            2,
            measure("m1", "training", "500000", "local budget"),
            measure("m3", "marketing", "300000", "development institution"),
        )
        self.approve(a3, 2)

        self.draft(a4, 1, measure("m1", "training", "70000", "local budget"))

    def meeting(self, message: object) -> None:
        self.events.emit(f"meeting-{self.meeting_id}", message, SECRETARY)

    def decide(self) -> None:
        """The meeting on the ranking of A1..A4 (quota 3), and its published decision."""
        a1, a2, a3, a4 = self.apps
        self.meeting(
            commission.MeetingScheduled(
                meeting_id=self.meeting_id,
                call_id=self.call_id,
                scheduled_for=to_timestamp(PUBLISHED_AT - timedelta(days=7)),
                venue="online",
                ranking_event_id=str(uuid.uuid4()),
                ranking_version=1,
                ranking_content_hash="cd" * 32,
                candidates=[
                    commission.Candidate(
                        application_id=app,
                        registration_number=f"TC-2017-{rank:03d}",
                        rank=rank,
                        fundable=True,
                        overall=f"{90 - rank}/1",
                        cluster_name=f"Cluster {rank}",
                        region_code="KZ-75",
                        participant_bins=[self.coordinators[rank - 1]],
                    )
                    for rank, app in enumerate(self.apps, start=1)
                ],
                quota=3,
                composition_version=1,
                time_zone="Asia/Almaty",
            )
        )

        def candidate(app: str, rationale: str = "") -> commission.DecidedCandidate:
            rank = self.apps.index(app) + 1
            return commission.DecidedCandidate(
                application_id=app,
                registration_number=f"TC-2017-{rank:03d}",
                rank=rank,
                tally=commission.Tally(votes_for=4, votes_against=1),
                rationale=rationale,
            )

        self.meeting(
            commission.DecisionPublished(
                meeting_id=self.meeting_id,
                call_id=self.call_id,
                selected=[candidate(a1), candidate(a2), candidate(a3, RATIONALE)],
                declined=[candidate(a4)],
                reserve_application_ids=[a4],
                minutes_sha256="ab" * 32,
                published_at=to_timestamp(PUBLISHED_AT),
                appeals_close_at=to_timestamp(PUBLISHED_AT + timedelta(days=31)),
            )
        )

    def select(self, app: str, *, from_reserve: bool = False) -> None:
        """The commission selects `app`; plan tracking opens its plan."""
        rank = self.apps.index(app) + 1
        self.meeting(
            commission.ClusterSelected(
                call_id=self.call_id,
                application_id=app,
                registration_number=f"TC-2017-{rank:03d}",
                cluster_name=f"Cluster {rank}",
                region_code="KZ-75",
                coordinator_bin=self.coordinators[rank - 1],
                rank=rank,
                meeting_id=self.meeting_id,
                selected_at=to_timestamp(PUBLISHED_AT),
                from_reserve=from_reserve,
            )
        )
        opened = plans.PlanOpened(
            plan_id=app,
            call_id=self.call_id,
            registration_number=f"TC-2017-{rank:03d}",
            cluster_name=f"Cluster {rank}",
            region_code="KZ-75",
            coordinator_bin=self.coordinators[rank - 1],
            periods=[
                plans.ReportingPeriod(
                    period_id=f"2018-Q{q}",
                    starts_on=f"2018-{3 * q - 2:02d}-01",
                    ends_on=f"2018-{3 * q:02d}-28",
                    report_due_on=f"2018-{3 * q + 1:02d}-28",
                )
                for q in (1, 2)
            ],
            time_zone="Asia/Almaty",
            selection_event_id=str(uuid.uuid4()),
        )
        self.events.emit(f"plan-{app}", opened, Actor(subject="plans", role="system"))

    def draft(self, app: str, version: int, *measures: plans.SupportMeasure) -> None:
        content = plans.PlanContent(support_measures=measures, summary="grow together")
        self.events.emit(
            f"plan-{app}",
            plans.PlanDrafted(plan_id=app, version=version, content=content),
            COORDINATOR,
        )

    def approve(self, app: str, version: int) -> None:
        approved = plans.PlanApproved(
            plan_id=app, version=version, effective_from=to_timestamp(self.events.clock)
        )
        self.events.emit(f"plan-{app}", approved, COORDINATOR)

    def accept(self, app: str, period: str) -> None:
        accepted = plans.ReportAccepted(plan_id=app, period_id=period)
        self.events.emit(f"plan-{app}", accepted, COORDINATOR)

    def report(self, app: str, period: str, *disbursements: plans.DisbursementMade) -> None:
        self.events.emit(
            f"plan-{app}",
            plans.ReportSubmitted(
                plan_id=app, period_id=period, plan_version=1, disbursements=disbursements
            ),
            COORDINATOR,
        )


@dataclass
class World:
    settings: Settings
    schema: str
    http: httpx.AsyncClient
    story: AwardsStory


@pytest.fixture(scope="module")
async def world(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[World]:
    s, schema = await new_world(settings, pool)
    story = AwardsStory(f"awards-{uuid.uuid4().hex[:8]}")
    story.tell()
    # A redelivery of the commission's and the plans' first events, as a relay may make.
    again = [r for r in story.events.published if r[0].startswith(("meeting", "plan"))][:8]
    await publish(s, [*story.events.published, *again], _service)
    async with running(projector(s, pool, schema, max_records=5)):
        await wait_caught_up(s, pool, schema)
    app = create_app(s, schema=schema)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://readside") as http:
            yield World(s, schema, http, story)


async def test_the_public_package_validates_against_the_official_360giving_schema(
    world: World,
) -> None:
    answer = await world.http.get("/v1/open-data/360giving.json")  # no token: public
    assert answer.status_code == 200, answer.text
    assert errors(answer.json()) == []


async def test_grants_are_the_approved_measures_of_the_awards_that_stand(world: World) -> None:
    a1, _, a3, _ = world.story.apps
    grants = {
        g["id"]: g for g in (await world.http.get("/v1/open-data/360giving.json")).json()["grants"]
    }
    assert sorted(grants) == sorted(
        [
            f"360G-konkurs-{a1}-m1",
            f"360G-konkurs-{a1}-m2",
            f"360G-konkurs-{a3}-m1",
            f"360G-konkurs-{a3}-m3",
        ]
    )
    a1m1 = grants[f"360G-konkurs-{a1}-m1"]
    # v1's amount (v2 is not approved); Q1's disbursement (Q2's report is not accepted).
    assert (a1m1["amountAwarded"], a1m1["amountDisbursed"]) == (1000000, 400000)
    assert [t["transactionDate"] for t in a1m1["disbursementTransaction"]] == ["2018-02-15"]
    coordinator = world.story.coordinators[0]
    assert a1m1["recipientOrganization"] == [
        {
            "id": f"KZ-BIN-{coordinator}",
            "name": f"Org {coordinator}",
            "companyNumber": coordinator,
            "addressCountry": "Kazakhstan",
        }
    ]
    assert a1m1["grantProgramme"] == [
        {"code": "territorial-clusters", "title": "Cluster competition"}
    ]
    a3m3 = grants[f"360G-konkurs-{a3}-m3"]
    assert (a3m3["amountAwarded"], a3m3["fundingOrganization"][0]["department"]) == (
        300000,
        "development institution",
    )
    assert RATIONALE in a3m3["description"]
    assert "disbursementTransaction" not in a3m3
    assert grants[f"360G-konkurs-{a1}-m2"]["amountAwarded"] == 250000.5


async def test_the_csv_holds_the_same_grants_under_the_standard_titles(world: World) -> None:
    package = (await world.http.get("/v1/open-data/360giving.json")).json()
    answer = await world.http.get("/v1/open-data/360giving.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["Identifier"] for r in rows] == [g["id"] for g in package["grants"]]
    assert [r["Amount Awarded"] for r in rows] == [
        str(g["amountAwarded"]) for g in package["grants"]
    ]
    assert {r["Recipient Org:Identifier"] for r in rows} == {
        f"KZ-BIN-{world.story.coordinators[n]}" for n in (0, 2)
    }


async def test_a_rebuild_of_the_awards_read_model_equals_the_live_one(
    world: World, pool: asyncpg.Pool
) -> None:
    live = {t: await table_rows(pool, world.schema, t) for t in TABLES}
    assert len(live["awards"]) == 4 and len(live["award_reports"]) == 2
    await rebuild(world.settings, pool, schema=world.schema, names=["awards"])
    assert {t: await table_rows(pool, world.schema, t) for t in TABLES} == live
