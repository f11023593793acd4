"""Who may call plan tracking's routes (issue 10): a coordinator is an applicant token whose
organisation is the plan's coordinator BIN, and drafts, submits and reports on its own plan
only (the decider refuses another's: tested in test_plans_api.py); operators and admins
approve, return and accept; analysts read plans and progress (a plan holds no personal
data: its owners are organisations); auditors read every version and every event, which
operators and admins may too. The matrix's applicant has no plan: allowed means a 404."""

from __future__ import annotations

from konkurs_platform.auth import Role

_READERS = frozenset({Role.APPLICANT, Role.OPERATOR, Role.ADMIN, Role.ANALYST, Role.AUDITOR})
_OPERATORS = frozenset({Role.OPERATOR, Role.ADMIN})
_COORDINATOR = frozenset({Role.APPLICANT})

MATRIX = {
    ("plans", "GET /healthz"): "public",
    ("plans", "GET /readyz"): "public",
    ("plans", "GET /v1/plans"): _READERS,
    ("plans", "GET /v1/plans/{plan_id}"): _READERS,
    ("plans", "GET /v1/plans/{plan_id}/versions"): _READERS,
    ("plans", "GET /v1/plans/{plan_id}/versions/{version}"): _READERS,
    ("plans", "GET /v1/plans/{plan_id}/events"): frozenset(
        {Role.AUDITOR, Role.OPERATOR, Role.ADMIN}
    ),
    ("plans", "GET /v1/plans/{plan_id}/progress"): _READERS,
    ("plans", "PUT /v1/plans/{plan_id}/draft"): _COORDINATOR,
    ("plans", "POST /v1/plans/{plan_id}/draft:submit"): _COORDINATOR,
    ("plans", "POST /v1/plans/{plan_id}/draft:return"): _OPERATORS,
    ("plans", "POST /v1/plans/{plan_id}/draft:approve"): _OPERATORS,
    ("plans", "GET /v1/plans/{plan_id}/reports/{period_id}"): _READERS,
    ("plans", "PUT /v1/plans/{plan_id}/reports/{period_id}"): _COORDINATOR,
    ("plans", "POST /v1/plans/{plan_id}/reports/{period_id}:accept"): _OPERATORS,
    ("plans", "POST /v1/plans/{plan_id}/reports/{period_id}:return"): _OPERATORS,
}

PATH_VALUES = {
    "plan_id": "00000000-0000-4000-8000-00000000a11a",
    "period_id": "2018-Q1",
    "version": "1",
}
