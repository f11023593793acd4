"""Who may call what: every operation of every registered service's OpenAPI document, called
by each role and without a token, against the table below.

The table is the one place the decision is written. An operation the table does not name
fails the test by name (a new route must come with a decision about who may call it), and
so does an entry that names no operation any more. "Allowed" means the caller got past
authentication and the role check (any answer but 401 or 403: a 404 for an id that does
not exist, a 422 for the missing body); scope checks within a role (an applicant's own
organisation, an expert's own profile, worklist and assigned applications) are tested with
each service: here such a role is allowed, and the path values are its own (the expert's id is
the expert token's subject) or unknown (an application: 404 to every reader).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from konkurs_platform.auth import Role, mint_token
from konkurs_platform.settings import Settings
from konkurs_platform.spec import ServiceSpec, discover
from tests.integration.roles import extensions

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"

PUBLIC = "public"  # no token needed
ANY_ROLE = frozenset(Role)

_OPERATORS = frozenset({Role.OPERATOR, Role.ADMIN})
_SUBMITTERS = frozenset({Role.APPLICANT, Role.REGIONAL_OPERATOR})
_APPLICATION_READERS = frozenset(
    {Role.APPLICANT, Role.REGIONAL_OPERATOR, Role.OPERATOR, Role.ADMIN, Role.AUDITOR}
)
# Scoring's staff: those who follow the screening, the registry and the assignments.
_SCORING_READERS = frozenset({Role.OPERATOR, Role.ADMIN, Role.AUDITOR})
_READ_MODEL_READERS = frozenset(
    {
        Role.APPLICANT,
        Role.REGIONAL_OPERATOR,
        Role.ANALYST,
        Role.OPERATOR,
        Role.AUDITOR,
        Role.ADMIN,
    }
)

# (service, "METHOD /path") -> the roles allowed, or PUBLIC.
MATRIX: dict[tuple[str, str], frozenset[Role] | str] = {
    ("intake", "GET /healthz"): PUBLIC,
    ("intake", "GET /readyz"): PUBLIC,
    ("intake", "GET /v1/calls"): ANY_ROLE,
    ("intake", "GET /v1/calls/{call_id}"): ANY_ROLE,
    ("intake", "POST /v1/calls"): _OPERATORS,
    ("intake", "PUT /v1/calls/{call_id}"): _OPERATORS,
    ("intake", "POST /v1/calls/{call_id}/applications"): _SUBMITTERS,
    ("intake", "POST /v1/calls/{call_id}/applications:import"): frozenset({Role.OPERATOR}),
    ("intake", "POST /v1/calls/{call_id}/applications:batch"): frozenset(
        {Role.REGIONAL_OPERATOR, Role.OPERATOR}
    ),
    ("intake", "GET /v1/applications/{application_id}"): _APPLICATION_READERS,
    ("intake", "GET /v1/applications/{application_id}/revisions/{revision}"): (
        _APPLICATION_READERS
    ),
    ("intake", "PUT /v1/applications/{application_id}"): _SUBMITTERS,
    ("intake", "POST /v1/applications/{application_id}/withdrawal"): _SUBMITTERS,
    ("intake", "POST /v1/applications/{application_id}/documents"): _SUBMITTERS,
    ("intake", "GET /v1/applications/{application_id}/documents/{sha256}"): (_APPLICATION_READERS),
    ("scoring", "GET /healthz"): PUBLIC,
    ("scoring", "GET /readyz"): PUBLIC,
    ("scoring", "GET /v1/calls/{call_id}/methodology"): frozenset(
        {Role.OPERATOR, Role.EXPERT, Role.AUDITOR, Role.ADMIN, Role.ANALYST}
    ),
    # The registry: operators keep it; an expert reads their own profile and worklist only.
    ("scoring", "POST /v1/experts"): _OPERATORS,
    ("scoring", "GET /v1/experts"): _SCORING_READERS,
    ("scoring", "GET /v1/experts/{expert_id}"): _SCORING_READERS | {Role.EXPERT},
    ("scoring", "PUT /v1/experts/{expert_id}"): _OPERATORS,
    ("scoring", "POST /v1/experts/{expert_id}:deactivate"): _OPERATORS,
    ("scoring", "GET /v1/experts/{expert_id}/worklist"): _SCORING_READERS | {Role.EXPERT},
    # Screening and assignment: operators decide, auditors follow.
    ("scoring", "GET /v1/calls/{call_id}/screening"): _SCORING_READERS,
    ("scoring", "GET /v1/applications/{application_id}/screening"): _SCORING_READERS,
    ("scoring", "POST /v1/applications/{application_id}/screening:override"): _OPERATORS,
    ("scoring", "POST /v1/calls/{call_id}/assignments:auto"): _OPERATORS,
    ("scoring", "GET /v1/applications/{application_id}/assignments"): _SCORING_READERS,
    ("scoring", "POST /v1/applications/{application_id}/assignments"): _OPERATORS,
    ("scoring", "POST /v1/applications/{application_id}/assignments/{expert_id}:unassign"): (
        _OPERATORS
    ),
    ("scoring", "POST /v1/applications/{application_id}/assignments/{expert_id}:reassign"): (
        _OPERATORS
    ),
    # An assigned expert declares, then reads the content (until then 403).
    ("scoring", "POST /v1/applications/{application_id}/declaration"): frozenset({Role.EXPERT}),
    ("scoring", "GET /v1/applications/{application_id}/content"): (
        _SCORING_READERS | {Role.EXPERT}
    ),
    # Evaluations: the panel's experts score; operators name the rapporteur and reopen.
    ("scoring", "GET /v1/applications/{application_id}/evaluation"): (
        _SCORING_READERS | {Role.EXPERT}
    ),
    ("scoring", "PUT /v1/applications/{application_id}/evaluation/draft"): frozenset({Role.EXPERT}),
    ("scoring", "POST /v1/applications/{application_id}/evaluation:submit"): frozenset(
        {Role.EXPERT}
    ),
    ("scoring", "POST /v1/applications/{application_id}/evaluation/consensus"): frozenset(
        {Role.EXPERT}
    ),
    ("scoring", "PUT /v1/applications/{application_id}/evaluation/rapporteur"): _OPERATORS,
    ("scoring", "POST /v1/applications/{application_id}/evaluation:reopen"): _OPERATORS,
    # The applicant's own scores once ranked (no expert names).
    ("scoring", "GET /v1/applications/{application_id}/results"): frozenset(
        {Role.APPLICANT, Role.OPERATOR, Role.ADMIN}
    ),
    # The ranking for those who decide on it; consensus status for staff; the experts'
    # leniency for operators and analysts (an analysis view, no decision reads it).
    ("scoring", "GET /v1/calls/{call_id}/ranking"): frozenset(
        {
            Role.OPERATOR,
            Role.ADMIN,
            Role.AUDITOR,
            Role.ANALYST,
            Role.COMMISSION_SECRETARY,
            Role.COMMISSION_MEMBER,
        }
    ),
    ("scoring", "POST /v1/calls/{call_id}/ranking:publish"): _OPERATORS,
    ("scoring", "GET /v1/calls/{call_id}/consensus"): _SCORING_READERS,
    ("scoring", "GET /v1/calls/{call_id}/normalisation"): frozenset(
        {Role.OPERATOR, Role.ADMIN, Role.ANALYST}
    ),
    ("privacy", "GET /healthz"): PUBLIC,
    ("privacy", "GET /readyz"): PUBLIC,
    ("privacy", "POST /v1/erasures"): _OPERATORS,
    ("privacy", "GET /v1/subjects/access-request"): _OPERATORS,
    ("privacy", "GET /v1/retention/runs"): frozenset({Role.OPERATOR, Role.ADMIN, Role.AUDITOR}),
    ("readside", "GET /healthz"): PUBLIC,
    ("readside", "GET /readyz"): PUBLIC,
    # A call and its counts are public information; its journal names applicants.
    ("readside", "GET /v1/calls"): ANY_ROLE,
    ("readside", "GET /v1/calls/{call_id}"): ANY_ROLE,
    ("readside", "GET /v1/calls/{call_id}/summary"): ANY_ROLE,
    ("readside", "GET /v1/calls/{call_id}/journal"): _READ_MODEL_READERS,
    ("readside", "GET /v1/applications"): _READ_MODEL_READERS,
    ("readside", "GET /v1/applications/{application_id}"): _READ_MODEL_READERS,
    ("readside", "GET /v1/exports/applications.csv"): _READ_MODEL_READERS,
    ("readside", "GET /v1/exports/applications.parquet"): _READ_MODEL_READERS,
    ("readside", "GET /v1/audit/streams/{stream_id}"): frozenset({Role.AUDITOR}),
    ("readside", "GET /v1/audit/verify"): frozenset({Role.AUDITOR}),
    # Scoring's read models: staff see all, analysts without people, applicants their own
    # screening and ranking entries, the commission the ranking; never experts.
    ("readside", "GET /v1/calls/{call_id}/screening"): frozenset(
        {Role.OPERATOR, Role.ADMIN, Role.AUDITOR, Role.ANALYST, Role.APPLICANT}
    ),
    ("readside", "GET /v1/calls/{call_id}/assignments"): frozenset(
        {Role.OPERATOR, Role.ADMIN, Role.AUDITOR, Role.ANALYST}
    ),
    ("readside", "GET /v1/calls/{call_id}/progress"): frozenset(
        {Role.OPERATOR, Role.ADMIN, Role.AUDITOR, Role.ANALYST}
    ),
    ("readside", "GET /v1/calls/{call_id}/ranking"): frozenset(
        {
            Role.OPERATOR,
            Role.ADMIN,
            Role.AUDITOR,
            Role.ANALYST,
            Role.COMMISSION_SECRETARY,
            Role.COMMISSION_MEMBER,
            Role.APPLICANT,
        }
    ),
    ("readside", "GET /v1/exports/ranking.csv"): frozenset(
        {
            Role.OPERATOR,
            Role.ADMIN,
            Role.AUDITOR,
            Role.ANALYST,
            Role.COMMISSION_SECRETARY,
            Role.COMMISSION_MEMBER,
        }
    ),
    ("readside", "GET /v1/exports/ranking.parquet"): frozenset(
        {
            Role.OPERATOR,
            Role.ADMIN,
            Role.AUDITOR,
            Role.ANALYST,
            Role.COMMISSION_SECRETARY,
            Role.COMMISSION_MEMBER,
        }
    ),
}

# A well-formed value for each path parameter the services declare; a new parameter needs
# one here too (the test names it).
PATH_VALUES = {
    "call_id": "kz-clusters-2017",
    "application_id": str(uuid.uuid4()),
    "revision": "1",
    "sha256": "a" * 64,
    "stream_id": "call-kz-clusters-2017",
    # The expert token's subject below: an expert may read their own profile and worklist.
    "expert_id": "matrix-expert",
}

# Decisions written beside the routes they govern (tests/integration/roles/).
for _module in extensions():
    _overlap = MATRIX.keys() & _module.MATRIX.keys()
    assert not _overlap, f"{_module.__name__} decides again on {sorted(_overlap)}"
    MATRIX.update(_module.MATRIX)
    PATH_VALUES.update(getattr(_module, "PATH_VALUES", {}))

# The scope claims a token of each role needs.
SCOPE = {
    Role.APPLICANT: {"org": "170440000017"},
    Role.REGIONAL_OPERATOR: {"region": "KZ-75"},
}


def _services() -> list[ServiceSpec]:
    return [spec for spec in discover() if spec.api is not None]


def _operations(app: FastAPI) -> list[tuple[str, str]]:
    """("METHOD /path", path template) of every operation in the app's OpenAPI document."""
    return [
        (f"{method.upper()} {path}", path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method in {"get", "put", "post", "delete", "patch"}
    ]


def test_every_operation_of_every_service_has_a_decision_in_the_table() -> None:
    settings = Settings()
    found = {
        (spec.name, operation)
        for spec in _services()
        for operation, _ in _operations(spec.api.load()(settings))  # type: ignore[union-attr]
    }
    missing = sorted(found - MATRIX.keys())
    stale = sorted(MATRIX.keys() - found)
    assert not missing, f"operations without a decision on who may call them: {missing}"
    assert not stale, f"decisions for operations that no longer exist: {stale}"


@pytest.fixture(scope="module")
async def clients(settings: Settings) -> AsyncIterator[dict[str, tuple[FastAPI, Any]]]:
    """Each service's app, running (its lifespan started), with a client."""
    async with AsyncExitStack() as stack:
        out: dict[str, tuple[FastAPI, Any]] = {}
        for spec in _services():
            app: FastAPI = spec.api.load()(settings)  # type: ignore[union-attr]
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url=f"http://{spec.name}"
                )
            )
            out[spec.name] = (app, client)
        yield out


def _url(template: str) -> str:
    url = template
    for name, value in PATH_VALUES.items():
        url = url.replace("{" + name + "}", value)
    assert "{" not in url, f"no value for a path parameter of {template}: add it to PATH_VALUES"
    return url


@pytest.mark.parametrize("service", [spec.name for spec in _services()])
async def test_each_role_gets_the_answer_the_table_gives_on_every_operation(
    service: str, settings: Settings, clients: dict[str, tuple[FastAPI, Any]]
) -> None:
    app, client = clients[service]
    wrong: list[str] = []
    for operation, template in _operations(app):
        allowed = MATRIX[(service, operation)]
        method, url = operation.split(" ")[0], _url(template)
        anonymous = await client.request(method, url)
        if allowed == PUBLIC:
            if anonymous.status_code in (401, 403):
                wrong.append(f"{operation} without a token: {anonymous.status_code}, not public")
            continue
        if anonymous.status_code != 401:
            wrong.append(f"{operation} without a token: {anonymous.status_code}, expected 401")
        for role in Role:
            token = mint_token(settings, role, f"matrix-{role.value}", **SCOPE.get(role, {}))
            answer = await client.request(method, url, headers={"Authorization": f"Bearer {token}"})
            expected = "allowed" if role in allowed else "403"
            got = "allowed" if answer.status_code not in (401, 403) else str(answer.status_code)
            if got != expected:
                wrong.append(
                    f"{operation} as {role.value}: {answer.status_code}, expected {expected}"
                )
            if answer.status_code in (401, 403) and answer.headers["content-type"] != PROBLEM:
                wrong.append(f"{operation} as {role.value}: a {answer.status_code} not a problem")
    assert not wrong, "\n".join(wrong)
