"""Who sees which applications, and with which fields.

- applicant: the applications its organisation takes part in, as coordinator or as a
  participant. Every participant is a party to the joint application (it signs the
  letter of intent and its own figures are in it), so it may read what was filed in its name.
- regional_operator: the applications of its region (the cluster's region code).
- analyst: every application, without personal data (the contact person's name, phone and
  e-mail; the subjects of the people who acted).
- operator, auditor, admin: everything.
- any other role: 403.

Scoring's read models (`scoring_scope`) name people of another kind: the experts, and the
operators who override a screening. Only operators, auditors and admins see who they are;
analysts see the rest of every row, applicants the rest of their own applications' rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from konkurs_platform.auth import Principal, Role, forbidden

READERS = (
    Role.APPLICANT,
    Role.REGIONAL_OPERATOR,
    Role.ANALYST,
    Role.OPERATOR,
    Role.AUDITOR,
    Role.ADMIN,
)
PII_COLUMNS = ("contact_name", "contact_phone", "contact_email")


@dataclass
class Where:
    """SQL conditions with their numbered parameters, built up one condition at a time."""

    conditions: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, condition: str, *values: Any) -> None:
        """`condition` names its parameters `{0}`, `{1}`, ... in the order of `values`."""
        numbers = [f"${len(self.params) + i + 1}" for i in range(len(values))]
        self.conditions.append(condition.format(*numbers))
        self.params.extend(values)

    def sql(self) -> str:
        return " AND ".join(self.conditions) if self.conditions else "true"


@dataclass(frozen=True)
class Scope:
    """What the caller may read: a row condition and whether personal data is included."""

    principal: Principal
    pii: bool

    def restrict(self, where: Where) -> None:
        """Add the caller's row condition to `where`."""
        p = self.principal
        if p.role is Role.APPLICANT:
            where.add(
                "(coordinator_bin = {0} OR participant_bins @> ARRAY[{0}]::text[])", p.organisation
            )
        elif p.role is Role.REGIONAL_OPERATOR:
            where.add("region_code = {0}", p.region)

    def allows(self, row: Any) -> bool:
        """Whether the caller may read `row` (an applications or journal row)."""
        p = self.principal
        if p.role is Role.APPLICANT:
            return bool(
                row["coordinator_bin"] == p.organisation
                or p.organisation in row["participant_bins"]
            )
        if p.role is Role.REGIONAL_OPERATOR:
            return bool(row["region_code"] == p.region)
        return True


def scope_of(request: Request, principal: Principal) -> Scope:
    """The caller's scope, or 403 for a role that reads no applications."""
    if principal.role not in READERS:
        raise forbidden(
            request, principal, f"role {principal.role.value} may not read applications"
        )
    return Scope(principal, pii=principal.role is not Role.ANALYST)


# Who may see the people behind scoring's read models: experts' names and ids, and the
# subjects of the actors.
STAFF = (Role.OPERATOR, Role.AUDITOR, Role.ADMIN)


def scoring_scope(principal: Principal) -> Scope:
    """The scope over scoring's read models of a caller the route's `require` let in: the
    row condition of its role, and `pii` when experts and actors may be named to it."""
    return Scope(principal, pii=principal.role in STAFF)
