"""Scoring's read models on the readside, from real encoded scoring events on the broker:
screening with rule results and overrides, assignments with declarations and overdue flags,
evaluation progress and every ranking version; the expert names opened from their sealed
form and erased with the subject; a redelivery changes nothing; a rebuild gives the live
rows. `ScoringStory` builds the events (as scoring's codecs would) for the API tests too."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from helpers import running
from readside_support import OPERATOR, Events, new_world, projector, publish, table_rows
from readside_support import wait_caught_up as wait_projected

from konkurs.privacy.v1 import events_pb2 as privacy_pb2
from konkurs.scoring.v1 import (
    assignment_pb2,
    evaluation_pb2,
    experts_pb2,
    ranking_pb2,
    screening_pb2,
)
from konkurs_platform.envelope import Actor
from konkurs_platform.eventstore import NewEvent
from konkurs_platform.personal.keystore import KeyStore
from konkurs_platform.personal.sealing import ERASED, SEALED_PREFIX
from konkurs_platform.personal.store import seal_payloads
from konkurs_platform.protobuf import to_timestamp
from konkurs_platform.settings import Settings
from konkurs_readside.rebuild import rebuild

pytestmark = pytest.mark.integration

SCORING_TABLES = (
    "screening",
    "screening_overrides",
    "experts",
    "assignments",
    "evaluations",
    "rankings",
    "ranking_entries",
)
CRITERIA = ("strategy", "participants")
PARTNER = "990000000077"  # a participant of the second application, not its coordinator
# The story's experts by their short names.
EXPERT_NAMES = {
    "a": "Айгуль Сапарова",
    "b": "Ерлан Жумабаев",
    "c": "Dana Ospanova",
    "d": "Marat Akhmetov",
}
# Which service publishes a stream, by the stream id's prefix.
_SERVICES = {"call": "intake", "application": "intake", "erasure": "privacy"}


def exact(numerator: int, denominator: int = 1) -> evaluation_pb2.ExactScore:
    return evaluation_pb2.ExactScore(numerator=numerator, denominator=denominator)


def scores(*half_points: int) -> list[evaluation_pb2.CriterionScore]:
    return [
        evaluation_pb2.CriterionScore(
            criterion_id=c, half_points=h, comment=f"reasons for {h / 2} on {c}, at length"
        )
        for c, h in zip(CRITERIA, half_points, strict=True)
    ]


@dataclass
class ScoringStory:
    """A call of four applications through scoring, as its events:

    - A1: eligible; panel a, b, c declared; submitted, final (80), reopened (round 2) and
      final again (65, failing the overall threshold);
    - A2 (PARTNER takes part): eligible; c declared a conflict and d replaced them; the
      panel diverged, consensus recorded by a, final (70);
    - A3: assessed ineligible, overridden to eligible by an operator; a and b declared, d
      overdue without a declaration; a drafting, b submitted;
    - A4: ineligible (too few participants).

    Ranking version 1 ranks A1 then A2; version 2, after A1's re-evaluation, A2 then A1.
    """

    call_id: str
    events: Events = field(default_factory=Events)
    apps: list[str] = field(default_factory=list)
    coordinators: list[str] = field(default_factory=list)
    clock: datetime = datetime(2017, 6, 9, 9, 0, tzinfo=UTC)

    def at(self) -> datetime:
        self.clock += timedelta(minutes=5)
        return self.clock

    def emit(self, stream_id: str, message: object, actor: Actor = OPERATOR) -> None:
        self.events.emit(stream_id, message, actor)

    def expert(self, expert_id: str) -> Actor:
        return Actor(subject=expert_id, role="expert")

    async def register_experts(self, pool: asyncpg.Pool) -> None:
        """ExpertRegistered with the name sealed, as scoring's SealingEventStore stores it."""
        for short, name in EXPERT_NAMES.items():
            stream_id = self.expert_stream(short)
            clear = experts_pb2.ExpertRegistered(
                expert_id=self.expert_id(short),
                profile=experts_pb2.ExpertProfile(
                    name=name, region_codes=["KZ-75"], oked_sections=["C"], languages=["ru"]
                ),
            )
            new = NewEvent(clear.DESCRIPTOR.full_name, clear.SerializeToString())
            async with pool.acquire() as conn, conn.transaction():
                ((_, _, (sealed,)),) = await seal_payloads(
                    conn, KeyStore(), [(stream_id, 0, [new])]
                )
            message = experts_pb2.ExpertRegistered.FromString(sealed.payload)
            assert message.profile.name.startswith(SEALED_PREFIX)
            self.emit(stream_id, message)

    def expert_id(self, short: str) -> str:
        """Expert ids of this story alone: the key store is shared by every test."""
        return f"{self.call_id}-{short}"

    def expert_stream(self, short: str) -> str:
        return f"expert-{self.call_id}-{short}"

    def submit_applications(self) -> None:
        self.events.announce(self.call_id)
        for n in range(1, 5):
            coordinator = f"{uuid.uuid4().int % 10**12:012d}"
            partners = (PARTNER,) if n == 2 else ()
            app = self.events.submit(
                self.call_id, n, "KZ-75", coordinator=coordinator, participants=partners
            )
            self.apps.append(app)
            self.coordinators.append(coordinator)

    def assess(self, app: str, eligible: bool, failed_rule: str = "") -> None:
        results = [
            screening_pb2.RuleResult(
                rule=rule,
                passed=rule != failed_rule,
                required="3" if rule == "min_participants" else "KZ-75",
                found="1" if rule == failed_rule else "ok",
            )
            for rule in ("region", "min_participants")
        ]
        self.emit(
            f"screening-{app}",
            screening_pb2.EligibilityAssessed(
                application_id=app,
                call_id=self.call_id,
                application_version=1,
                call_version=1,
                eligible=eligible,
                results=results,
            ),
            Actor(subject="scoring", role="system"),
        )

    def assign(
        self,
        app: str,
        short: str,
        mode: assignment_pb2.AssignmentMode.ValueType = assignment_pb2.ASSIGNMENT_MODE_AUTOMATIC,
    ) -> None:
        at = self.at()
        self.emit(
            f"assignment-{app}",
            assignment_pb2.ExpertAssigned(
                application_id=app,
                call_id=self.call_id,
                expert_id=self.expert_id(short),
                mode=mode,
                reason="automatic: least loaded (1 in the call), sector C",
                assigned_at=to_timestamp(at),
                due_at=to_timestamp(at + timedelta(days=14)),
            ),
        )

    def declare(self, app: str, short: str, conflict: str = "") -> None:
        expert_id = self.expert_id(short)
        if conflict:
            self.emit(
                f"assignment-{app}",
                assignment_pb2.ConflictDeclared(
                    application_id=app, expert_id=expert_id, nature=conflict
                ),
                self.expert(expert_id),
            )
            self.emit(
                f"assignment-{app}",
                assignment_pb2.ExpertUnassigned(
                    application_id=app,
                    expert_id=expert_id,
                    cause=assignment_pb2.UNASSIGNMENT_CAUSE_CONFLICT,
                    reason=conflict,
                ),
                self.expert(expert_id),
            )
            return
        self.emit(
            f"assignment-{app}",
            assignment_pb2.NoConflictDeclared(application_id=app, expert_id=expert_id),
            self.expert(expert_id),
        )

    def submit(self, app: str, short: str, half_points: tuple[int, int], round_: int = 1) -> None:
        expert_id = self.expert_id(short)
        self.emit(
            f"evaluation-{app}",
            evaluation_pb2.EvaluationSubmitted(
                application_id=app,
                call_id=self.call_id,
                round=round_,
                expert_id=expert_id,
                scores=scores(*half_points),
                submitted_at=to_timestamp(self.at()),
            ),
            self.expert(expert_id),
        )
        if round_ == 1:
            # In the submission's transaction; a later round's finds the assignment done.
            self.emit(
                f"assignment-{app}",
                assignment_pb2.AssignmentCompleted(
                    application_id=app,
                    expert_id=expert_id,
                    round=1,
                    completed_at=to_timestamp(self.clock),
                ),
                self.expert(expert_id),
            )

    def finalise(self, app: str, overall: int, round_: int = 1) -> None:
        self.emit(
            f"evaluation-{app}",
            evaluation_pb2.EvaluationFinalised(
                application_id=app,
                call_id=self.call_id,
                round=round_,
                scores=[
                    evaluation_pb2.FinalScore(
                        criterion_id=c,
                        score=exact(7, 2),
                        basis=evaluation_pb2.SCORE_BASIS_EXPERTS,
                    )
                    for c in CRITERIA
                ],
                overall=exact(overall),
                failed_thresholds=[] if overall >= 66 else ["overall"],
                fundable=overall >= 66,
                expert_ids=[self.expert_id(x) for x in ("a", "b", "c")],
                call_version=1,
                finalised_at=to_timestamp(self.at()),
            ),
            Actor(subject="scoring", role="system"),
        )

    def rank(self, version: int, order: list[tuple[str, int]]) -> None:
        entries = [
            ranking_pb2.RankingEntry(
                rank=place,
                application_id=app,
                registration_number=f"TC-2017-{self.apps.index(app) + 1:03d}",
                round=1,
                scores=[
                    ranking_pb2.RankedScore(criterion_id=c, score=exact(10, 3)) for c in CRITERIA
                ],
                overall=exact(overall * 3 + 1, 3),
                fundable=overall >= 66,
                failed_thresholds=[] if overall >= 66 else ["overall"],
                event_ids=[str(uuid.uuid4()), str(uuid.uuid4())],
                decided_by="" if place == 1 else "overall",
            )
            for place, (app, overall) in enumerate(order, start=1)
        ]
        self.emit(
            f"ranking-{self.call_id}",
            ranking_pb2.RankingPublished(
                call_id=self.call_id,
                ranking_version=version,
                call_version=1,
                tie_break=["criterion:strategy", "registration"],
                entries=entries,
                content_hash=f"{version:064x}",
                published_at=to_timestamp(self.at()),
            ),
            Actor(subject="scoring", role="system"),
        )

    async def tell(self, pool: asyncpg.Pool) -> None:
        """Every event of the story, in an order each stream keeps."""
        self.submit_applications()
        await self.register_experts(pool)
        a1, a2, a3, a4 = self.apps
        for app in (a1, a2):
            self.assess(app, True)
        self.assess(a3, False, "region")
        self.emit(
            f"screening-{a3}",
            screening_pb2.EligibilityOverridden(
                application_id=a3,
                call_id=self.call_id,
                eligible=True,
                justification="The region was re-coded in 2018; the cluster is in Almaty.",
                overrides_version=1,
            ),
        )
        self.assess(a4, False, "min_participants")
        for app in (a1, a2):
            for short in ("a", "b", "c"):
                self.assign(app, short)
        for short in ("a", "b", "c"):
            self.declare(a1, short)
        self.declare(a2, "a")
        self.declare(a2, "b")
        self.declare(a2, "c", conflict="I advised the coordinator in 2016.")
        self.assign(a2, "d", assignment_pb2.ASSIGNMENT_MODE_REPLACEMENT)
        self.declare(a2, "d")
        for short in ("a", "b", "d"):
            self.assign(a3, short)
        self.declare(a3, "a")
        self.declare(a3, "b")
        self.emit(
            f"assignment-{a3}",
            assignment_pb2.AssignmentOverdue(
                application_id=a3, expert_id=self.expert_id("d"), due_at=to_timestamp(self.at())
            ),
            Actor(subject="scoring", role="system"),
        )
        for short, points in (("a", (8, 8)), ("b", (7, 8)), ("c", (8, 9))):
            self.submit(a1, short, points)
        self.finalise(a1, 80)
        for short, points in (("a", (2, 8)), ("b", (9, 8)), ("d", (5, 8))):
            self.submit(a2, short, points)
        self.emit(
            f"evaluation-{a2}",
            evaluation_pb2.ConsensusRequired(
                application_id=a2,
                call_id=self.call_id,
                round=1,
                divergences=[
                    evaluation_pb2.Divergence(
                        criterion_id="strategy", lowest_half_points=2, highest_half_points=9
                    )
                ],
                required_at=to_timestamp(self.at()),
            ),
            Actor(subject="scoring", role="system"),
        )
        self.emit(
            f"evaluation-{a2}",
            evaluation_pb2.RapporteurNamed(
                application_id=a2,
                call_id=self.call_id,
                round=1,
                expert_id=self.expert_id("a"),
                by_rule=True,
                named_at=to_timestamp(self.at()),
            ),
            Actor(subject="scoring", role="system"),
        )
        self.emit(
            f"evaluation-{a2}",
            evaluation_pb2.ConsensusRecorded(
                application_id=a2,
                call_id=self.call_id,
                round=1,
                expert_id=self.expert_id("a"),
                scores=scores(6, 8),
                justification="The panel agreed the strategy is credible but thin.",
                recorded_at=to_timestamp(self.at()),
            ),
            self.expert(self.expert_id("a")),
        )
        self.finalise(a2, 70)
        self.rank(1, [(a1, 80), (a2, 70)])
        self.emit(
            f"evaluation-{a3}",
            evaluation_pb2.EvaluationDraftSaved(
                application_id=a3,
                call_id=self.call_id,
                round=1,
                expert_id=self.expert_id("a"),
                scores=scores(4, 4)[:1],
                saved_at=to_timestamp(self.at()),
            ),
            self.expert(self.expert_id("a")),
        )
        self.submit(a3, "b", (6, 6))
        self.emit(
            f"evaluation-{a1}",
            evaluation_pb2.EvaluationReopened(
                application_id=a1,
                call_id=self.call_id,
                round=2,
                reason="Appeal upheld: the panel overlooked the export figures.",
                appeal_id="appeal-1",
                reopened_at=to_timestamp(self.at()),
            ),
        )
        for short, points in (("a", (6, 6)), ("b", (6, 7)), ("c", (7, 6))):
            self.submit(a1, short, points, round_=2)
        self.finalise(a1, 65, round_=2)
        self.rank(2, [(a2, 70), (a1, 65)])

    @property
    def scoring_events(self) -> list[tuple[str, bytes]]:
        return [(s, raw) for s, raw in self.events.published if service_of(s) == "scoring"]


def service_of(stream_id: str) -> str:
    """The service whose topic a stream's events travel on."""
    return _SERVICES.get(stream_id.split("-", 1)[0], "scoring")


async def told(settings: Settings, pool: asyncpg.Pool) -> tuple[Settings, str, ScoringStory]:
    """A world of its own with the story published and projected."""
    world, schema = await new_world(settings, pool)
    story = ScoringStory(f"scoring-{uuid.uuid4().hex[:8]}")
    await story.tell(pool)
    await publish(world, story.events.published, service_of)
    async with running(projector(world, pool, schema, max_records=9)):
        await wait_projected(world, pool, schema)
    return world, schema, story


async def snapshot(pool: asyncpg.Pool, schema: str) -> dict[str, list[asyncpg.Record]]:
    return {t: await table_rows(pool, schema, t) for t in SCORING_TABLES}


async def test_scoring_events_project_into_screening_assignments_progress_and_rankings(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    _, schema, story = await told(settings, pool)
    a1, a2, a3, a4 = story.apps
    async with pool.acquire() as conn:
        screening = {
            r["application_id"]: r for r in await conn.fetch(f"SELECT * FROM {schema}.screening")
        }
        overrides = await conn.fetch(f"SELECT * FROM {schema}.screening_overrides")
        assignments = {
            (r["application_id"], r["expert_id"].rsplit("-", 1)[1]): r
            for r in await conn.fetch(f"SELECT * FROM {schema}.assignments")
        }
        names = {
            r["expert_id"]: r["name"]
            for r in await conn.fetch(f"SELECT expert_id, name FROM {schema}.experts")
        }
        evaluations = {
            r["application_id"]: r for r in await conn.fetch(f"SELECT * FROM {schema}.evaluations")
        }
        rankings = await conn.fetch(
            f"SELECT ranking_version, criteria, entry_count FROM {schema}.rankings "
            "ORDER BY ranking_version"
        )
        entries = await conn.fetch(
            f"SELECT ranking_version, rank, application_id, overall_numerator, "
            f"overall_denominator FROM {schema}.ranking_entries ORDER BY 1, 2"
        )

    assert {a: (r["eligible"], r["overridden"]) for a, r in screening.items()} == {
        a1: (True, False),
        a2: (True, False),
        a3: (True, True),
        a4: (False, False),
    }
    assert screening[a3]["assessed_eligible"] is False
    failed = [r for r in json.loads(screening[a4]["results"]) if not r["passed"]]
    assert failed == [{"rule": "min_participants", "passed": False, "required": "3", "found": "1"}]
    (override,) = overrides
    assert (override["application_id"], override["actor_subject"], override["eligible"]) == (
        a3,
        OPERATOR.subject,
        True,
    )
    assert override["justification"].startswith("The region was re-coded")

    # The names were sealed in the events and are clear in the read model.
    assert names == {story.expert_id(k): v for k, v in EXPERT_NAMES.items()}
    conflict = assignments[(a2, "c")]
    assert (conflict["current"], conflict["declaration"], conflict["unassignment_cause"]) == (
        False,
        "conflict",
        "conflict",
    )
    assert conflict["conflict_nature"] == "I advised the coordinator in 2016."
    assert assignments[(a2, "d")]["mode"] == "replacement"
    assert assignments[(a3, "d")]["overdue"] and assignments[(a3, "d")]["declaration"] == "none"
    completed = sorted(k for k, r in assignments.items() if r["completed_at"] is not None)
    assert completed == sorted(
        [(a1, "a"), (a1, "b"), (a1, "c"), (a2, "a"), (a2, "b"), (a2, "d"), (a3, "b")]
    )
    assert sum(r["current"] for r in assignments.values()) == 9

    assert (evaluations[a1]["round"], evaluations[a1]["final"]) == (2, True)
    assert evaluations[a1]["submitted"] == sorted(story.expert_id(x) for x in "abc")
    assert not evaluations[a1]["consensus_required"]
    assert evaluations[a1]["failed_thresholds"] == ["overall"]
    assert (evaluations[a2]["consensus_required"], evaluations[a2]["consensus_recorded"]) == (
        True,
        True,
    )
    assert evaluations[a2]["rapporteur"] == story.expert_id("a")
    assert evaluations[a3]["drafting"] == [story.expert_id("a")]
    assert evaluations[a3]["submitted"] == [story.expert_id("b")]
    assert a4 not in evaluations

    assert [tuple(r) for r in rankings] == [(1, list(CRITERIA), 2), (2, list(CRITERIA), 2)]
    assert [tuple(r) for r in entries] == [
        (1, 1, a1, 241, 3),
        (1, 2, a2, 211, 3),
        (2, 1, a2, 211, 3),
        (2, 2, a1, 196, 3),
    ]


async def test_a_redelivery_of_every_scoring_event_changes_nothing(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    world, schema, story = await told(settings, pool)
    before = await snapshot(pool, schema)
    # The relay publishes at least once: all of scoring's events once more, in order, seen
    # in later batches ...
    await publish(world, story.scoring_events, service_of)
    async with running(projector(world, pool, schema, max_records=9)):
        await wait_projected(world, pool, schema)
    assert await snapshot(pool, schema) == before
    async with pool.acquire() as conn:
        audited = await conn.fetchval(f"SELECT count(*) FROM {schema}.audit_log")
    # The audit log records each event once however often it was published.
    assert audited == len(story.events.published)

    # ... and in the very batch of the originals, where no stored row guards them yet.
    again, fresh = await new_world(settings, pool)
    await publish(again, story.events.published + story.scoring_events[::2], service_of)
    async with running(projector(again, pool, fresh, max_records=5000)):
        await wait_projected(again, pool, fresh)
    assert await snapshot(pool, fresh) == before


async def test_an_erased_expert_shows_erased_live_and_after_a_rebuild_equal_to_live(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    world, schema, story = await told(settings, pool)
    subject = f"{story.expert_stream('c')}/profile"
    async with pool.acquire() as conn, conn.transaction():
        erasure = await KeyStore().erase(
            conn, subject, erased_by="operator-1", reason="the expert asked", at=story.at()
        )
    assert erasure is not None
    story.emit(
        f"erasure-{uuid.uuid4()}",
        privacy_pb2.SubjectErased(
            subject_id=subject, reason="the expert asked", erased_at=to_timestamp(story.clock)
        ),
    )
    await publish(world, story.events.published[-1:], service_of)
    async with running(projector(world, pool, schema)):
        await wait_projected(world, pool, schema)
        live = await snapshot(pool, schema)
        names = {r["expert_id"]: r["name"] for r in live["experts"]}
        assert names[story.expert_id("c")] == ERASED
        assert names[story.expert_id("a")] == EXPERT_NAMES["a"]
        # Replayed from offset 0 while the live projector runs: the key is gone, so the
        # rebuilt registry opens no name, and every scoring row equals the live one.
        report = await rebuild(
            world,
            pool,
            schema=schema,
            names=["screening", "assignments", "evaluations", "rankings"],
        )
        assert report.events == len(story.events.published)
        assert await snapshot(pool, schema) == live


async def test_a_panel_renewed_for_a_re_evaluation_keeps_its_declarations(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    """Scoring renews a reopened evaluation's panel with `ExpertAssigned` again: a new due
    time, nothing owed yet, and the declaration of no conflict still stands."""
    world, schema, story = await told(settings, pool)
    a1 = story.apps[0]
    before = len(story.events.published)
    story.assign(a1, "a")
    await publish(world, story.events.published[before:], service_of)
    async with running(projector(world, pool, schema, max_records=9)):
        await wait_projected(world, pool, schema)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            f"SELECT * FROM {schema}.assignments WHERE application_id = $1 AND expert_id = $2",
            a1,
            story.expert_id("a"),
        )
    assert row["current"] and row["declaration"] == "no_conflict"
    assert row["completed_at"] is None and not row["overdue"]
    assert row["due_at"] > row["assigned_at"] + timedelta(days=14)
