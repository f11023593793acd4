"""Who may call the readside's plan routes (issue 10): a cluster's coordinator (an applicant
token of the coordinator's BIN) its own plan, operators, admins and auditors every plan and
version, analysts plans and progress without people; the list of overdue items is the staff's
and the analysts'."""

from __future__ import annotations

from konkurs_platform.auth import Role

_STAFF = frozenset({Role.OPERATOR, Role.ADMIN, Role.AUDITOR})
# An applicant gets past the role check; its scope (its own plan, else 403) is tested with
# the routes (tests/integration/test_readside_plans_api.py).
_PLAN_READERS = _STAFF | {Role.ANALYST, Role.APPLICANT}

MATRIX = {
    ("readside", "GET /v1/plans"): _PLAN_READERS,
    ("readside", "GET /v1/plans/{plan_id}"): _PLAN_READERS,
    ("readside", "GET /v1/plans/{plan_id}/versions"): _PLAN_READERS,
    ("readside", "GET /v1/plans/{plan_id}/reports"): _PLAN_READERS,
    ("readside", "GET /v1/plans/{plan_id}/attainment"): _PLAN_READERS,
    ("readside", "GET /v1/plans/{plan_id}/budget"): _PLAN_READERS,
    ("readside", "GET /v1/overdue"): _STAFF | {Role.ANALYST},
}

# A plan no reader has: 404 to every role let in.
PATH_VALUES = {"plan_id": "00000000-0000-4000-8000-00000000a11a"}
