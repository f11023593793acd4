"""The query API over the read models: the 2017 summary, filters, sorting and keyset
pagination, revision history, the registration journal, streamed exports, and who sees what
(applicant: its organisation's; regional operator: its region's; analyst: no personal data;
operator and auditor: everything; other roles: nothing)."""

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
from helpers import running
from readside_support import (
    PRESS_RELEASE_2017,
    Events,
    new_world,
    projector,
    publish,
    wait_caught_up,
)

from konkurs_platform.auth import Role, mint_token
from konkurs_platform.settings import Settings
from konkurs_readside.bootstrap import create_app
from konkurs_readside.projections import PROJECTIONS

pytestmark = pytest.mark.integration

CALL = "territorial-clusters-2017"
PARTNER = "990000000001"  # a participant of the first Pavlodar cluster, not its coordinator
PII = ("Aigerim Nurlanovna", "+7 701 234 5678", "aigerim@example.kz")


@dataclass
class World:
    settings: Settings
    http: httpx.AsyncClient
    amended: str
    withdrawn: str
    pavlodar: list[str]

    async def get(self, path: str, role: Role, **claims: Any) -> httpx.Response:
        token = mint_token(self.settings, role, f"{role.value}-1", **claims)
        return await self.http.get(path, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
async def world(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[World]:
    s, schema = await new_world(settings, pool)
    events = Events()
    events.announce(CALL)
    number = 0
    ids: dict[str, list[str]] = {}
    for region, count in PRESS_RELEASE_2017.items():
        for _ in range(count):
            number += 1
            partners = (PARTNER,) if region == "KZ-55" and not ids.get(region) else ()
            specialisation = ("16100",) if number % 2 else ("20130", "16100")
            app = events.submit(
                CALL,
                number,
                region,
                coordinator=f"{number:012d}",
                participants=partners,
                specialisation=specialisation,
            )
            ids.setdefault(region, []).append(app)
    amended, withdrawn = ids["KZ-75"][0], ids["KZ-63"][0]
    events.amend(amended, 2, "Almaty IT cluster")
    events.attach(amended, "letter.pdf")
    events.withdraw(withdrawn, "merged")
    await publish(s, events.published)
    async with running(projector(s, pool, schema)):
        await wait_caught_up(s, pool, schema)
    app = create_app(s, schema=schema)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://readside") as http:
            yield World(s, http, amended, withdrawn, ids["KZ-55"])


async def all_pages(w: World, query: str, role: Role, **claims: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        answer = await w.get(f"/v1/applications?{query}&limit=4{cursor}", role, **claims)
        assert answer.status_code == 200, answer.text
        items.extend(answer.json()["items"])
        if answer.json()["next_cursor"] is None:
            return items
        cursor = f"&cursor={answer.json()['next_cursor']}"


async def test_the_2017_summary_shows_the_press_release_table(world: World) -> None:
    answer = await world.get(f"/v1/calls/{CALL}/summary", Role.APPLICANT, org="000000000001")
    body = answer.json()
    assert {r["region_code"]: r["applications"] for r in body["by_region"]} == PRESS_RELEASE_2017
    assert (body["applications"], body["regions"]) == (21, 11)
    assert body["by_status"] == {"submitted": 20, "withdrawn": 1}
    assert (await world.get("/v1/calls/nope/summary", Role.OPERATOR)).status_code == 404


async def test_keyset_pages_cover_every_application_once_in_sort_order(world: World) -> None:
    items = await all_pages(world, f"call_id={CALL}&sort=-registration_number", Role.OPERATOR)
    numbers = [i["registration_number"] for i in items]
    assert numbers == [f"TC-2017-{n:03d}" for n in range(21, 0, -1)]
    by_time = await all_pages(world, "sort=submitted_at", Role.OPERATOR)
    assert [i["submitted_at"] for i in by_time] == sorted(i["submitted_at"] for i in by_time)
    assert len(by_time) == 21
    stale = await world.get("/v1/applications?sort=cluster_name&cursor=bm9wZQ", Role.OPERATOR)
    assert stale.status_code == 422


async def test_filters_by_region_status_and_specialisation(world: World) -> None:
    pavlodar = await all_pages(world, "region=KZ-55&region=KZ-11", Role.OPERATOR)
    assert len(pavlodar) == 5
    withdrawn = await all_pages(world, "status=withdrawn", Role.OPERATOR)
    assert [i["application_id"] for i in withdrawn] == [world.withdrawn]
    chemistry = await all_pages(world, "specialisation=20130", Role.OPERATOR)
    assert len(chemistry) == 10


async def test_an_applicant_sees_the_applications_its_organisation_takes_part_in(
    world: World,
) -> None:
    as_partner = await all_pages(world, "sort=submitted_at", Role.APPLICANT, org=PARTNER)
    assert [i["application_id"] for i in as_partner] == world.pavlodar[:1]
    own = await all_pages(world, "sort=submitted_at", Role.APPLICANT, org="000000000001")
    assert [i["registration_number"] for i in own] == ["TC-2017-001"]
    other = await world.get(f"/v1/applications/{world.amended}", Role.APPLICANT, org=PARTNER)
    assert other.status_code == 403


async def test_a_regional_operator_sees_its_region_only(world: World) -> None:
    items = await all_pages(world, "sort=submitted_at", Role.REGIONAL_OPERATOR, region="KZ-55")
    assert sorted(i["application_id"] for i in items) == sorted(world.pavlodar)
    detail = await world.get(
        f"/v1/applications/{world.pavlodar[0]}", Role.REGIONAL_OPERATOR, region="KZ-55"
    )
    assert detail.status_code == 200
    outside = await world.get(
        f"/v1/applications/{world.amended}", Role.REGIONAL_OPERATOR, region="KZ-55"
    )
    assert outside.status_code == 403


async def test_an_analyst_sees_no_personal_data_anywhere(world: World) -> None:
    listed = await world.get("/v1/applications?limit=500", Role.ANALYST)
    detail = await world.get(f"/v1/applications/{world.amended}", Role.ANALYST)
    journal = await world.get(f"/v1/calls/{CALL}/journal", Role.ANALYST)
    exported = await world.get("/v1/exports/applications.csv", Role.ANALYST)
    for answer in (listed, detail, journal, exported):
        assert answer.status_code == 200
        assert not any(value in answer.text for value in PII)
        assert "applicant-1" not in answer.text  # the people who acted are not shown either
    assert len(listed.json()["items"]) == 21
    assert "contact" not in detail.json()["content"]


async def test_operators_and_auditors_see_everything_other_roles_nothing(world: World) -> None:
    for role in (Role.OPERATOR, Role.AUDITOR, Role.ADMIN):
        detail = await world.get(f"/v1/applications/{world.amended}", role)
        assert detail.json()["contact"]["email"] == PII[2]
        assert detail.json()["content"]["contact"]["phone"] == PII[1]
    for role in (Role.EXPERT, Role.COMMISSION_MEMBER):
        assert (await world.get("/v1/applications", role)).status_code == 403
    assert (await world.http.get("/v1/applications")).status_code == 401


async def test_an_application_shows_its_revisions_and_history(world: World) -> None:
    body = (await world.get(f"/v1/applications/{world.amended}", Role.OPERATOR)).json()
    assert (body["revision"], body["version"], body["document_count"]) == (2, 3, 2)
    assert [r["content"]["cluster"]["name"] for r in body["revisions"]] == [
        "Cluster 1",
        "Almaty IT cluster",
    ]
    assert [h["entry"] for h in body["history"]] == ["submitted", "amended", "document_attached"]
    assert (await world.get("/v1/applications/nope", Role.OPERATOR)).status_code == 404


async def test_the_registration_journal_lists_every_registration_act_in_order(
    world: World,
) -> None:
    entries = (await world.get(f"/v1/calls/{CALL}/journal", Role.OPERATOR)).json()["entries"]
    assert len(entries) == 21 + 3
    assert [e["occurred_at"] for e in entries] == sorted(e["occurred_at"] for e in entries)
    scoped = await world.get(f"/v1/calls/{CALL}/journal", Role.REGIONAL_OPERATOR, region="KZ-63")
    assert {e["region_code"] for e in scoped.json()["entries"]} == {"KZ-63"}
    assert len(scoped.json()["entries"]) == 4


async def test_exports_stream_csv_and_parquet_with_the_callers_columns(world: World) -> None:
    as_csv = await world.get("/v1/exports/applications.csv?region=KZ-75", Role.OPERATOR)
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(rows) == 4 and rows[0]["contact_email"] == PII[2]
    as_parquet = await world.get("/v1/exports/applications.parquet", Role.ANALYST)
    assert as_parquet.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(as_parquet.content))
    assert table.num_rows == 21
    assert "contact_email" not in table.column_names
    assert sorted(table.column("region_code").to_pylist()).count("KZ-75") == 4


async def test_readyz_and_metrics_show_the_lag_of_every_projection(world: World) -> None:
    ready = await world.http.get("/readyz")
    assert ready.status_code == 200, ready.text
    projections = ready.json()["projections"]
    assert set(projections) == {*PROJECTIONS, "audit"}
    assert {"calls", "applications", "screening", "rankings"} <= set(projections)
    assert all(p["lag"] == 0 for p in projections.values())
    metrics = await world.http.get("/metrics")
    assert 'konkurs_projection_lag_events{projection="applications"' in metrics.text
