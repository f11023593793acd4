"""The streamed CSV and Parquet exports of scoring's read models (screening, assignments,
evaluations) over HTTP, on the scoring story's projected read models: the content of each,
Parquet read back with pyarrow equal to the CSV, staff every column and analysts none that
names a person, other roles refused, and an export larger than a chunk sent in pieces."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from readside_support import new_world
from test_readside_scoring import EXPERT_NAMES, ScoringStory, told

from konkurs_platform.auth import Role, mint_token
from konkurs_platform.settings import Settings
from konkurs_readside.api.exports import ASSIGNMENTS, CHUNK_ROWS, EVALUATIONS, SCREENING
from konkurs_readside.bootstrap import create_app

pytestmark = pytest.mark.integration

MODELS = ("screening", "assignments", "evaluations")
PERSONAL = {
    "screening": set[str](),
    "assignments": {"expert_id", "expert_name", "reason", "conflict_nature", "unassignment_reason"},
    "evaluations": {"drafting_experts", "submitted_experts", "rapporteur"},
}


# The scope claims a token of these roles needs.
SCOPE: dict[Role, dict[str, Any]] = {
    Role.APPLICANT: {"org": "170440000017"},
    Role.REGIONAL_OPERATOR: {"region": "KZ-75"},
}


@dataclass
class World:
    settings: Settings
    http: httpx.AsyncClient
    story: ScoringStory

    async def get(self, path: str, role: Role) -> httpx.Response:
        token = mint_token(self.settings, role, f"{role.value}-1", **SCOPE.get(role, {}))
        return await self.http.get(path, headers={"Authorization": f"Bearer {token}"})

    async def csv(self, model: str, role: Role) -> list[dict[str, str]]:
        answer = await self.get(f"/v1/exports/{model}.csv?call_id={self.story.call_id}", role)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "text/csv; charset=utf-8"
        return list(csv.DictReader(io.StringIO(answer.text)))

    async def parquet(self, model: str, role: Role) -> pa.Table:
        answer = await self.get(f"/v1/exports/{model}.parquet?call_id={self.story.call_id}", role)
        assert answer.status_code == 200, answer.text
        return pq.read_table(io.BytesIO(answer.content))

    def people(self) -> list[str]:
        return [self.story.expert_id(x) for x in EXPERT_NAMES] + list(EXPERT_NAMES.values())


@asynccontextmanager
async def serve(settings: Settings, schema: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, schema=schema)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://readside") as http:
            yield http


@pytest.fixture(scope="module")
async def world(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[World]:
    s, schema, story = await told(settings, pool)
    async with serve(s, schema) as http:
        yield World(s, http, story)


async def test_the_screening_export_has_each_application_its_result_and_failed_rules(
    world: World,
) -> None:
    a1, a2, a3, a4 = world.story.apps
    rows = {r["application_id"]: r for r in await world.csv("screening", Role.ANALYST)}
    assert list(rows) == [a1, a2, a3, a4]
    assert [r["registration_number"] for r in rows.values()] == [
        f"TC-2017-00{n}" for n in range(1, 5)
    ]
    assert (rows[a3]["eligible"], rows[a3]["assessed_eligible"], rows[a3]["overridden"]) == (
        "True",
        "False",
        "True",
    )
    assert (rows[a4]["eligible"], rows[a4]["failed_rules"]) == ("False", "min_participants")
    assert rows[a1]["failed_rules"] == ""


async def test_the_evaluation_and_assignment_exports_follow_the_story(world: World) -> None:
    a1, a2, a3, _ = world.story.apps
    evaluations = {r["application_id"]: r for r in await world.csv("evaluations", Role.AUDITOR)}
    assert (evaluations[a1]["round"], evaluations[a1]["final"]) == ("2", "True")
    assert (evaluations[a1]["overall"], evaluations[a1]["fundable"]) == ("65.0", "False")
    assert evaluations[a1]["failed_thresholds"] == "overall"
    assert (evaluations[a2]["consensus_recorded"], evaluations[a2]["overall"]) == ("True", "70.0")
    assert evaluations[a2]["rapporteur"] == world.story.expert_id("a")
    assert (evaluations[a3]["drafts"], evaluations[a3]["submitted"]) == ("1", "1")
    assert evaluations[a3]["submitted_experts"] == world.story.expert_id("b")

    assignments = await world.csv("assignments", Role.OPERATOR)
    assert len(assignments) == 10
    (conflicted,) = [r for r in assignments if r["declaration"] == "conflict"]
    assert (conflicted["application_id"], conflicted["expert_name"]) == (a2, EXPERT_NAMES["c"])
    assert conflicted["conflict_nature"] == "I advised the coordinator in 2016."
    assert (conflicted["current"], conflicted["unassignment_cause"]) == ("False", "conflict")
    overdue = [r for r in assignments if r["overdue"] == "True"]
    assert [(r["application_id"], r["expert_name"]) for r in overdue] == [(a3, EXPERT_NAMES["d"])]


@pytest.mark.parametrize("model", MODELS)
async def test_analysts_export_every_row_and_no_column_that_names_a_person(
    world: World, model: str
) -> None:
    staff = await world.csv(model, Role.OPERATOR)
    analyst = await world.csv(model, Role.ANALYST)
    assert len(analyst) == len(staff) > 0
    assert set(staff[0]) - set(analyst[0]) == PERSONAL[model]
    for extension in ("csv", "parquet"):
        path = f"/v1/exports/{model}.{extension}?call_id={world.story.call_id}"
        body = (await world.get(path, Role.ANALYST)).content
        leaked = [p for p in world.people() if p.encode() in body]
        assert not leaked, f"{path} shows {leaked} to an analyst"
        assert b"advised the coordinator" not in body
    table = await world.parquet(model, Role.ANALYST)
    assert PERSONAL[model].isdisjoint(table.column_names)


@pytest.mark.parametrize("model", MODELS)
async def test_the_parquet_export_reads_back_as_the_csv_rows_with_their_types(
    world: World, model: str
) -> None:
    export = {"screening": SCREENING, "assignments": ASSIGNMENTS, "evaluations": EVALUATIONS}
    table = await world.parquet(model, Role.ADMIN)
    assert table.schema == pa.schema([(c.name, c.type) for c in export[model].columns])
    rows = await world.csv(model, Role.ADMIN)
    assert table.num_rows == len(rows)
    assert table.column("application_id").to_pylist() == [r["application_id"] for r in rows]
    for name in ("registration_number", "call_id"):
        assert table.column(name).to_pylist() == [r[name] for r in rows]


async def test_the_call_filter_narrows_and_other_roles_are_refused(world: World) -> None:
    for model in MODELS:
        other = await world.get(f"/v1/exports/{model}.csv?call_id=no-such-call", Role.ANALYST)
        assert other.status_code == 200
        assert other.text.count("\n") == 1  # the header alone
        everything = await world.get(f"/v1/exports/{model}.csv", Role.ANALYST)
        assert world.story.apps[0] in everything.text
        for role in (Role.EXPERT, Role.APPLICANT, Role.REGIONAL_OPERATOR, Role.COMMISSION_MEMBER):
            refused = await world.get(f"/v1/exports/{model}.parquet", role)
            assert refused.status_code == 403
            assert refused.headers["content-type"] == "application/problem+json"


async def test_an_export_larger_than_a_chunk_is_streamed_in_pieces(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    world, schema = await new_world(settings, pool)
    n = 2 * CHUNK_ROWS + 1
    async with pool.acquire() as conn:
        await conn.execute(
            f"""INSERT INTO {schema}.screening (application_id, call_id, eligible,
                    assessed_eligible, overridden, results, application_version, call_version,
                    assessed_at, last_changed_at, stream_version, last_event_id)
                SELECT 'app-' || lpad(i::text, 6, '0'), 'big', true, true, false,
                    '[{{"rule": "min_participants", "passed": true}}]', 1, 1, $1, $1, 1,
                    gen_random_uuid()
                FROM generate_series(1, $2) i""",
            datetime(2017, 6, 9, tzinfo=UTC),
            n,
        )
    token = mint_token(world, Role.ANALYST, "analyst-1")
    app = create_app(world, schema=schema)
    async with app.router.lifespan_context(app):
        # The ASGI messages themselves: httpx's test transport would join them into one.
        sent = await asgi_get(app, "/v1/exports/screening.csv", token)
        assert sent[0]["status"] == 200
        assert b"content-length" not in dict(sent[0]["headers"])
        pieces = [m["body"] for m in sent[1:] if m["body"]]
        # The header with the first chunk, then two more chunks: a piece of body per chunk.
        assert len(pieces) == 3
        assert b"".join(pieces).count(b"\n") == n + 1

        sent = await asgi_get(app, "/v1/exports/screening.parquet", token)
        assert len([m for m in sent[1:] if m["body"]]) >= 3
        parquet = pq.ParquetFile(io.BytesIO(b"".join(m["body"] for m in sent[1:])))
        assert parquet.metadata.num_row_groups == 3
        assert parquet.metadata.num_rows == n
        assert parquet.read().column("application_id")[-1].as_py() == f"app-{n:06d}"


async def asgi_get(app: Any, path: str, token: str) -> list[dict[str, Any]]:
    """The messages `app` sends answering a GET of `path`: the start, then each body piece."""
    sent: list[dict[str, Any]] = []
    requested = False
    never = asyncio.Event()

    async def receive() -> dict[str, Any]:
        # The request once; then the client stays connected (the response is cancelled
        # waiting here once it is sent).
        nonlocal requested
        if requested:
            await never.wait()
        requested = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"readside"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("readside", 80),
    }
    await app(scope, receive, send)
    return sent
