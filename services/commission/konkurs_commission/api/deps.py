"""What the commission's routes depend on: the service on app.state, and who acts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request

from konkurs_commission.app.minutes import CommissionState
from konkurs_commission.domain.acting import Caller, Office
from konkurs_platform.auth import Principal, Role, log_denial
from konkurs_platform.domain import Forbidden
from konkurs_platform.problems import Problem
from konkurs_platform.service import command_problem, refusals_as_problems

# The office each role that may act on the commission's aggregates signs in to. An admin
# may do what an operator does here (record a call's first composition), as elsewhere.
_OFFICES = {
    Role.OPERATOR: Office.OPERATOR,
    Role.ADMIN: Office.OPERATOR,
    Role.COMMISSION_SECRETARY: Office.SECRETARY,
    Role.COMMISSION_MEMBER: Office.MEMBER,
}


# Async, though it awaits nothing: FastAPI runs a plain `def` dependency in a thread pool.
async def commission(request: Request) -> CommissionState:
    """Dependency: the commission service of this app."""
    service: CommissionState = request.app.state.commission
    return service


def caller(principal: Principal) -> Caller:
    """The caller as the commission's rules see them; only for the roles in `_OFFICES` (the
    route's `require` lets no other through)."""
    return Caller(principal.subject, _OFFICES[principal.role])


@contextmanager
def refusals(request: Request, principal: Principal, if_match: int | None = None) -> Iterator[None]:
    """`refusals_as_problems`, and a refusal of who acts (the decider's `Forbidden`: not
    the secretary of this meeting's commission) logged as every denial is."""

    def problem(error: Exception, expected: int | None) -> Problem:
        if isinstance(error, Forbidden):
            log_denial(request, principal, 403, error.detail)
        return command_problem(error, expected)

    with refusals_as_problems(if_match, problem):
        yield
