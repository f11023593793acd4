"""Who may download a meeting's minutes (issue 9): the commission, auditors and admins the
whole minutes; an applicant its redacted extract once the decision is published (the route
checks the application and the publication: a 404 otherwise)."""

from __future__ import annotations

from konkurs_platform.auth import Role

MATRIX = {
    ("commission", "GET /v1/meetings/{meeting_id}/minutes"): frozenset(
        {
            Role.COMMISSION_SECRETARY,
            Role.COMMISSION_MEMBER,
            Role.AUDITOR,
            Role.ADMIN,
            Role.APPLICANT,
        }
    ),
}
