"""Scoring's reaction to the commission's events: an upheld appeal (ReevaluationRequested)
reopens the named application's evaluation for a new round, and its panel gets new due
times, as at its first assignment. The next ranking version follows when the round is final.

Both commands run in the transaction that claims the event in the inbox, through
`CommandReaction`: their events carry the commission's event as causation, and their ids
derive from it, so a redelivery appends nothing twice. The same appeal requested again (a
second event) changes nothing either: the evaluation remembers the appeals that reopened
it. A request scoring must refuse (an application it does not know, or whose evaluation is
not final) is a `DomainError`, which `react` parks on the dead-letter topic with its reason.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from konkurs_platform.db import Connection
from konkurs_platform.domain import DomainError
from konkurs_platform.envelope import Envelope
from konkurs_platform.reaction import Effect
from konkurs_scoring.adapters.commission_events import (
    REEVALUATION_REQUESTED,
    reevaluation_request,
)
from konkurs_scoring.app.assignment import Assignments, assignment_stream
from konkurs_scoring.app.evaluation import Evaluations
from konkurs_scoring.app.ranking import evaluation_stream
from konkurs_scoring.consumers.reacting import Once
from konkurs_scoring.domain.evaluation import ReopenEvaluation

# The inbox's name for this reaction: renaming it would apply every event again.
CONSUMER = "scoring.commission-events"


class CommissionEvents:
    """The effects of the commission's events on evaluations and their panels."""

    def __init__(
        self,
        evaluations: Evaluations,
        assignments: Assignments,
        clock: Callable[[], datetime],
    ) -> None:
        self.evaluations = evaluations
        self.assignments = assignments
        self.clock = clock

    async def on_reevaluation_requested(self, conn: Connection, envelope: Envelope) -> None:
        """ReevaluationRequested: reopen the evaluation and renew its panel's due times."""
        request = reevaluation_request(envelope)
        application = await self.evaluations.application(conn, request.application_id)
        if application.call_id != request.call_id:
            raise DomainError(
                "call_mismatch",
                f"Application {request.application_id} belongs to call {application.call_id}, "
                f"not to {request.call_id}.",
            )
        # A historical (imported) request is dated by its cause; a live one gives the panel
        # its full evaluation days from when scoring reopens, however late the worker is.
        now = envelope.occurred_at if envelope.imported else self.clock()
        application_id = application.application_id
        before = (await self.evaluations.load(application_id, conn)).state.round
        reopen = ReopenEvaluation(application_id, request.reason, request.appeal_id, now)
        stream = evaluation_stream(application_id)
        await Once(self.evaluations.handler, stream, reopen, consumer=CONSUMER)(conn, envelope)
        reopened = (await self.evaluations.load(application_id, conn)).state
        if reopened.round == before:
            return  # this appeal reopened the evaluation already
        renewal = await self.assignments.renewal(
            conn, application_id, reopened.round, request.reason, now
        )
        # The historical handler sets no due timers: a record's due times passed long ago.
        panels = self.assignments.historical if envelope.imported else self.assignments.handler
        stream = assignment_stream(application_id)
        await Once(panels, stream, renewal, consumer=CONSUMER)(conn, envelope)
        await self.assignments.record(conn, application_id)

    def effects(self) -> dict[str, Effect]:
        """The effect of each event type this reaction handles; other types are skipped."""
        return {REEVALUATION_REQUESTED: self.on_reevaluation_requested}
