"""The bulk endpoint under fuzzing, against the real PostgreSQL (issue 13, item 8).

Its JSON-lines body is described in the OpenAPI document as the array of its lines' values
(each an `ApplicationBody`), so a schema-driven fuzzer can generate it; here hypothesis
writes batches that mix good lines with hostile ones, and every batch must answer 200 with
one result per line, never a 5xx, accept exactly the good lines and record an event for
no other.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from test_intake_applications import _mutations, application, event_count, http, new_call
from test_intake_hostile_input import TEXT_FIELDS, _set

from konkurs_intake.domain.identifiers import bin_problem
from konkurs_platform.auth import Role, mint_token
from konkurs_platform.settings import Settings

pytestmark = pytest.mark.integration

__all__ = ["http"]  # a fixture, used by name

BATCH = "/v1/calls/{call_id}/applications:batch"

# A line and what it must get: 201, a 4xx, or None when either may be right (a random
# mutation can leave the body valid).
Line = tuple[bytes, int | None]

_human_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40
)
_control = st.characters(min_codepoint=0, max_codepoint=0x9F).filter(
    lambda c: c < " " or "\x7f" <= c
)


def _dumps(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


@st.composite
def good_lines(draw: st.DrawFn) -> Line:
    """A valid application in the operator's region, with any text a person could write."""
    body = application()
    body["cluster"]["name"] = draw(_human_text)
    body["strategy_summary"] = draw(_human_text) + "\n\t" + draw(_human_text)
    body["participants"][0]["name"] = draw(_human_text)
    return _dumps(body), 201


@st.composite
def poisoned_lines(draw: st.DrawFn) -> Line:
    """A valid application with a control character in one of its text fields."""
    body = application()
    pointer = draw(st.sampled_from(TEXT_FIELDS))
    at = draw(st.integers(0, 5))
    text = "a@example.kz" if pointer == "/contact/email" else "Өрнек кластер"
    _set(pointer, text[:at] + draw(_control) + text[at:])(body)
    return _dumps(body), 422


@st.composite
def refused_lines(draw: st.DrawFn) -> Line:
    """Lines the domain or the scope refuses: a wrong BIN, a region the call does not take,
    a region the operator may not submit for, a participant listed twice."""
    body = application()
    match draw(st.integers(0, 3)):
        case 0:
            body["participants"][0]["bin"] = draw(st.from_regex(r"\A[0-9]{1,14}\Z"))
            if bin_problem(body["participants"][0]["bin"]) is None:
                return _dumps(body), None  # drew a valid BIN: it may stand or be a duplicate
        case 1:
            # Outside both the call and the operator's scope; a batch checks scope first.
            body["cluster"]["region_code"] = "KZ-11"
            return _dumps(body), 403
        case 2:
            body = application("KZ-63")
            return _dumps(body), 403
        case _:
            body["participants"][2]["bin"] = body["participants"][0]["bin"]
    return _dumps(body), 422


def _one_line(raw: bytes) -> bytes:
    # A JSON-lines item cannot hold a line break; a blank line is skipped, not answered.
    line = raw.replace(b"\n", b" ").replace(b"\r", b" ")
    return line if line.strip() else b"?"


junk_lines = st.one_of(
    st.binary(min_size=1, max_size=200).map(lambda b: (_one_line(b), None)),
    _mutations()
    .filter(lambda case: case[1] == "application/json")
    .map(lambda case: (_one_line(case[0]), None)),
)
lines = st.one_of(good_lines(), poisoned_lines(), refused_lines(), junk_lines)


async def test_the_openapi_document_describes_the_batch_body_as_application_bodies(
    http: httpx.AsyncClient,
) -> None:
    document = (await http.get("/openapi.json")).json()
    operation = document["paths"]["/v1/calls/{call_id}/applications:batch"]["post"]
    lines_schema = operation["requestBody"]["content"]["application/x-ndjson"]["schema"]
    assert lines_schema["type"] == "array"
    assert lines_schema["items"] == {"$ref": "#/components/schemas/ApplicationBody"}
    results = operation["responses"]["200"]["content"]["application/x-ndjson"]["schema"]
    assert results["items"]["required"] == ["line", "status"]
    assert (
        results["items"]["properties"]["problem"]["$ref"].split("/")[-1]
        in (document["components"]["schemas"])
    )


async def test_fuzzed_batches_never_give_a_5xx_and_record_only_their_good_lines(
    http: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    operator = {"Authorization": "Bearer " + mint_token(settings, Role.OPERATOR, "test-op")}
    call_id = await new_call(http, operator)
    regional = {
        "Authorization": "Bearer "
        + mint_token(settings, Role.REGIONAL_OPERATOR, "test-regional", region="KZ-75"),
        "Content-Type": "application/x-ndjson",
    }
    loop = asyncio.get_running_loop()
    accepted = 0

    async def post(body: bytes) -> tuple[httpx.Response, int]:
        answer = await http.post(BATCH.format(call_id=call_id), content=body, headers=regional)
        return answer, await event_count(pool, call_id)

    @hsettings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(lines, min_size=1, max_size=8))
    def check(batch: list[Line]) -> None:
        nonlocal accepted
        body = b"\n".join(raw for raw, _ in batch) + b"\n"
        answer, recorded = asyncio.run_coroutine_threadsafe(post(body), loop).result(60)
        assert answer.status_code == 200, answer.text
        results = [json.loads(line) for line in answer.text.splitlines()]
        assert [r["line"] for r in results] == list(range(1, len(batch) + 1))
        for (raw, expected), result in zip(batch, results, strict=True):
            status = result["status"]
            assert status == 201 or 400 <= status < 500, (raw, result)
            if expected == 201:
                assert status == 201, (raw, result)
            elif expected is not None:
                assert status == expected, (raw, result)
                assert result["problem"]["status"] == status
        accepted += sum(r["status"] == 201 for r in results)
        assert recorded == accepted

    await asyncio.to_thread(check)
    assert accepted > 0
