"""The commission's reactions: keep intake's calls and applications and scoring's rankings,
and put upheld appeals on the agenda of a new meeting when a newer ranking arrives.

Each effect runs in the transaction that claims the event in the inbox (platform
`react`), so a redelivered event changes nothing. The writes are idempotent besides: an
older revision never replaces a newer one, a ranking version is kept once, and the new
meeting's id and its events' ids derive from the ranking event, so even a ranking that got
past the inbox schedules nothing twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from konkurs_commission.adapters.events_in import (
    APPLICATION_AMENDED,
    APPLICATION_SUBMITTED,
    APPLICATION_WITHDRAWN,
    CALL_AMENDED,
    CALL_ANNOUNCED,
    RANKING_PUBLISHED,
    application_id_of,
    call_of,
    learn_application,
    ranking_of,
)
from konkurs_commission.app.commission import (
    Commission,
    meeting_stream,
    reconsideration_meeting_id,
)
from konkurs_platform.db import Connection
from konkurs_platform.domain import Conflict
from konkurs_platform.envelope import Envelope
from konkurs_platform.reaction import Caused, CommandReaction, Effect

log = logging.getLogger(__name__)

# The inboxes' names: renaming one would apply every event again.
INTAKE_CONSUMER = "commission.intake-events"
SCORING_CONSUMER = "commission.scoring-events"
# A meeting a new ranking causes is scheduled this long after the ranking; the secretary
# announces the room.
RECONSIDERATION_NOTICE = timedelta(days=14)
RECONSIDERATION_VENUE = "to be announced by the secretary"


class Reactions:
    """The effects of intake's and scoring's events on what the commission knows."""

    def __init__(self, commission: Commission) -> None:
        self.commission = commission
        self.book = commission.book

    async def on_call_defined(self, conn: Connection, envelope: Envelope) -> None:
        """CallAnnounced or CallAmended: keep the quota and the time zone."""
        await self.book.keep_call(conn, call_of(envelope))

    async def on_application_event(self, conn: Connection, envelope: Envelope) -> None:
        """An application submitted, amended or withdrawn: keep its latest revision."""
        before = await self.book.application(conn, application_id_of(envelope))
        after = learn_application(before, envelope)
        if after is not None:
            await self.book.keep_application(conn, after)

    async def on_ranking_published(self, conn: Connection, envelope: Envelope) -> None:
        """RankingPublished: keep it; if upheld appeals wait for it, schedule their meeting."""
        ranking = ranking_of(envelope)
        if not await self.book.keep_ranking(conn, ranking):
            return
        waiting = await self.book.waiting(conn, ranking.call_id, ranking.version)
        if not waiting:
            return
        meeting_id = reconsideration_meeting_id(ranking.event_id)
        try:
            command = await self.commission.schedule_command(
                conn,
                meeting_id=meeting_id,
                call_id=ranking.call_id,
                scheduled_for=ranking.published_at + RECONSIDERATION_NOTICE,
                venue=RECONSIDERATION_VENUE,
                ranking_version=ranking.version,
                by=None,
                reconsidered=tuple(dict.fromkeys(w.application_id for w in waiting)),
            )
        except Conflict as refusal:
            # No place left in the call's quota (or no commission): the ranking is kept and
            # the appeals keep waiting for the commission to decide how to proceed; raising
            # would undo the ranking with the meeting.
            log.warning(
                "no reconsideration meeting scheduled",
                extra={"call_id": ranking.call_id, "reason": str(refusal)},
            )
            return
        reaction = CommandReaction(
            self.commission.meetings,
            lambda _: Caused(meeting_stream(meeting_id), command),
            consumer=SCORING_CONSUMER,
        )
        await reaction(conn, envelope)
        await self.book.keep_meeting(conn, meeting_id, ranking.call_id)
        await self.book.put_on_agenda(conn, [w.appeal_id for w in waiting], meeting_id)

    def intake_effects(self) -> dict[str, Effect]:
        """The effect of each intake event type the commission handles."""
        return {
            CALL_ANNOUNCED: self.on_call_defined,
            CALL_AMENDED: self.on_call_defined,
            APPLICATION_SUBMITTED: self.on_application_event,
            APPLICATION_AMENDED: self.on_application_event,
            APPLICATION_WITHDRAWN: self.on_application_event,
        }

    def scoring_effects(self) -> dict[str, Effect]:
        """The effect of each scoring event type the commission handles."""
        return {RANKING_PUBLISHED: self.on_ranking_published}
