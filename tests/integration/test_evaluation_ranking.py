"""Evaluations and the ranking on the real PostgreSQL: submissions, consensus, the ranking
published by the last final evaluation, recomputed to the same bytes, versions after a
re-evaluation, and a repeated or concurrent trigger that publishes once.

The applications, their screening and their panels are set up through scoring's own books
(what its intake reaction, screening and assignment write), each test on a call of its own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from google.protobuf.json_format import ParseDict

from konkurs.intake.v1 import application_pb2, call_pb2
from konkurs_platform.auth import Role, mint_token
from konkurs_platform.domain import Conflict
from konkurs_platform.envelope import Actor
from konkurs_platform.eventstore import EventStore, Metadata
from konkurs_platform.settings import Settings
from konkurs_scoring.adapters.applications import PostgresApplicationBook
from konkurs_scoring.adapters.calls import PostgresCallBook
from konkurs_scoring.adapters.codec_s2 import FINALISED, SUBMITTED
from konkurs_scoring.adapters.intake_events import terms_of
from konkurs_scoring.adapters.screening import PostgresScreeningBook
from konkurs_scoring.app import assignment
from konkurs_scoring.app.assignment import EvaluationClock
from konkurs_scoring.app.evaluation import Evaluations, build
from konkurs_scoring.app.ranking import evaluation_stream, ranking_stream
from konkurs_scoring.bootstrap import create_app
from konkurs_scoring.domain.aggregation import CriterionScore
from konkurs_scoring.domain.applications import KnownApplication
from konkurs_scoring.domain.assignment import AssignExpert, AssignmentMode, DeclareInterest
from konkurs_scoring.domain.calls import CallClosing
from konkurs_scoring.domain.experts import ExpertCard
from konkurs_scoring.domain.ranking import content_hash
from konkurs_scoring.domain.screening import Screening

SCHEMA = "scoring"
T0 = datetime(2017, 6, 1, 9, tzinfo=UTC)
COMMENT = "A credible plan with named markets and partners for each step."
METHODOLOGY = {
    "criteria": [
        {"id": "strategy", "kind": "CRITERION_KIND_EXPERT", "weight_percent": 40, "scale_max": 5,
         "threshold": 2},
        {"id": "cooperation", "kind": "CRITERION_KIND_EXPERT", "weight_percent": 40,
         "scale_max": 5},
        {"id": "size", "kind": "CRITERION_KIND_AUTOMATIC", "weight_percent": 20, "scale_max": 5,
         "automatic": {"measure": "AUTOMATIC_MEASURE_PARTICIPANT_COUNT",
                       "bands": [{"at_least": "2", "score": 3}, {"at_least": "3", "score": 5}]}},
    ],
    "overall_threshold_percent": 50,
    "experts_per_application": 2,
    "divergence_threshold": 2,
    "tie_break": ["criterion:strategy"],
}  # fmt: skip
EXPERTS = ("exp-1", "exp-2")
REASON = "The operator's choice for this test's panel."
META = Metadata(Actor("operator-1", "operator"), correlation_id="test-evaluation")


def scores(strategy: float, cooperation: float) -> tuple[CriterionScore, ...]:
    return (
        CriterionScore("strategy", int(strategy * 2), COMMENT),
        CriterionScore("cooperation", int(cooperation * 2), COMMENT),
    )


def content(participants: int) -> bytes:
    return application_pb2.ApplicationContent(
        participants=[
            application_pb2.Participant(
                bin=f"0000000000{i:02d}", kind=application_pb2.PARTICIPANT_KIND_SME
            )
            for i in range(participants)
        ]
    ).SerializeToString()


class Call:
    """A closed call with eligible applications, each with a declared panel of two."""

    def __init__(self, svc: Evaluations, call_id: str, applications: list[str]) -> None:
        self.svc = svc
        self.call_id = call_id
        self.applications = applications

    async def submit(self, application_id: str, expert: str, s: tuple[CriterionScore, ...]) -> None:
        async with self.svc.pool.acquire() as conn, conn.transaction():
            await self.svc.handle_submit_evaluation(conn, application_id, expert, s, META)

    async def published(self) -> list[int]:
        async with self.svc.pool.acquire() as conn:
            return [
                r.ranking_version for r in await self.svc.rankings.published(self.call_id, conn)
            ]


async def open_call(pool: asyncpg.Pool, apps: int, *, ineligible: int = 0) -> Call:
    store = EventStore(pool, SCHEMA, "test-evaluation")
    svc = build(store, pool, lambda: T0 + timedelta(days=10))
    panels = assignment.build(store)
    call_id = f"call-{uuid.uuid4().hex[:12]}"
    ids = [str(uuid.uuid4()) for _ in range(apps + ineligible)]
    definition = call_pb2.CallDefinition(
        quota=6, methodology=ParseDict(METHODOLOGY, call_pb2.Methodology())
    )
    definition.closes_at.FromDatetime(T0)
    terms = terms_of(call_id, 2, definition)
    async with pool.acquire() as conn, conn.transaction():
        calls = PostgresCallBook(SCHEMA)
        await calls.keep(conn, terms)
        await calls.close(conn, CallClosing(call_id, T0))
        for n, application_id in enumerate(ids):
            application = KnownApplication(
                application_id=application_id,
                call_id=call_id,
                registration_number=f"KZ-75-2017-{n + 1:04d}",
                region_code="KZ-75",
                coordinator_bin="000000000000",
                participant_bins=(),
                content=content(2 + n % 2),
                withdrawn=False,
                submitted_at=T0 - timedelta(days=30 - n),
            )
            await PostgresApplicationBook(SCHEMA).keep(conn, application)
            await PostgresScreeningBook(SCHEMA).record(
                conn, Screening(application_id, call_id, 1, 1, 2, eligible=n < apps)
            )
            # The panel through the assignment handler, as an operator would: the
            # submissions complete these assignments in their own transactions.
            for i, expert in enumerate(EXPERTS):
                card = ExpertCard(expert, frozenset(), frozenset(), frozenset(), True)
                at = T0 + timedelta(hours=i)
                for command in (
                    AssignExpert(
                        application, card, terms.assignment, AssignmentMode.MANUAL, REASON, at
                    ),
                    DeclareInterest(application_id, expert, False, "", at),
                ):
                    await panels.execute(conn, application_id, command, META)
    return Call(svc, call_id, ids[:apps])


@pytest.fixture
async def call(pool: asyncpg.Pool) -> AsyncIterator[Call]:
    yield await open_call(pool, 3, ineligible=1)


async def test_the_last_final_evaluation_publishes_a_ranking_that_recomputes_to_its_bytes(
    call: Call,
) -> None:
    a, b, c = call.applications
    await call.submit(a, "exp-1", scores(4, 4))
    await call.submit(a, "exp-2", scores(4, 3))
    await call.submit(b, "exp-1", scores(1, 4))
    # b diverges on strategy (1 against 4): consensus by the first assigned, exp-1.
    await call.submit(b, "exp-2", scores(4, 4))
    await call.submit(c, "exp-1", scores(3, 3))
    await call.submit(c, "exp-2", scores(3, 3))
    assert await call.published() == []
    async with call.svc.pool.acquire() as conn, conn.transaction():
        await call.svc.handle_record_consensus(
            conn, b, "exp-1", scores(3, 4), "We agreed after reading the budget annex twice.", META
        )
    assert await call.published() == [1]

    async with call.svc.pool.acquire() as conn:
        (published,) = await call.svc.rankings.published(call.call_id, conn)
        recomputed = await call.svc.rankings.compute(conn, call.call_id)
        history = {
            app: await call.svc.store.load(evaluation_stream(app), conn=conn)
            for app in call.applications
        }
    assert recomputed is not None
    assert recomputed == published.content
    assert content_hash(recomputed) == published.content_hash
    # b (76 with its consensus and 3 participants) before a (72) and c (60); the ineligible
    # application is not ranked.
    assert [e.application_id for e in published.content.entries] == [b, a, c]
    for entry in published.content.entries:
        events = {str(e.event_id): e.event_type for e in history[entry.application_id]}
        assert set(entry.event_ids) <= set(events)
        assert sorted(events[i] for i in entry.event_ids).count(SUBMITTED) == 2
        assert FINALISED in {events[i] for i in entry.event_ids}


async def test_a_submission_is_locked_and_a_repeated_trigger_publishes_no_new_version(
    pool: asyncpg.Pool,
) -> None:
    call = await open_call(pool, 1)
    (a,) = call.applications
    await call.submit(a, "exp-1", scores(4, 4))
    with pytest.raises(Conflict):
        await call.submit(a, "exp-1", scores(5, 5))
    await call.submit(a, "exp-2", scores(4, 4))
    assert await call.published() == [1]
    async with call.svc.pool.acquire() as conn, conn.transaction():
        outcome = await call.svc.rankings.handle_publish_ranking(conn, call.call_id, META, T0)
    assert outcome.events == []
    assert await call.published() == [1]


async def test_a_reevaluation_publishes_a_new_version_and_keeps_the_first(
    pool: asyncpg.Pool,
) -> None:
    call = await open_call(pool, 2)
    a, b = call.applications
    # a: 60 overall; b: 52 in its first round, 96 in its second.
    for app, s in ((a, scores(3, 3)), (b, scores(2, 2))):
        await call.submit(app, "exp-1", s)
        await call.submit(app, "exp-2", s)
    assert await call.published() == [1]
    async with call.svc.pool.acquire() as conn, conn.transaction():
        await call.svc.handle_reopen_evaluation(
            conn, b, "Appeal upheld: annex 3 was missed.", "ap-1", META
        )
    # The same appeal again changes nothing.
    async with call.svc.pool.acquire() as conn, conn.transaction():
        again = await call.svc.handle_reopen_evaluation(conn, b, "again", "ap-1", META)
    assert again.events == []
    assert await call.published() == [1]
    await call.submit(b, "exp-1", scores(5, 5))
    await call.submit(b, "exp-2", scores(5, 4.5))
    assert await call.published() == [1, 2]
    async with call.svc.pool.acquire() as conn:
        first, second = await call.svc.rankings.published(call.call_id, conn)
    assert [e.application_id for e in first.content.entries] == [a, b]
    assert [e.application_id for e in second.content.entries] == [b, a]
    assert second.content.entries[0].round == 2


async def test_a_submitted_evaluation_is_never_flagged_overdue_when_the_due_timer_fires(
    call: Call, settings: Settings
) -> None:
    a, b, _ = call.applications
    # Both of b's experts submit before the due time: its timer is gone with the last one.
    await call.submit(b, "exp-1", scores(3, 3))
    await call.submit(b, "exp-2", scores(3, 3))
    await call.submit(a, "exp-1", scores(4, 4))
    store = call.svc.store
    panels = assignment.build(store)
    timers = EvaluationClock(settings.dsn, call.svc.pool, panels, lambda: T0 + timedelta(days=20))
    fired = await timers.fire_due()
    assert f"assignment-{b}" not in {t.stream_id for t in fired}
    assert f"assignment-{a}" in {t.stream_id for t in fired}
    async with call.svc.pool.acquire() as conn:
        members = (await panels.load(a, conn)).state.members
        pending = await conn.fetchval(
            f"SELECT count(*) FROM {SCHEMA}.timers WHERE stream_id = $1 AND done_at IS NULL",
            f"assignment-{b}",
        )
    assert pending == 0
    assert (members["exp-1"].completed, members["exp-1"].overdue) == (True, False)
    assert (members["exp-2"].completed, members["exp-2"].overdue) == (False, True)
    # The late expert may still submit; the one who submitted cannot be reassigned.
    await call.submit(a, "exp-2", scores(4, 4))
    with pytest.raises(Conflict) as refused:
        async with call.svc.pool.acquire() as conn, conn.transaction():
            await panels.reassign(conn, a, "exp-1", "No evaluation by the due time.", META, T0)
    assert refused.value.code == "evaluation_submitted"


async def test_two_evaluations_finalised_at_once_publish_one_ranking(pool: asyncpg.Pool) -> None:
    call = await open_call(pool, 2)
    a, b = call.applications
    await call.submit(a, "exp-1", scores(3, 3))
    await call.submit(b, "exp-1", scores(4, 4))
    await asyncio.gather(
        call.submit(a, "exp-2", scores(3, 3)), call.submit(b, "exp-2", scores(4, 4))
    )
    assert await call.published() == [1]
    async with call.svc.pool.acquire() as conn:
        (published,) = await call.svc.rankings.published(call.call_id, conn)
        assert len(await call.svc.store.load(ranking_stream(call.call_id), conn=conn)) == 1
    assert [e.application_id for e in published.content.entries] == [b, a]


async def test_the_applicant_sees_scores_and_comments_without_expert_ids_once_ranked(
    pool: asyncpg.Pool,
) -> None:
    call = await open_call(pool, 1)
    (a,) = call.applications
    async with call.svc.pool.acquire() as conn:
        application = await call.svc.application(conn, a)
        assert await call.svc.rankings.results(conn, application) is None
    await call.submit(a, "exp-1", scores(4, 4))
    await call.submit(a, "exp-2", scores(2, 4))
    async with call.svc.pool.acquire() as conn:
        results = await call.svc.rankings.results(conn, application)
    assert results is not None
    assert results.entry.rank == 1
    assert results.comments == {"cooperation": (COMMENT, COMMENT), "strategy": (COMMENT, COMMENT)}
    assert not any("exp-" in text for texts in results.comments.values() for text in texts)


# Through the HTTP API -------------------------------------------------------------------------


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://scoring") as client:
            yield client


def auth(settings: Settings, role: Role, subject: str, **claims: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, role, subject, **claims)}"}


def body(strategy: float, cooperation: float, comment: str = COMMENT) -> dict[str, Any]:
    return {
        "scores": [
            {"criterion_id": "strategy", "score": strategy, "comment": comment},
            {"criterion_id": "cooperation", "score": cooperation, "comment": comment},
        ]
    }


async def test_blind_review_over_http_no_expert_sees_another_before_submitting(
    pool: asyncpg.Pool, settings: Settings, http: httpx.AsyncClient
) -> None:
    call = await open_call(pool, 1)
    (a,) = call.applications
    path = f"/v1/applications/{a}/evaluation"
    first, second = auth(settings, Role.EXPERT, "exp-1"), auth(settings, Role.EXPERT, "exp-2")

    drafted = await http.put(f"{path}/draft", json=body(2, 2, "first thoughts"), headers=second)
    assert drafted.status_code == 200, drafted.text
    submitted = await http.post(f"{path}:submit", json=body(4, 3.5), headers=first)
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["others"] == {}

    seen_by_second = (await http.get(path, headers=second)).json()
    assert seen_by_second["others"] == {} and seen_by_second["submitted"] is None
    assert seen_by_second["draft"][0]["comment"] == "first thoughts"
    # exp-2's draft is not among what exp-1 sees after submitting either.
    assert (await http.get(path, headers=first)).json()["others"] == {}

    locked = await http.post(f"{path}:submit", json=body(5, 5), headers=first)
    assert locked.status_code == 409
    assert locked.headers["content-type"] == "application/problem+json"
    stranger = await http.get(path, headers=auth(settings, Role.EXPERT, "exp-9"))
    assert stranger.status_code == 403
    third_of_a_point = await http.post(f"{path}:submit", json=body(3.3, 3), headers=second)
    assert third_of_a_point.status_code == 422

    done = await http.post(f"{path}:submit", json=body(3, 3), headers=second)
    assert done.status_code == 200, done.text
    assert done.json()["others"]["exp-1"][0]["score"] == 4

    ranking = await http.get(
        f"/v1/calls/{call.call_id}/ranking", headers=auth(settings, Role.OPERATOR, "op")
    )
    assert ranking.status_code == 200, ranking.text
    assert ranking.json()["entries"][0]["application_id"] == a
    results = await http.get(
        f"/v1/applications/{a}/results",
        headers=auth(settings, Role.APPLICANT, "applicant", org="000000000000"),
    )
    assert results.status_code == 200, results.text
    assert "exp-" not in results.text
    other_org = await http.get(
        f"/v1/applications/{a}/results",
        headers=auth(settings, Role.APPLICANT, "applicant", org="990340000123"),
    )
    assert other_org.status_code == 403
