"""Hostile requests to the readside's query API: control characters, over-long values, bad
enums, bad cursors and bad times in every parameter are a 422 problem naming the parameter,
the exports refuse them before their 200 starts streaming, and a property-based fuzzer over
the OpenAPI document (every operation, hostile query strings and headers) never gets a 5xx.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import pytest
from helpers import running
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from readside_support import Events, new_world, projector, publish, wait_caught_up

from konkurs_platform.auth import Role, mint_token
from konkurs_platform.settings import Settings
from konkurs_readside.bootstrap import create_app

pytestmark = pytest.mark.integration

CALL = "hostile-queries"
PROBLEM = "application/problem+json"


@dataclass
class World:
    settings: Settings
    http: httpx.AsyncClient
    application_id: str
    openapi: dict[str, Any]

    def token(self, role: Role, **claims: Any) -> dict[str, str]:
        token = mint_token(self.settings, role, f"{role.value}-1", **claims)
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def world(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[World]:
    s, schema = await new_world(settings, pool)
    events = Events()
    events.announce(CALL)
    first = ""
    for number, region in enumerate(("KZ-75", "KZ-55", "KZ-75", "KZ-63"), start=1):
        app = events.submit(CALL, number, region, coordinator=f"{number:012d}")
        first = first or app
    # Stored with U+FFFD in place of the NUL: the pages and exports carry it.
    events.amend(first, 2, "Renamed\x00cluster")
    events.withdraw(first, "merged\x00")
    await publish(s, events.published)
    async with running(projector(s, pool, schema)):
        await wait_caught_up(s, pool, schema)
    app = create_app(s, schema=schema)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://readside") as http:
            yield World(s, http, first, app.openapi())


def cursor_of(*values: Any) -> str:
    """A cursor as the API encodes one, of any content."""
    raw = json.dumps(list(values)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


OVER_LONG = "c" * 201

# (request, the parameter named, where it is): each is one hostile value in one parameter.
REFUSED = [
    ("/v1/applications?region=KZ-75%00", "region", "query"),
    ("/v1/applications?region=KZ-75&region=KZ-7", "region", "query"),
    ("/v1/applications?call_id=%00", "call_id", "query"),
    ("/v1/applications?call_id=a%1Bb", "call_id", "query"),
    (f"/v1/applications?call_id={OVER_LONG}", "call_id", "query"),
    ("/v1/applications?status=archived", "status", "query"),
    ("/v1/applications?specialisation=1610%00", "specialisation", "query"),
    ("/v1/applications?sort=name", "sort", "query"),
    ("/v1/applications?limit=0", "limit", "query"),
    ("/v1/applications?limit=%00", "limit", "query"),
    ("/v1/applications?cursor=%00", "cursor", "query"),
    ("/v1/applications?cursor=" + "A" * 4097, "cursor", "query"),
    ("/v1/applications?cursor=bm9wZQ", "cursor", "query"),
    # Well-formed cursors this API never issues: a NUL, a naive time, an impossible date, a
    # time out of range once in UTC, values that are not strings.
    (
        "/v1/applications?sort=cluster_name&cursor=" + cursor_of("cluster_name", "a\x00", "x"),
        "cursor",
        "query",
    ),
    (
        "/v1/applications?cursor=" + cursor_of("submitted_at", "2017-06-01T00:00:00", "x"),
        "cursor",
        "query",
    ),
    (
        "/v1/applications?cursor=" + cursor_of("submitted_at", "2017-13-45T00:00:00+00:00", "x"),
        "cursor",
        "query",
    ),
    (
        "/v1/applications?cursor=" + cursor_of("submitted_at", "0001-01-01T00:00:00+14:00", "x"),
        "cursor",
        "query",
    ),
    ("/v1/applications?cursor=" + cursor_of("submitted_at", 17, ["x"]), "cursor", "query"),
    ("/v1/applications?cursor=" + cursor_of({"a": 1}), "cursor", "query"),
    ("/v1/exports/applications.csv?call_id=%00", "call_id", "query"),
    ("/v1/exports/applications.csv?region=%00", "region", "query"),
    ("/v1/exports/applications.parquet?call_id=%00", "call_id", "query"),
    ("/v1/exports/applications.parquet?status=%00", "status", "query"),
    ("/v1/applications/%00", "application_id", "path"),
    ("/v1/calls/%00", "call_id", "path"),
    ("/v1/calls/a%00b/summary", "call_id", "path"),
    (f"/v1/calls/{OVER_LONG}/journal", "call_id", "path"),
    ("/v1/audit/streams/call-%00", "stream_id", "path"),
]


@pytest.mark.parametrize(("target", "parameter", "location"), REFUSED)
async def test_a_hostile_parameter_is_a_422_problem_naming_it(
    world: World, target: str, parameter: str, location: str
) -> None:
    answer = await world.http.get(target, headers=world.token(Role.AUDITOR))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    named = [(e.get("parameter"), e.get("in")) for e in answer.json()["errors"]]
    assert named == [(parameter, location)]


async def test_the_values_the_api_issues_are_accepted(world: World) -> None:
    operator = world.token(Role.OPERATOR)
    for sort in ("submitted_at", "-cluster_name", "last_changed_at", "registration_number"):
        page = await world.http.get(f"/v1/applications?sort={sort}&limit=1", headers=operator)
        assert page.status_code == 200, page.text
        cursor = page.json()["next_cursor"]
        assert cursor is not None
        following = await world.http.get(
            f"/v1/applications?sort={sort}&limit=1&cursor={cursor}", headers=operator
        )
        assert following.status_code == 200, following.text
        assert following.json()["items"][0] != page.json()["items"][0]
    renamed = await world.http.get(
        "/v1/applications?sort=-cluster_name&limit=10&status=withdrawn&region=KZ-75"
        f"&call_id={CALL}&specialisation=16100",
        headers=operator,
    )
    assert [i["cluster_name"] for i in renamed.json()["items"]] == ["Renamed\ufffdcluster"]
    detail = await world.http.get(f"/v1/applications/{world.application_id}", headers=operator)
    assert detail.json()["withdrawal_reason"] == "merged\ufffd"


# --- the fuzzer ------------------------------------------------------------------------------

# Text as hostile as a URL can carry: any code point (NUL and the other controls among them),
# sometimes far longer than any id.
HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(max_codepoint=0x9F), max_size=40),
    st.text(min_size=150, max_size=5000),
)
# Raw query-string fragments that no encoder makes: bad escapes, invalid UTF-8, separators.
RAW_FRAGMENTS = st.sampled_from(
    ["%", "%zz", "%00", "%FF", "%C0%80", "%ED%A0%80", "=", "&&", "+", "a=%", "%00=%00"]
)
# Header values an HTTP/1.1 server lets through: visible ASCII, space, tab and obs-text.
HEADER_VALUES = st.binary(max_size=300).map(
    lambda b: bytes(c for c in b if c == 9 or 32 <= c != 127)
)


def _concrete(schema: dict[str, Any]) -> dict[str, Any]:
    """The non-null member of an optional parameter's schema."""
    for member in schema.get("anyOf", ()):
        if member.get("type") != "null":
            return dict(member)
    return schema


def _valid(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    """Values the schema allows (or nearly: bounds are stepped over by a little)."""
    if "enum" in schema:
        return st.sampled_from([str(v) for v in schema["enum"]])
    if schema.get("type") == "integer":
        low, high = schema.get("minimum", -(2**31)), schema.get("maximum", 2**31)
        return st.integers(low - 3, high + 3).map(str)
    if "pattern" in schema:
        return st.from_regex(re.compile(schema["pattern"]), fullmatch=True)
    return st.text(max_size=20)


def _values(schema: dict[str, Any]) -> st.SearchStrategy[list[str]]:
    schema = _concrete(schema)
    if schema.get("type") == "array":
        item = _concrete(schema["items"])
        return st.lists(st.one_of(_valid(item), HOSTILE_TEXT), max_size=40)
    return st.one_of(_valid(schema), HOSTILE_TEXT).map(lambda v: [v])


FUZZED_HEADERS = [
    "X-Correlation-ID",
    "Accept",
    "Accept-Encoding",
    "Cookie",
    "If-None-Match",
    "Range",
]


def _control(value: str) -> bool:
    return any(ord(c) < 32 for c in value)


@dataclass(frozen=True)
class Fuzzed:
    url: str
    headers: dict[str, bytes]
    hostile: bool  # a declared parameter holds a control character


def requests_for(openapi: dict[str, Any], tokens: list[str]) -> st.SearchStrategy[Fuzzed]:
    """Requests to every GET operation of `openapi`: its parameters valid, nearly valid or
    hostile, raw fragments and unknown parameters in the query, hostile headers, a valid
    token of some role or a hostile one."""
    operations = [
        (path, op.get("parameters", []))
        for path, ops in openapi["paths"].items()
        for method, op in ops.items()
        if method == "get"
    ]

    @st.composite
    def request(draw: st.DrawFn) -> Fuzzed:
        template, parameters = draw(st.sampled_from(operations))
        path, parts, hostile = template, [], False
        for p in parameters:
            if p["in"] == "path":
                value = draw(st.one_of(_valid(p["schema"]), HOSTILE_TEXT.filter(bool)))
                path = path.replace("{" + p["name"] + "}", quote(value, safe=""))
                hostile |= _control(value)
            elif p["in"] == "query" and draw(st.booleans()):
                values = draw(_values(p["schema"]))
                parts += [f"{p['name']}={quote(v, safe='')}" for v in values]
                hostile |= any(_control(v) for v in values)
        parts += draw(st.lists(RAW_FRAGMENTS, max_size=3))
        parts += [
            f"{quote(k, safe='')}={quote(v, safe='')}"
            for k, v in draw(st.dictionaries(HOSTILE_TEXT, HOSTILE_TEXT, max_size=2)).items()
        ]
        parts = draw(st.permutations(parts))
        headers = {"Authorization": draw(st.sampled_from(tokens)).encode()}
        if draw(st.booleans()):
            headers["Authorization"] = draw(
                st.one_of(HEADER_VALUES, HEADER_VALUES.map(lambda v: b"Bearer " + v))
            )
        for name in draw(st.lists(st.sampled_from(FUZZED_HEADERS), unique=True)):
            headers[name] = draw(HEADER_VALUES)
        query = "&".join(parts)
        return Fuzzed(f"{path}?{query}" if query else path, headers, hostile)

    return request()


async def test_fuzzing_every_operation_with_hostile_queries_and_headers_never_gives_a_5xx(
    world: World,
) -> None:
    tokens = [
        world.token(Role.OPERATOR)["Authorization"],
        world.token(Role.AUDITOR)["Authorization"],
        world.token(Role.ANALYST)["Authorization"],
        world.token(Role.APPLICANT, org="000000000001")["Authorization"],
        world.token(Role.REGIONAL_OPERATOR, region="KZ-75")["Authorization"],
        world.token(Role.EXPERT)["Authorization"],
    ]
    statuses: list[int] = []
    loop = asyncio.get_running_loop()

    @hsettings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(requests_for(world.openapi, tokens))
    def check(request: Fuzzed) -> None:
        # The whole body is read: an export that failed after its 200 started would raise.
        answer = asyncio.run_coroutine_threadsafe(
            world.http.get(request.url, headers=request.headers), loop
        ).result(60)
        statuses.append(answer.status_code)
        assert answer.status_code < 500, (request, answer.text)
        if answer.status_code >= 400:
            assert answer.headers["content-type"] == PROBLEM, (request, answer.text)
        if request.hostile:
            # Refused, or (a trailing "/") redirected to where it will be refused.
            assert not 200 <= answer.status_code < 300, request

    await asyncio.to_thread(check)
    # The fuzzer got past authentication and validation, not only refused.
    assert {200, 401, 422} <= set(statuses)
