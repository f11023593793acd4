"""Who may call the readside's commission routes (issue 9): the commission and the staff see
meetings and votes with the members named; analysts the meetings without people; a published
decision is public to every role; applicants read their own appeals."""

from __future__ import annotations

from konkurs_platform.auth import Role

_INSIDERS = frozenset(
    {
        Role.COMMISSION_SECRETARY,
        Role.COMMISSION_MEMBER,
        Role.OPERATOR,
        Role.AUDITOR,
        Role.ADMIN,
    }
)

MATRIX = {
    ("readside", "GET /v1/calls/{call_id}/meetings"): _INSIDERS | {Role.ANALYST},
    ("readside", "GET /v1/meetings/{meeting_id}"): _INSIDERS | {Role.ANALYST},
    ("readside", "GET /v1/meetings/{meeting_id}/votes"): _INSIDERS,
    ("readside", "GET /v1/calls/{call_id}/decisions"): frozenset(Role),
    ("readside", "GET /v1/calls/{call_id}/appeals"): _INSIDERS | {Role.APPLICANT},
    ("readside", "GET /v1/appeals/{appeal_id}"): _INSIDERS | {Role.APPLICANT},
}

PATH_VALUES = {
    "meeting_id": "matrix-meeting",
    "appeal_id": "matrix-appeal",
}
