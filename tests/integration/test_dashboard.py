"""The dashboard over HTTP, on real Kafka and PostgreSQL: its figures equal the read-model
API's (the funnel, the press release's regional table, the ranking), hostile strings from
events render as text, an analyst sees no contact data and no expert, roles that read no
programme are refused (a page for a browser, a problem for an API client), the sign-in keeps
the token in an HttpOnly, SameSite=Strict cookie only for a form with its CSRF token, and the
language switch changes words and number formats.

`dashboard_world` is the browser tests' world too (tests/browser/)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import asyncpg
import httpx
import pytest
from helpers import running
from readside_support import PRESS_RELEASE_2017, new_world, projector, publish, wait_caught_up
from test_readside_scoring import EXPERT_NAMES, ScoringStory, service_of

from konkurs_platform.auth import Role, mint_token
from konkurs_platform.settings import Settings
from konkurs_readside.bootstrap import create_app

pytestmark = pytest.mark.integration

# The first application's name after its amendment: markup that would run if unescaped.
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>&amp;'
CONTACT = ("Aigerim Nurlanovna", "+7 701 234 5678", "aigerim@example.kz")
HTML = {"Accept": "text/html,application/xhtml+xml"}


@dataclass
class DashboardWorld:
    """A call of 21 applications in the press release's regions (the scoring story's four,
    screened, evaluated and ranked, in Almaty), projected into a readside schema of its own."""

    settings: Settings
    schema: str
    story: ScoringStory

    @property
    def call(self) -> str:
        return self.story.call_id

    def token(self, role: Role, **claims: Any) -> str:
        return mint_token(self.settings, role, f"{role.value}-dash", **claims)


async def dashboard_world(settings: Settings, pool: asyncpg.Pool) -> DashboardWorld:
    """The story told, the other regions' applications submitted, the first application
    renamed to `HOSTILE`, all published and projected."""
    world, schema = await new_world(settings, pool)
    story = ScoringStory(f"dash-{uuid.uuid4().hex[:8]}")
    await story.tell(pool)
    number = len(story.apps)
    for region, count in PRESS_RELEASE_2017.items():
        for _ in range(count - (len(story.apps) if region == "KZ-75" else 0)):
            number += 1
            story.events.submit(
                story.call_id,
                number,
                region,
                coordinator=f"{uuid.uuid4().int % 10**12:012d}",
                # Two sectors: software (J) for every third, food (C) for the others.
                specialisation=("62010",) if number % 3 == 0 else ("10110",),
            )
    story.events.amend(story.apps[0], 2, HOSTILE)
    await publish(world, story.events.published, service_of)
    async with running(projector(world, pool, schema, max_records=50)):
        await wait_caught_up(world, pool, schema)
    return DashboardWorld(world, schema, story)


class Cells(HTMLParser):
    """The `data-value` of the cells of every table row marked with a `data-<key>`
    attribute, by that attribute's value: what the pages mark for machines to read."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = f"data-{key}"
        self.rows: dict[str, list[str]] = {}
        self._row: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr":
            self._row = found.get(self.key)
            if self._row is not None:
                self.rows[self._row] = []
        elif tag == "td" and self._row is not None and "data-value" in found:
            self.rows[self._row].append(found["data-value"] or "")

    @classmethod
    def of(cls, page: str, key: str) -> dict[str, list[str]]:
        parser = cls(key)
        parser.feed(page)
        return parser.rows


@dataclass
class Client:
    world: DashboardWorld
    http: httpx.AsyncClient

    async def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        """A request with exactly `headers`: no cookie an earlier answer set."""
        self.http.cookies.clear()
        return await self.http.get(path, headers=headers)

    async def post(self, path: str, content: str, headers: dict[str, str]) -> httpx.Response:
        self.http.cookies.clear()
        return await self.http.post(path, content=content, headers=headers)

    async def page(self, path: str, role: Role, **claims: Any) -> httpx.Response:
        token = self.world.token(role, **claims)
        return await self.get(path, {**HTML, "Authorization": f"Bearer {token}"})

    async def api(self, path: str, role: Role) -> Any:
        token = self.world.token(role)
        answer = await self.get(path, {"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture(scope="module")
async def client(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[Client]:
    world = await dashboard_world(settings, pool)
    app = create_app(world.settings, schema=world.schema)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://readside") as http:
            yield Client(world, http)


async def test_the_overview_shows_the_press_release_table_and_the_funnel_the_api_counts(
    client: Client,
) -> None:
    call = client.world.call
    answer = await client.page(f"/dashboard/calls/{call}", Role.OPERATOR)
    assert answer.status_code == 200, answer.text
    regions = Cells.of(answer.text, "region")
    assert {code: int(values[0]) for code, values in regions.items()} == PRESS_RELEASE_2017
    summary = await client.api(f"/v1/calls/{call}/summary", Role.OPERATOR)
    assert {r["region_code"]: r["applications"] for r in summary["by_region"]} == {
        code: int(values[0]) for code, values in regions.items()
    }
    funnel = {stage: values[0] for stage, values in Cells.of(answer.text, "stage").items()}
    screening = await client.api(f"/v1/calls/{call}/screening", Role.OPERATOR)
    progress = await client.api(f"/v1/calls/{call}/progress", Role.OPERATOR)
    ranking = await client.api(f"/v1/calls/{call}/ranking", Role.OPERATOR)
    assert funnel["received"] == str(summary["applications"]) == "21"
    assert funnel["eligible"] == str(screening["eligible"]) == "3"
    assert funnel["evaluated"] == str(progress["by_stage"]["final"]) == "2"
    assert funnel["fundable"] == str(sum(e["fundable"] for e in ranking["entries"]))
    # No commission or plans read model yet: said so, not counted as zero.
    assert (funnel["selected"], funnel["plans_on_track"]) == ("", "")
    sectors = {s: int(v[0]) for s, v in Cells.of(answer.text, "section").items()}
    assert sectors == {"C": 4 + 11, "J": 6}


async def test_the_evaluation_page_shows_the_ranking_the_api_publishes(client: Client) -> None:
    call = client.world.call
    answer = await client.page(f"/dashboard/calls/{call}/evaluation", Role.ANALYST)
    assert answer.status_code == 200, answer.text
    ranking = await client.api(f"/v1/calls/{call}/ranking", Role.ANALYST)
    ranks = Cells.of(answer.text, "rank")
    assert {int(rank): v[0] for rank, v in ranks.items()} == {
        e["rank"]: e["overall"]["exact"] for e in ranking["entries"]
    }
    assert f"{ranking['ranking_version']}" in answer.text and ranking["content_hash"] in answer.text
    medians = Cells.of(answer.text, "criterion")
    assert set(medians) == {"strategy", "participants"}
    # The consensus case of the second application, without its rapporteur for an analyst.
    a2 = client.world.story.apps[1]
    assert f'data-application="{a2}"' in answer.text
    assert client.world.story.expert_id("a") not in answer.text


async def test_hostile_strings_from_events_render_as_text(client: Client) -> None:
    call = client.world.call
    overview = await client.page(f"/dashboard/calls/{call}", Role.OPERATOR)
    a1 = client.world.story.apps[0]
    audit = await client.page(f"/dashboard/applications/{a1}/audit", Role.AUDITOR)
    for answer in (overview, audit):
        assert answer.status_code == 200, answer.text
        assert "<script>alert" not in answer.text and "<img src=x" not in answer.text
        assert "&lt;script&gt;alert(" in answer.text
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    # Even the entity in the name is text: escaped once more, never decoded.
    assert "&amp;amp;" in overview.text


async def test_an_analyst_sees_no_contact_person_no_expert_and_no_actor(client: Client) -> None:
    call = client.world.call
    pages = [f"/dashboard/calls/{call}", f"/dashboard/calls/{call}/evaluation", "/dashboard"]
    for path in pages:
        answer = await client.page(path, Role.ANALYST)
        assert answer.status_code == 200, answer.text
        people = [*CONTACT, *EXPERT_NAMES.values(), client.world.story.expert_id("a")]
        leaked = [p for p in people if p in answer.text]
        assert not leaked, f"{path} shows {leaked} to an analyst"
    operator = await client.page(f"/dashboard/calls/{call}", Role.OPERATOR)
    assert all(p in operator.text for p in CONTACT)
    evaluation = await client.page(f"/dashboard/calls/{call}/evaluation", Role.OPERATOR)
    assert client.world.story.expert_id("a") in evaluation.text
    audit = await client.page(
        f"/dashboard/applications/{client.world.story.apps[0]}/audit", Role.ANALYST
    )
    assert audit.status_code == 403


async def test_the_audit_page_lists_every_stream_of_the_application_with_actors_and_causes(
    client: Client,
) -> None:
    a2 = client.world.story.apps[1]
    answer = await client.page(f"/dashboard/applications/{a2}/audit", Role.AUDITOR)
    assert answer.status_code == 200, answer.text
    seqs = [int(s) for s in Cells.of(answer.text, "seq")]
    assert seqs == sorted(seqs) and len(seqs) > 10
    for stream in ("application", "screening", "assignment", "evaluation"):
        assert f"{stream}-{a2}" in answer.text
    assert (
        "ConsensusRecorded" in answer.text and "I advised the coordinator in 2016." in answer.text
    )
    assert client.world.story.expert_id("d") in answer.text  # who acted, for the auditor


async def test_roles_that_read_no_programme_are_refused_with_a_page_or_a_problem(
    client: Client,
) -> None:
    call = client.world.call
    path = f"/dashboard/calls/{call}"
    for role, claims in (
        (Role.APPLICANT, {"org": "170440000017"}),
        (Role.EXPERT, {}),
        (Role.REGIONAL_OPERATOR, {"region": "KZ-75"}),
    ):
        page = await client.page(path, role, **claims)
        assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
    token = client.world.token(Role.EXPERT)
    api = await client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert (api.status_code, api.headers["content-type"]) == (403, "application/problem+json")
    anonymous = await client.get(path, headers=HTML)
    assert anonymous.status_code == 401 and 'action="/dashboard/login"' in anonymous.text
    assert (await client.get(path)).headers["content-type"] == "application/problem+json"
    missing = await client.page("/dashboard/calls/no-such-call", Role.OPERATOR)
    assert missing.status_code == 404


async def test_signing_in_keeps_the_token_in_a_strict_cookie_only_with_the_forms_csrf_token(
    client: Client,
) -> None:
    form = await client.get("/dashboard/login", headers=HTML)
    csrf = form.cookies["konkurs_dashboard_csrf"]
    assert f'name="csrf" value="{csrf}"' in form.text
    token = client.world.token(Role.ANALYST)
    url_encoded = {"Content-Type": "application/x-www-form-urlencoded"}

    forged = await client.post(
        "/dashboard/login",
        content=f"token={token}&csrf=guessed",
        headers={**url_encoded, "Cookie": f"konkurs_dashboard_csrf={csrf}"},
    )
    assert forged.status_code == 400 and "set-cookie" not in forged.headers
    refused = await client.post(
        "/dashboard/login",
        content=f"token=not-a-token&csrf={csrf}",
        headers={**url_encoded, **HTML, "Cookie": f"konkurs_dashboard_csrf={csrf}"},
    )
    assert refused.status_code == 401 and 'role="alert"' in refused.text
    signed_in = await client.post(
        "/dashboard/login",
        content=f"token={token}&csrf={csrf}",
        headers={**url_encoded, "Cookie": f"konkurs_dashboard_csrf={csrf}"},
    )
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/dashboard")
    cookie = signed_in.headers["set-cookie"]
    assert cookie.startswith(f"konkurs_dashboard={token};")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/dashboard" in cookie
    page = await client.get(
        f"/dashboard/calls/{client.world.call}",
        headers={**HTML, "Cookie": f"konkurs_dashboard={token}"},
    )
    assert page.status_code == 200 and "data-role>analyst<" in page.text
    # The cookie is the dashboard's only: the JSON API still wants the bearer header.
    api = await client.get(
        f"/v1/calls/{client.world.call}/summary", headers={"Cookie": f"konkurs_dashboard={token}"}
    )
    assert api.status_code == 401


async def test_the_language_switch_changes_words_and_number_formats_and_is_remembered(
    client: Client,
) -> None:
    call = client.world.call
    kazakh = await client.page(f"/dashboard/calls/{call}?lang=kk", Role.OPERATOR)
    assert kazakh.status_code == 200
    assert '<html lang="kk">' in kazakh.text and "Өңірлер бойынша" in kazakh.text
    assert "Алматы қаласы" in kazakh.text
    remembered = await client.get(
        f"/dashboard/calls/{call}/evaluation",
        headers={
            **HTML,
            "Authorization": f"Bearer {client.world.token(Role.OPERATOR)}",
            "Cookie": f"konkurs_dashboard_lang={kazakh.cookies['konkurs_dashboard_lang']}",
        },
    )
    assert '<html lang="kk">' in remembered.text
    english = await client.page(f"/dashboard/calls/{call}?lang=en", Role.OPERATOR)
    russian = await client.get(
        f"/dashboard/calls/{call}",
        headers={
            **HTML,
            "Authorization": f"Bearer {client.world.token(Role.OPERATOR)}",
            "Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5",
        },
    )
    assert "By region" in english.text and "По регионам" in russian.text
    # 5,000.00 KZT requested per application: grouped and marked as each language writes it.
    assert "KZT5,000.00" in english.text
    assert "5\xa0000,00\xa0KZT" in russian.text and "5\xa0000,00\xa0₸" in kazakh.text
    bad = await client.page(f"/dashboard/calls/{call}?lang=de", Role.OPERATOR)
    assert bad.status_code == 422
