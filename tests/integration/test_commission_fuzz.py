"""Every operation of the commission's API fuzzed from its OpenAPI document with
schemathesis, as test_fuzz_api.py does intake's, scoring's and privacy's (issue 13): tokens
of several roles (the secretary, the chair and a member of the meeting by their member ids,
the applicant of its first candidate), hostile headers, path and query values, and the ids
of a call, an open meeting with quorum and a candidate, so that the fuzzer gets past the
404s. No answer is a 5xx; every 4xx is a problem document."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from test_fuzz_api import EXAMPLES, Target, _fuzz, _tokens

from konkurs_commission.bootstrap import create_app
from konkurs_platform.auth import Role, mint_token
from konkurs_platform.settings import Settings
from tests.integration.test_commission_meeting import (
    CLOCK,
    MEMBERS,
    Api,
    bin_of,
    composed,
    post,
    ranked_call,
    scheduled,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def commission(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[Target]:
    call_id = await ranked_call(settings, pool, candidates=4, quota=2)
    app = create_app(settings, clock=lambda: CLOCK)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://commission") as http:
            api = Api(settings, app, http, [CLOCK])
            await composed(api, call_id)
            meeting_id = await scheduled(api, call_id)
            present = {"present_member_ids": ["chair", "sec", *MEMBERS]}
            opened = await post(api, f"/v1/meetings/{meeting_id}/opening", api.secretary(), present)
            assert opened.status_code == 200, opened.text
            known = {
                "call_id": call_id,
                "meeting_id": meeting_id,
                "application_id": f"{call_id}-app-2",
            }

            def bearer(role: Role, subject: str, **scope: str) -> str:
                return "Bearer " + mint_token(settings, role, subject, **scope)

            tokens = [
                *_tokens(settings),
                bearer(Role.COMMISSION_SECRETARY, "sec"),
                bearer(Role.COMMISSION_MEMBER, "chair"),
                bearer(Role.COMMISSION_MEMBER, "m2"),
                bearer(Role.APPLICANT, "applicant-1", org=bin_of(1)),
            ]
            yield Target("commission", app, http, known, tokens)


async def test_fuzzing_every_commission_operation_never_gives_a_5xx_and_every_4xx_is_a_problem(
    commission: Target,
) -> None:
    statuses = await _fuzz(commission, EXAMPLES // 2)
    # Past authentication to a meeting that exists, and refused for every reason there is.
    assert {200, 401, 403, 404, 422} <= set(statuses), statuses
