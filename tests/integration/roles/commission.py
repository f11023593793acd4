"""Who may call the commission's routes (issue 9): the programme's operator (or an admin)
records a call's first composition, the secretary runs the procedure, members act for
themselves (the chair opens and closes votes and approves the minutes too), auditors and
admins follow; a published decision is public to every role; applicants lodge and read their
own appeals. The role only lets a caller reach a route: the service checks the office (the
secretary or the chair of the meeting's composition, or of the call's current one) against
the token's subject, tested in test_commission_offices.py."""

from __future__ import annotations

from konkurs_platform.auth import Role

_SECRETARY = frozenset({Role.COMMISSION_SECRETARY})
_MEMBER = frozenset({Role.COMMISSION_MEMBER})
_FOLLOWERS = frozenset(
    {Role.COMMISSION_SECRETARY, Role.COMMISSION_MEMBER, Role.AUDITOR, Role.ADMIN}
)

MATRIX = {
    ("commission", "GET /healthz"): "public",
    ("commission", "GET /readyz"): "public",
    ("commission", "PUT /v1/calls/{call_id}/commission"): _SECRETARY | {Role.OPERATOR, Role.ADMIN},
    ("commission", "GET /v1/calls/{call_id}/commission"): _FOLLOWERS | {Role.OPERATOR},
    ("commission", "POST /v1/meetings"): _SECRETARY,
    ("commission", "GET /v1/meetings/{meeting_id}"): _FOLLOWERS,
    ("commission", "GET /v1/meetings/{meeting_id}/decision"): frozenset(Role),
    ("commission", "POST /v1/meetings/{meeting_id}/opening"): _SECRETARY,
    ("commission", "POST /v1/meetings/{meeting_id}/attendance"): _SECRETARY,
    ("commission", "POST /v1/meetings/{meeting_id}/recusals"): _MEMBER,
    ("commission", "POST /v1/meetings/{meeting_id}/votes/{application_id}/opening"): _SECRETARY
    | _MEMBER,
    ("commission", "PUT /v1/meetings/{meeting_id}/votes/{application_id}"): _MEMBER,
    ("commission", "POST /v1/meetings/{meeting_id}/votes/{application_id}/closing"): _SECRETARY
    | _MEMBER,
    ("commission", "POST /v1/meetings/{meeting_id}/dissenting-opinions"): _MEMBER,
    ("commission", "POST /v1/meetings/{meeting_id}/decision"): _SECRETARY,
    ("commission", "POST /v1/meetings/{meeting_id}/approvals"): _SECRETARY | _MEMBER,
    ("commission", "POST /v1/meetings/{meeting_id}/publication"): _SECRETARY,
    ("commission", "POST /v1/meetings/{meeting_id}/replacements"): _SECRETARY,
    ("commission", "POST /v1/appeals"): frozenset({Role.APPLICANT}),
    ("commission", "GET /v1/appeals/{appeal_id}"): _FOLLOWERS | {Role.APPLICANT},
    ("commission", "POST /v1/appeals/{appeal_id}/panel"): _SECRETARY,
    ("commission", "POST /v1/appeals/{appeal_id}/decision"): _MEMBER,
}

PATH_VALUES = {"meeting_id": "matrix-meeting", "appeal_id": "matrix-appeal"}
