"""What the minutes' route (api/minutes.py) needs: a meeting's minutes and whom they concern.

The bootstrap puts the service on `app.state.commission` (a `CommissionState`: its `pool` and
its `commission` handlers); `load_minutes(state, meeting_id)` reads the meeting's events,
opens its members' names and builds the minutes (`domain/minutes.py`). An applicant may see
them, redacted for its application (`redacted_for`), once `MeetingInfo.published`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from konkurs_commission.app.commission import Commission
from konkurs_commission.domain.minutes import Minutes, build_minutes
from konkurs_platform.idempotency import IdempotencyStore


@dataclass
class CommissionState:
    """What the commission's routes share (`app.state.commission`)."""

    pool: asyncpg.Pool
    commission: Commission
    idempotency: IdempotencyStore
    clock: Callable[[], datetime]


@dataclass(frozen=True)
class MeetingInfo:
    """Whom a meeting's minutes concern, and whether its decision is public."""

    meeting_id: str
    call_id: str
    published: bool
    # Every application on the agenda, first place first.
    application_ids: tuple[str, ...]
    # Application id -> its coordinator's BIN: an applicant's token names its organisation.
    coordinator_bins: dict[str, str]
    # The meeting's stream version (an ETag for the minutes).
    version: int


async def load_minutes(state: CommissionState, meeting_id: str) -> tuple[Minutes, MeetingInfo]:
    """The meeting's minutes with its members' names opened, and what they concern; a
    `NotFound` (konkurs_platform.domain) for an unknown meeting."""
    async with state.pool.acquire() as conn:
        meeting, version = await state.commission.meeting(conn, meeting_id)
        scheduled = meeting.scheduled
        assert scheduled is not None
        names = await state.commission.member_names(
            conn, scheduled.call_id, [m.member_id for m in scheduled.members]
        )
    minutes = build_minutes(meeting.record, names=names)
    info = MeetingInfo(
        meeting_id=meeting_id,
        call_id=scheduled.call_id,
        published=meeting.published is not None,
        application_ids=tuple(c.application_id for c in scheduled.candidates),
        coordinator_bins={c.application_id: c.coordinator_bin for c in scheduled.candidates},
        version=version,
    )
    return minutes, info
