"""Who may call the readside's open data and its read-model exports.

- The 360Giving package (JSON and CSV) is public: the awards of state support to the
  selected clusters are public by law once the commission's decision is published, hold no
  personal data, and open data behind a login is not open.
- The exports of scoring's and plan tracking's read models are for those who may read the
  whole read model through the JSON routes: operators, auditors and admins (every column)
  and analysts (no column that names a person, no draft). An applicant reads its own rows
  through the JSON routes; experts, regional operators and the commission export nothing
  here.
- The commission's meetings and decisions: the commission as well (every column), and
  analysts the published decisions without people, as their JSON routes.
"""

from __future__ import annotations

from konkurs_platform.auth import Role

PUBLIC = "public"  # as in the role matrix: no token needed

_EXPORTERS = frozenset({Role.OPERATOR, Role.ADMIN, Role.AUDITOR, Role.ANALYST})
_COMMISSION_EXPORTERS = _EXPORTERS | {Role.COMMISSION_SECRETARY, Role.COMMISSION_MEMBER}

MATRIX: dict[tuple[str, str], frozenset[Role] | str] = {
    ("readside", "GET /v1/open-data/360giving.json"): PUBLIC,
    ("readside", "GET /v1/open-data/360giving.csv"): PUBLIC,
    **{
        ("readside", f"GET /v1/exports/{model}.{extension}"): _EXPORTERS
        for model in (
            "screening",
            "assignments",
            "evaluations",
            "plans",
            "plan_versions",
            "plan_reports",
            "plan_attainment",
            "plan_budget",
            "plan_overdue",
        )
        for extension in ("csv", "parquet")
    },
    **{
        ("readside", f"GET /v1/exports/{model}.{extension}"): _COMMISSION_EXPORTERS
        for model in ("meetings", "decisions")
        for extension in ("csv", "parquet")
    },
}
