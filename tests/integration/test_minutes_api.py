"""A meeting's minutes over HTTP, from a meeting held through the commission's API on the real
database: HTML or PDF by `format` or by `Accept`, in Russian, Kazakh or English; the
commission reads the whole minutes at any time; an applicant reads them only once published,
redacted for its own application, and no one else's; unknown meetings and languages are
problems."""

from __future__ import annotations

import io

import asyncpg
import pytest
from pypdf import PdfReader

from konkurs_commission.minutes_documents.texts import TEXTS
from konkurs_platform.auth import Role
from konkurs_platform.settings import Settings
from tests.integration.test_commission_meeting import (
    Api,
    api,
    bin_of,
    composed,
    held_and_published,
    ranked_call,
    scheduled,
)

pytestmark = pytest.mark.integration

__all__ = ["api"]  # the fixture, used by name

PROBLEM = "application/problem+json"


def applicant(api: Api, n: int) -> dict[str, str]:
    """The token of the coordinator of application n."""
    return api.token(Role.APPLICANT, f"applicant-{n}", org=bin_of(n))


async def test_the_commission_reads_the_minutes_as_html_or_pdf_in_each_language(
    settings: Settings, pool: asyncpg.Pool, api: Api
) -> None:
    call_id = await ranked_call(settings, pool, candidates=3, quota=2)
    await composed(api, call_id)
    meeting = await held_and_published(api, call_id)
    path = f"/v1/meetings/{meeting}/minutes"

    page = await api.client.get(path, headers=api.secretary())
    assert page.status_code == 200, page.text
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-language"] == "ru"
    assert TEXTS["ru"]["title"] in page.text
    assert "Chair Person" in page.text and bin_of(2) in page.text

    kazakh = await api.client.get(path, params={"lang": "kk"}, headers=api.member("m3"))
    assert TEXTS["kk"]["title"] in kazakh.text

    for request in (
        api.client.get(path, params={"format": "pdf", "lang": "en"}, headers=api.secretary()),
        api.client.get(
            path,
            params={"lang": "en"},
            headers={**api.secretary(), "Accept": "text/html;q=0.5, application/pdf"},
        ),
    ):
        document = await request
        assert document.status_code == 200
        assert document.headers["content-type"] == "application/pdf"
        assert document.headers["content-disposition"].endswith('-en.pdf"')
        reader = PdfReader(io.BytesIO(document.content))
        assert reader.metadata is not None and reader.metadata.title == TEXTS["en"]["title"]
        assert "Chair Person" in "".join(p.extract_text() for p in reader.pages)

    auditor = await api.client.get(path, headers=api.token(Role.AUDITOR, "auditor-1"))
    assert auditor.status_code == 200


async def test_an_applicant_reads_only_published_minutes_redacted_for_its_own_application(
    settings: Settings, pool: asyncpg.Pool, api: Api
) -> None:
    call_id = await ranked_call(settings, pool, candidates=3, quota=2)
    await composed(api, call_id)
    pending = await scheduled(api, call_id)
    before = await api.client.get(f"/v1/meetings/{pending}/minutes", headers=applicant(api, 1))
    assert before.status_code == 404 and before.headers["content-type"] == PROBLEM
    # The commission reads the minutes of a meeting not even opened.
    assert (
        await api.client.get(f"/v1/meetings/{pending}/minutes", headers=api.secretary())
    ).status_code == 200

    meeting = await held_and_published(api, call_id)
    path = f"/v1/meetings/{meeting}/minutes"
    extract = await api.client.get(path, headers=applicant(api, 1))
    assert extract.status_code == 200
    registration = "KZ-75-2017-0001"
    assert TEXTS["ru"]["redacted"].format(application=registration) in extract.text
    # Its own participants are printed; the other candidates' are not.
    assert bin_of(1) in extract.text
    assert bin_of(2) not in extract.text and bin_of(3) not in extract.text
    document = await api.client.get(path, params={"format": "pdf"}, headers=applicant(api, 1))
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(document.content)).pages)
    assert bin_of(2) not in text.replace(" ", "").replace("\n", "")

    stranger = await api.client.get(path, headers=applicant(api, 9))
    assert stranger.status_code == 404


async def test_unknown_meetings_and_languages_are_problems(api: Api) -> None:
    unknown = await api.client.get("/v1/meetings/no-such-meeting/minutes", headers=api.secretary())
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM
    german = await api.client.get(
        "/v1/meetings/no-such-meeting/minutes", params={"lang": "de"}, headers=api.secretary()
    )
    assert german.status_code == 422
    assert german.json()["errors"][0]["parameter"] == "lang"
