"""A call's ranking: computed from its eligible applications' final evaluations, published
on the stream `ranking-<call_id>` when every one of them is final, in a new version when one
changes.

The ranking is decided in the transaction that finalises an evaluation (or on an operator's
request), under the call's ranking lock (`RankingLock`), so that of two evaluations
finalised at once the second sees the first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from konkurs_platform.db import Connection
from konkurs_platform.domain import Conflict, NotFound
from konkurs_platform.envelope import Envelope
from konkurs_platform.eventstore import EventStore, Metadata
from konkurs_platform.handler import CommandHandler, Outcome
from konkurs_scoring.adapters.codec_s2 import (
    AUTOMATIC_COMPUTED,
    CONSENSUS_RECORDED,
    FINALISED,
    REOPENED,
    SUBMITTED,
    EvaluationCodec,
    RankingCodec,
    rules_of,
)
from konkurs_scoring.app.calls import CallBook
from konkurs_scoring.app.ports_s2 import ApplicationFacts, Applications, RankingLock, Screening
from konkurs_scoring.domain.aggregation import ScoringRules
from konkurs_scoring.domain.evaluation import (
    ConsensusRecorded,
    EvaluationSubmitted,
    evaluation_decider,
)
from konkurs_scoring.domain.ranking import (
    PublishRanking,
    Ranking,
    RankingContent,
    RankingEntry,
    RankingInput,
    RankingPublished,
    rank,
    ranking_decider,
)

# The events of a round that a final score stands on.
_USED = frozenset({SUBMITTED, AUTOMATIC_COMPUTED, CONSENSUS_RECORDED, FINALISED})


def evaluation_stream(application_id: str) -> str:
    return f"evaluation-{application_id}"


def ranking_stream(call_id: str) -> str:
    return f"ranking-{call_id}"


def ranking_input(
    history: Sequence[Envelope], registration: tuple[str, datetime]
) -> RankingInput | None:
    """An application's final evaluation as the ranking takes it, from its stream: the
    current round's final scores and the ids of the events they stand on; None while the
    evaluation is not final."""
    codec = EvaluationCodec()
    state = evaluation_decider.fold([codec.decode(e) for e in history])
    final = state.final
    if final is None:
        return None
    # The current round begins after the last reopening.
    start = max((i for i, e in enumerate(history) if e.event_type == REOPENED), default=-1) + 1
    used: list[str] = []
    for envelope in history[start:]:
        if envelope.event_type not in _USED:
            continue
        if envelope.event_type == SUBMITTED:
            submitted = codec.decode(envelope)
            # A submission of an expert who left the panel before the end does not count.
            assert isinstance(submitted, EvaluationSubmitted)
            if submitted.expert_id not in final.experts:
                continue
        used.append(str(envelope.event_id))
    number, registered_at = registration
    return RankingInput(
        application_id=final.application_id,
        registration_number=number,
        registered_at=registered_at,
        round=final.round,
        scores={s.criterion_id: s.score for s in final.scores},
        overall=final.overall,
        failed_thresholds=final.failed_thresholds,
        event_ids=tuple(used),
    )


@dataclass(frozen=True)
class Results:
    """An application's published result: the ranking version, its entry, and the comments
    per criterion ("consensus": the consensus report's justification)."""

    ranking: RankingPublished
    entry: RankingEntry
    comments: Mapping[str, tuple[str, ...]]


@dataclass
class Rankings:
    """The ranking aggregate's handler, and the computation it publishes."""

    store: EventStore
    calls: CallBook
    applications: Applications
    screening: Screening
    lock: RankingLock
    handler: CommandHandler[PublishRanking, Ranking, RankingPublished] = field(init=False)

    def __post_init__(self) -> None:
        self.handler = CommandHandler(self.store, ranking_decider, RankingCodec())

    async def rules(self, conn: Connection, call_id: str) -> ScoringRules:
        """The call's methodology as scoring applies it."""
        known = await self.calls.find(conn, call_id)
        if known is None:
            raise NotFound("unknown_call", f"Scoring knows no call {call_id}.")
        return rules_of(known.terms.methodology, known.terms.version)

    async def compute(self, conn: Connection, call_id: str) -> RankingContent | None:
        """The ranking the call's events give now; None until screening is settled and
        every eligible application's evaluation is final."""
        rules = await self.rules(conn, call_id)
        if not await self.screening.is_settled(conn, call_id):
            return None
        inputs: list[RankingInput] = []
        for application_id in sorted(await self.screening.eligible(conn, call_id)):
            application = await self.applications.get(conn, application_id)
            if application is None:
                return None
            history = await self.store.load(evaluation_stream(application_id), conn=conn)
            item = ranking_input(
                history, (application.registration_number, application.submitted_at)
            )
            if item is None:
                return None
            inputs.append(item)
        return rank(call_id, rules, inputs)

    async def publish_if_complete(
        self, conn: Connection, call_id: str, meta: Metadata, now: datetime
    ) -> Outcome[Ranking] | None:
        """Publish the call's ranking if it is complete and differs from the last version;
        None when it is not complete. Runs in the caller's transaction."""
        await self.lock.hold(conn, call_id)
        content = await self.compute(conn, call_id)
        if content is None:
            return None
        return await self.handler.execute(
            ranking_stream(call_id), PublishRanking(call_id, content, now), meta, conn=conn
        )

    async def handle_publish_ranking(
        self, conn: Connection, call_id: str, meta: Metadata, now: datetime
    ) -> Outcome[Ranking]:
        """An operator asks for the ranking (after an override changed the eligible set, for
        instance): published if complete and changed; refused while incomplete."""
        outcome = await self.publish_if_complete(conn, call_id, meta, now)
        if outcome is None:
            raise Conflict(
                "ranking_incomplete",
                "Screening is not settled or an eligible application's evaluation is not final.",
            )
        return outcome

    async def results(self, conn: Connection, application: ApplicationFacts) -> Results | None:
        """What the applicant may see once a ranking that lists the application is
        published: its place, its scores, and the comments of the events the ranking used,
        without who wrote them; None before."""
        versions = await self.published(application.call_id, conn)
        for ranking in reversed(versions):
            entry = next(
                (
                    e
                    for e in ranking.content.entries
                    if e.application_id == application.application_id
                ),
                None,
            )
            if entry is not None:
                break
        else:
            return None
        used = set(entry.event_ids)
        history = await self.store.load(evaluation_stream(application.application_id), conn=conn)
        codec = EvaluationCodec()
        comments: dict[str, list[str]] = {}
        for envelope in history:
            if str(envelope.event_id) not in used:
                continue
            event = codec.decode(envelope)
            if isinstance(event, EvaluationSubmitted | ConsensusRecorded):
                for score in event.scores:
                    comments.setdefault(score.criterion_id, []).append(score.comment)
            if isinstance(event, ConsensusRecorded):
                comments.setdefault("consensus", []).append(event.justification)
        # Sorted by text: the order of the experts would say which comments are one expert's.
        return Results(ranking, entry, {k: tuple(sorted(v)) for k, v in sorted(comments.items())})

    async def published(self, call_id: str, conn: Connection) -> list[RankingPublished]:
        """Every version of the call's ranking, the first first."""
        history = await self.store.load(ranking_stream(call_id), conn=conn)
        return [self.handler.codec.decode(e) for e in history]
