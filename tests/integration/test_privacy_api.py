"""Privacy's HTTP API in process, on the real PostgreSQL and key store (issue 14): an
operator's erasure (its refusals as problems, once per subject), the access request in JSON
and Markdown before and after it, and the retention runs' report.

Who may call each operation is the role matrix's (test_role_matrix.py); this file checks what
the answers hold. A subject is made as intake makes one: an application appended through the
sealing event store (which makes its contact's key), learned by privacy's reaction.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from test_personal_data import contact_subject, phone, submit

from konkurs.intake.v1 import events_pb2
from konkurs_platform.auth import Role, mint_token
from konkurs_platform.envelope import Envelope
from konkurs_platform.personal.sealing import ERASED
from konkurs_platform.settings import Settings
from konkurs_privacy.adapters.postgres import Policy, PrivacyBook
from konkurs_privacy.bootstrap import create_app
from konkurs_privacy.consumers.intake_events import IntakeEvents
from konkurs_privacy.domain.subjects import subject_stream

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"
# The service's clock: every erasure is recorded at this time.
NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
OFFICER = "operator-dpo"
REASON = "The contact person asked to be forgotten, letter of 2 March."


@pytest.fixture(scope="module")
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, clock=lambda: NOW)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://privacy") as client:
            client.headers["Authorization"] = "Bearer " + mint_token(
                settings, Role.OPERATOR, OFFICER
            )
            yield client


async def known_subject(pool: asyncpg.Pool, settings: Settings) -> tuple[Envelope, str]:
    """An application whose contact privacy has learned; its submission and its phone."""
    number = phone()
    stored = await submit(pool, settings, number)
    effects = IntakeEvents(PrivacyBook("privacy")).effects()
    async with pool.acquire() as conn, conn.transaction():
        await effects[stored.event_type](conn, stored)
    return stored, number


async def events_of(pool: asyncpg.Pool, subject_id: str) -> int:
    async with pool.acquire() as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM privacy.events WHERE stream_id = $1", subject_stream(subject_id)
        )
    return count


def access(subject_id: str, format: str = "json") -> dict[str, str]:
    return {"subject_id": subject_id, "format": format}


async def test_the_access_request_opens_the_values_and_says_where_they_are_and_who_reads_them(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    stored, number = await known_subject(pool, settings)
    subject = contact_subject(stored)
    contact = events_pb2.ApplicationSubmitted.FromString(stored.payload).content.contact

    answer = await http.get("/v1/subjects/access-request", params=access(subject))

    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert (document["subject_id"], document["kind"], document["status"]) == (
        subject,
        "contact",
        "held",
    )
    assert document["generated_at"] == NOW.isoformat()
    # The values as the person gave them, opened with the key that still exists.
    assert number in document["values"].values()
    assert "Айгуль Сапарова" in document["values"].values()
    assert all(not v.startswith("pd1:") for v in document["values"].values())
    assert contact.phone.startswith("pd1:"), "the event itself holds the phone sealed"
    assert document["recorded_in"]["stream_id"] == stored.stream_id
    assert document["recorded_in"]["call_id"]
    assert document["readers"] and document["erasures"] == []

    markdown = await http.get("/v1/subjects/access-request", params=access(subject, "markdown"))
    assert markdown.status_code == 200
    assert markdown.headers["content-type"].startswith("text/markdown")
    text = markdown.text
    assert f"# Personal data held by konkurs: {subject}" in text
    assert number in text and stored.stream_id in text
    assert "## Who can read it" in text and document["readers"][0] in text
    assert "Status: **held**" in text


async def test_an_erasure_records_who_when_and_why_and_the_access_request_shows_it_erased(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    stored, number = await known_subject(pool, settings)
    subject = contact_subject(stored)

    erased = await http.post("/v1/erasures", json={"subject_id": subject, "reason": REASON})

    assert erased.status_code == 201, erased.text
    assert erased.json() == {"subject_id": subject, "erased_at": NOW.isoformat(), "version": 1}
    assert await events_of(pool, subject) == 1
    document = (await http.get("/v1/subjects/access-request", params=access(subject))).json()
    assert document["status"] == "erased"
    assert set(document["values"].values()) == {ERASED}
    assert document["readers"] == []
    assert document["erasures"] == [
        {
            "erased_at": NOW.isoformat(),
            "erased_by": OFFICER,
            "reason": REASON,
            "retention_rule": "",
        }
    ]
    # Where it was recorded stays known: the events keep their bytes.
    assert document["recorded_in"]["stream_id"] == stored.stream_id
    text = (await http.get("/v1/subjects/access-request", params=access(subject, "markdown"))).text
    assert number not in text and ERASED in text
    assert f"- {NOW.isoformat()} by {OFFICER}: {REASON}" in text
    assert "nobody: the key is destroyed" in text


async def test_a_second_erasure_of_a_subject_is_a_409_problem_and_records_nothing(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    stored, _ = await known_subject(pool, settings)
    subject = contact_subject(stored)
    first = await http.post("/v1/erasures", json={"subject_id": subject, "reason": REASON})
    assert first.status_code == 201, first.text

    again = await http.post(
        "/v1/erasures", json={"subject_id": subject, "reason": "Asked again by the same person."}
    )

    assert again.status_code == 409, again.text
    assert again.headers["content-type"] == PROBLEM
    assert again.json()["status"] == 409 and "already-erased" in again.json()["type"]
    assert await events_of(pool, subject) == 1
    document = (await http.get("/v1/subjects/access-request", params=access(subject))).json()
    assert [e["reason"] for e in document["erasures"]] == [REASON]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="no-reason"),
        pytest.param({"reason": ""}, id="empty"),
        pytest.param({"reason": "requested"}, id="one-word"),
        pytest.param({"reason": "  gdpr \t "}, id="one-word-in-spaces"),
    ],
)
async def test_an_erasure_without_a_reason_in_words_is_a_422_naming_the_reason_and_keeps_the_key(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings, body: dict[str, str]
) -> None:
    stored, number = await known_subject(pool, settings)
    subject = contact_subject(stored)

    refused = await http.post("/v1/erasures", json={"subject_id": subject, **body})

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == PROBLEM
    assert [e.get("pointer") for e in refused.json()["errors"]] == ["/reason"]
    assert await events_of(pool, subject) == 0
    document = (await http.get("/v1/subjects/access-request", params=access(subject))).json()
    assert document["status"] == "held" and number in document["values"].values()


async def test_an_unknown_subject_is_a_404_problem_for_an_erasure_and_an_access_request(
    http: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    subject = f"application-{uuid.uuid4()}/content.contact"

    erased = await http.post("/v1/erasures", json={"subject_id": subject, "reason": REASON})
    requested = await http.get("/v1/subjects/access-request", params=access(subject))

    for answer in (erased, requested):
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["status"] == 404
    # The refused erasure's event was rolled back with it.
    assert await events_of(pool, subject) == 0


async def test_the_retention_report_lists_each_run_latest_first_with_what_it_erased(
    http: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    call_id = f"report-{uuid.uuid4().hex[:8]}"
    policy = Policy("contact", 5, "call_closed")
    due = datetime(2031, 6, 9, tzinfo=UTC)
    # Far ahead of every other run in the schema, so that these two come first.
    first, second = datetime(2999, 1, 1, tzinfo=UTC), datetime(2999, 1, 2, tzinfo=UTC)
    book = PrivacyBook("privacy")
    async with pool.acquire() as conn:
        await book.record_run(conn, call_id, policy, due, first, ["s-1", "s-2"])
        await book.record_run(conn, call_id, policy, due, second, [])

    answer = await http.get("/v1/retention/runs")

    assert answer.status_code == 200, answer.text
    runs = [r for r in answer.json() if r["call_id"] == call_id]
    assert runs == [
        {
            "call_id": call_id,
            "kind": "contact",
            "rule": "contact/call_closed+5y",
            "due_at": due.isoformat(),
            "ran_at": ran.isoformat(),
            "erased": erased,
        }
        for ran, erased in ((second, []), (first, ["s-1", "s-2"]))
    ]
    assert answer.json()[: len(runs)] == runs, "the latest first"
