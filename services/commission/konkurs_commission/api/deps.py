"""What the commission's routes depend on: the service on app.state, and who acts."""

from __future__ import annotations

from fastapi import Request

from konkurs_commission.app.minutes import CommissionState
from konkurs_commission.domain.events import MemberRole
from konkurs_commission.domain.meeting import Meeting
from konkurs_platform.auth import Principal, Role, forbidden


# Async, though it awaits nothing: FastAPI runs a plain `def` dependency in a thread pool.
async def commission(request: Request) -> CommissionState:
    """Dependency: the commission service of this app."""
    service: CommissionState = request.app.state.commission
    return service


def require_chair_or_secretary(request: Request, principal: Principal, meeting: Meeting) -> None:
    """The secretary runs the procedure; of the members, only the chair does."""
    if principal.role is Role.COMMISSION_SECRETARY:
        return
    member = meeting.member(principal.subject)
    if member is None or member.role is not MemberRole.CHAIR:
        raise forbidden(request, principal, "only the chair or the secretary does this")
