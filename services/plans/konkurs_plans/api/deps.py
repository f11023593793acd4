"""What the plan routes depend on, built once in `bootstrap` and kept on app.state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request

from konkurs_plans.app.plans import PlanClock, Plans
from konkurs_plans.domain.plans import Plan, PlanState
from konkurs_platform.auth import Principal, Role, forbidden
from konkurs_platform.problems import NOT_FOUND, Problem

# Who reads plans and their progress: the staff, analysts (a plan holds no personal data:
# owners are organisations), auditors, and a coordinator (an applicant) its own plans.
READERS = (Role.APPLICANT, Role.OPERATOR, Role.ADMIN, Role.ANALYST, Role.AUDITOR)
# Who approves plans and accepts reports, or returns them.
OPERATORS = (Role.OPERATOR, Role.ADMIN)
# Who reads every event of a plan, with who acted.
EVENT_READERS = (Role.AUDITOR, Role.OPERATOR, Role.ADMIN)


@dataclass
class PlanService:
    plans: Plans
    clock_service: PlanClock
    clock: Callable[[], datetime]


# Async, though it awaits nothing: FastAPI runs a plain `def` dependency in a thread pool.
async def plan_service(request: Request) -> PlanService:
    """Dependency: the plan service of this app."""
    service: PlanService = request.app.state.plans
    return service


def readable(request: Request, state: PlanState, plan_id: str, principal: Principal) -> Plan:
    """The plan if it exists and the caller may read it: a coordinator only its own."""
    if not isinstance(state, Plan):
        raise Problem(NOT_FOUND, f"There is no plan {plan_id}.")
    if principal.role is Role.APPLICANT and principal.organisation != state.opened.coordinator_bin:
        raise forbidden(request, principal, "a coordinator reads its own cluster's plan only")
    return state
