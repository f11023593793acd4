"""Who may open the readside's dashboard (konkurs_readside.dashboard.access).

Its pages are for those who follow the programme: staff, analysts (who are shown no personal
data) and the commission; applicants, regional operators and experts have their own views in
the services. An application's whole history names everyone who acted: auditors only, as in
the audit API. Signing in and out is public: the forms carry a CSRF token, and without it
the answer is a 400, never a 401 or 403.
"""

from __future__ import annotations

from konkurs_platform.auth import Role

_READERS = frozenset(
    {
        Role.OPERATOR,
        Role.ADMIN,
        Role.AUDITOR,
        Role.ANALYST,
        Role.COMMISSION_SECRETARY,
        Role.COMMISSION_MEMBER,
    }
)

MATRIX = {
    ("readside", "GET /dashboard/login"): "public",
    ("readside", "POST /dashboard/login"): "public",
    ("readside", "POST /dashboard/logout"): "public",
    ("readside", "GET /dashboard"): _READERS,
    ("readside", "GET /dashboard/calls/{call_id}"): _READERS,
    ("readside", "GET /dashboard/calls/{call_id}/evaluation"): _READERS,
    # Analysts see the published decisions without the members; the commission and the
    # staff also a decision not yet published, and who recused.
    ("readside", "GET /dashboard/calls/{call_id}/commission"): _READERS,
    ("readside", "GET /dashboard/calls/{call_id}/plans"): _READERS,
    ("readside", "GET /dashboard/applications/{application_id}/audit"): frozenset({Role.AUDITOR}),
}
