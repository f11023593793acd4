"""Evaluation handlers: gather what the decision needs (the methodology, the panel, the
application's measures), load the evaluation, decide, append; then, when an evaluation
became final, the call's ranking in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from konkurs_platform.db import Connection
from konkurs_platform.domain import Conflict, Forbidden, NotFound
from konkurs_platform.eventstore import EventStore, Metadata
from konkurs_platform.handler import CommandHandler, Loaded, Outcome
from konkurs_scoring.adapters.applications import PostgresApplicationBook
from konkurs_scoring.adapters.assignment import PostgresAssignmentBook
from konkurs_scoring.adapters.calls import PostgresCallBook
from konkurs_scoring.adapters.codec_s2 import FINALISED, EvaluationCodec, measures_of
from konkurs_scoring.adapters.ranking import PostgresRankingLock
from konkurs_scoring.adapters.screening import PostgresScreeningBook
from konkurs_scoring.app import assignment
from konkurs_scoring.app.calls import CallBook
from konkurs_scoring.app.ports_s2 import (
    ApplicationFacts,
    Applications,
    Assignments,
    Panels,
    RankingLock,
    Screening,
)
from konkurs_scoring.app.ranking import Rankings, evaluation_stream
from konkurs_scoring.domain.aggregation import (
    CriterionScore,
    ExpertLeniency,
    ScoringRules,
    leniency,
)
from konkurs_scoring.domain.evaluation import (
    Evaluation,
    EvaluationCommand,
    EvaluationEvent,
    EvaluationSubmitted,
    NameRapporteur,
    PanelMember,
    RecordConsensus,
    ReopenEvaluation,
    SaveDraft,
    SubmitEvaluation,
    evaluation_decider,
)


@dataclass(frozen=True)
class _Context:
    application: ApplicationFacts
    rules: ScoringRules
    panel: tuple[PanelMember, ...]


@dataclass
class Evaluations:
    """The evaluation aggregate's handlers, and the ranking they complete."""

    store: EventStore
    pool: asyncpg.Pool
    calls: CallBook
    applications: Applications
    assignments: Assignments
    panels: Panels
    screening: Screening
    lock: RankingLock
    clock: Callable[[], datetime]
    handler: CommandHandler[EvaluationCommand, Evaluation, EvaluationEvent] = field(init=False)
    rankings: Rankings = field(init=False)

    def __post_init__(self) -> None:
        self.handler = CommandHandler(self.store, evaluation_decider, EvaluationCodec())
        self.rankings = Rankings(
            self.store, self.calls, self.applications, self.screening, self.lock
        )

    async def load(self, application_id: str, conn: Connection) -> Loaded[Evaluation]:
        """The evaluation as it stands, with its history."""
        return await self.handler.load(evaluation_stream(application_id), conn=conn)

    async def application(self, conn: Connection, application_id: str) -> ApplicationFacts:
        """The application, as scoring learned it; NotFound if it never heard of it."""
        application = await self.applications.get(conn, application_id)
        if application is None:
            raise NotFound("unknown_application", f"Scoring knows no application {application_id}.")
        return application

    async def view(
        self, conn: Connection, application_id: str, expert_id: str | None
    ) -> Loaded[Evaluation]:
        """The evaluation for a reader: an expert (`expert_id`) only of an application they
        were assigned to and declared no conflict for; an overseer (None) of any."""
        application = await self.application(conn, application_id)
        if expert_id is not None and not any(
            a.expert_id == expert_id and a.declared == "no_conflict"
            for a in await self.assignments.of_application(conn, application_id)
        ):
            raise Forbidden(
                "not_assigned", "You are not assigned to this application or have not declared."
            )
        return await self.load(application.application_id, conn)

    async def of_call(self, conn: Connection, call_id: str) -> list[tuple[str, Evaluation]]:
        """The evaluation of every eligible application of the call, by application id."""
        return [
            (application_id, (await self.load(application_id, conn)).state)
            for application_id in sorted(await self.screening.eligible(conn, call_id))
        ]

    async def leniency(self, conn: Connection, call_id: str) -> list[ExpertLeniency]:
        """Each expert's leniency over the call's current rounds: an analysis view, read by
        operators and analysts; no decision ever reads it."""
        rules = await self.rankings.rules(conn, call_id)
        return leniency(rules, [state.submitted for _, state in await self.of_call(conn, call_id)])

    async def _context(self, conn: Connection, application_id: str) -> _Context:
        application = await self.application(conn, application_id)
        if application.withdrawn:
            raise Conflict("application_withdrawn", "The application was withdrawn.")
        if application_id not in await self.screening.eligible(conn, application.call_id):
            raise Conflict("not_eligible", "The application is not eligible: it is not evaluated.")
        rules = await self.rankings.rules(conn, application.call_id)
        panel = tuple(
            PanelMember(a.expert_id, a.assigned_at, a.declared)
            for a in await self.assignments.of_application(conn, application_id)
            if a.active
        )
        return _Context(application, rules, panel)

    async def _execute(
        self,
        conn: Connection,
        application: ApplicationFacts,
        command: EvaluationCommand,
        meta: Metadata,
        expected_version: int | None = None,
    ) -> Outcome[Evaluation]:
        outcome = await self.handler.execute(
            evaluation_stream(application.application_id),
            command,
            meta,
            conn=conn,
            expected_version=expected_version,
        )
        for event in outcome.events:
            # The panel learns of the submission in this transaction, so the evaluation's
            # due timer can never flag it overdue afterwards (a reaction to our own event
            # would leave a window in which it could).
            submitted = self.handler.codec.decode(event)
            if isinstance(submitted, EvaluationSubmitted):
                await self.panels.complete(
                    conn,
                    application.application_id,
                    submitted.expert_id,
                    submitted.round,
                    meta,
                    submitted.submitted_at,
                )
        if any(e.event_type == FINALISED for e in outcome.events):
            await self.rankings.publish_if_complete(conn, application.call_id, meta, self.clock())
        return outcome

    async def handle_save_draft(
        self,
        conn: Connection,
        application_id: str,
        expert_id: str,
        scores: tuple[CriterionScore, ...],
        meta: Metadata,
        expected_version: int | None = None,
    ) -> Outcome[Evaluation]:
        ctx = await self._context(conn, application_id)
        cmd = SaveDraft(
            application_id,
            ctx.application.call_id,
            expert_id,
            scores,
            ctx.rules,
            ctx.panel,
            self.clock(),
        )
        return await self._execute(conn, ctx.application, cmd, meta, expected_version)

    async def handle_submit_evaluation(
        self,
        conn: Connection,
        application_id: str,
        expert_id: str,
        scores: tuple[CriterionScore, ...],
        meta: Metadata,
        expected_version: int | None = None,
    ) -> Outcome[Evaluation]:
        ctx = await self._context(conn, application_id)
        cmd = SubmitEvaluation(
            application_id,
            ctx.application.call_id,
            expert_id,
            scores,
            ctx.rules,
            ctx.panel,
            measures_of(ctx.application.content),
            self.clock(),
        )
        return await self._execute(conn, ctx.application, cmd, meta, expected_version)

    async def handle_name_rapporteur(
        self, conn: Connection, application_id: str, expert_id: str, meta: Metadata
    ) -> Outcome[Evaluation]:
        ctx = await self._context(conn, application_id)
        cmd = NameRapporteur(application_id, expert_id, ctx.panel, self.clock())
        return await self._execute(conn, ctx.application, cmd, meta)

    async def handle_record_consensus(
        self,
        conn: Connection,
        application_id: str,
        expert_id: str,
        scores: tuple[CriterionScore, ...],
        justification: str,
        meta: Metadata,
    ) -> Outcome[Evaluation]:
        ctx = await self._context(conn, application_id)
        cmd = RecordConsensus(
            application_id, expert_id, scores, justification, ctx.rules, self.clock()
        )
        return await self._execute(conn, ctx.application, cmd, meta)

    async def handle_reopen_evaluation(
        self, conn: Connection, application_id: str, reason: str, appeal_id: str, meta: Metadata
    ) -> Outcome[Evaluation]:
        """A re-evaluation (an upheld appeal, or an operator's decision): a new round, for
        which the panel gets new due times in the same transaction. The published ranking
        stays; its next version follows when the round is final."""
        application = await self.application(conn, application_id)
        now = self.clock()
        cmd = ReopenEvaluation(application_id, reason, appeal_id, now)
        outcome = await self._execute(conn, application, cmd, meta)
        if outcome.events:
            await self.panels.renew(conn, application_id, outcome.state.round, reason, meta, now)
        return outcome


def build(store: EventStore, pool: asyncpg.Pool, clock: Callable[[], datetime]) -> Evaluations:
    """The evaluation handlers over scoring's event store and its PostgreSQL books (what
    `bootstrap` keeps as `app.state.scoring.evaluation`)."""
    schema = store.schema
    return Evaluations(
        store=store,
        pool=pool,
        calls=PostgresCallBook(schema),
        applications=PostgresApplicationBook(schema),
        assignments=PostgresAssignmentBook(schema),
        panels=assignment.build(store),
        screening=PostgresScreeningBook(schema),
        lock=PostgresRankingLock(schema),
        clock=clock,
    )
