"""Every operation of plan tracking's API fuzzed from its OpenAPI document with
schemathesis, as test_fuzz_api.py does intake's, scoring's and privacy's (issue 13): tokens
of several roles (the applicant's organisation is the plan's coordinator), hostile headers,
path and query values, and the ids of an approved plan, its first period and version, so
that the fuzzer gets past the 404s. No answer is a 5xx; every 4xx is a problem document."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from test_fuzz_api import EXAMPLES, Target, _fuzz, _tokens
from test_intake_applications import COORDINATOR

from konkurs_plans.bootstrap import create_app
from konkurs_platform.auth import Role, mint_token
from konkurs_platform.settings import Settings
from tests.integration.test_plans_api import cluster_selected, content, deliver

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def plans(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[Target]:
    plan_id = str(uuid.uuid4())
    await deliver(pool, settings, cluster_selected(plan_id, COORDINATOR))
    app = create_app(settings)
    coordinator = {
        "Authorization": "Bearer " + mint_token(settings, Role.APPLICANT, "c", org=COORDINATOR)
    }
    operator = {"Authorization": "Bearer " + mint_token(settings, Role.OPERATOR, "o")}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://plans") as http:
            url = f"/v1/plans/{plan_id}/draft"
            drafted = await http.put(url, json={"content": content()}, headers=coordinator)
            assert drafted.status_code == 200, drafted.text
            assert (await http.post(f"{url}:submit", headers=coordinator)).is_success
            assert (await http.post(f"{url}:approve", headers=operator)).is_success
            known = {"plan_id": plan_id, "period_id": "2017-Q3", "version": "1"}
            yield Target("plans", app, http, known, _tokens(settings))


async def test_fuzzing_every_plans_operation_never_gives_a_5xx_and_every_4xx_is_a_problem(
    plans: Target,
) -> None:
    statuses = await _fuzz(plans, EXAMPLES // 2)
    # Past authentication to a plan that exists, and refused for every reason there is.
    assert {200, 401, 403, 404, 422} <= set(statuses), statuses
