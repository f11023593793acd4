"""The 2017 competition's evaluation as demo data (after intake's demo, `konkurs up`).

Scoring learns the 2017 call and its 21 applications from intake's events alone, so the demo
first waits, with a deadline, until scoring's worker has learned and screened all of them.
Then, at June 2017 times and through the same handlers the API calls:

- an illustrative pool of twelve experts from seven regions registers (names invented and
  marked so; one expert once worked for a participant of the first application, so the hard
  rule keeps them off it);
- the worker's screening found three applications failing a rule of the call on their data
  (an SME share below 50 %, no university or research partner, the strategy document
  missing); the two that fail on substance stay ineligible, and the operator overrides the
  third to eligible on desk review, with the justification (its strategy was filed on paper
  before the deadline; the assessment stays in the history);
- the automatic assignment gives each eligible application three experts;
- the experts declare: one declares a conflict and is replaced by the same rules, the
  others (the replacement too) declare none;
- then the evaluations (`demo_evaluations`, July 2017), and the ranking follows by itself.

Every step checks what is recorded before it acts, so loading again changes nothing and a
load interrupted half-way completes the rest. Every command is `imported`: it sets no due
timer, since the 2017 deadlines passed long ago.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime, timedelta, timezone

import asyncpg

from konkurs_platform.db import Connection, create_pool
from konkurs_platform.envelope import Actor
from konkurs_platform.eventstore import Metadata
from konkurs_platform.settings import Settings
from konkurs_scoring import demo_evaluations
from konkurs_scoring.adapters.screening import PostgresScreeningBook
from konkurs_scoring.app import assignment
from konkurs_scoring.app.experts import Experts
from konkurs_scoring.bootstrap import SCHEMA, event_store, screenings_of
from konkurs_scoring.demo_evaluations import CALL_ID, DemoClock
from konkurs_scoring.domain.experts import ExpertProfile, NoExpert, RegisterExpert

# The 2017 figure (reference/competition-2017.md): the demo waits for this many.
APPLICATIONS = 21
# How long to wait for scoring's worker to learn and screen them.
WAIT_SECONDS = 300.0

ASTANA = timezone(timedelta(hours=6))
REGISTERED_AT = datetime(2017, 6, 12, 10, tzinfo=ASTANA)
REVIEWED_AT = datetime(2017, 6, 14, 15, tzinfo=ASTANA)
ASSIGNED_AT = datetime(2017, 6, 16, 10, tzinfo=ASTANA)
DECLARED_AT = datetime(2017, 6, 19, 9, tzinfo=ASTANA)

OPERATOR = Actor(subject="demo-loader", role="operator")
# (id, home region, OKED sections known, languages): Almaty city, Astana, Karaganda, East
# Kazakhstan, Pavlodar, Aktobe, Atyrau; sections C manufacturing, A agriculture, I and N
# tourism, J information, B mining, M consulting.
POOL = (
    ("expert-2017-01", "KZ-75", ("J", "M"), ("ru", "kk", "en")),
    ("expert-2017-02", "KZ-75", ("I", "N"), ("ru", "en")),
    ("expert-2017-03", "KZ-71", ("C", "M"), ("ru", "kk")),
    ("expert-2017-04", "KZ-71", ("A", "C"), ("ru", "kk")),
    ("expert-2017-05", "KZ-35", ("B", "C"), ("ru",)),
    ("expert-2017-06", "KZ-35", ("C",), ("ru", "kk")),
    ("expert-2017-07", "KZ-63", ("B", "C"), ("ru",)),
    ("expert-2017-08", "KZ-63", ("I", "N", "A"), ("ru", "kk")),
    ("expert-2017-09", "KZ-55", ("C", "A"), ("ru",)),
    ("expert-2017-10", "KZ-15", ("A", "C"), ("ru", "kk")),
    ("expert-2017-11", "KZ-23", ("B", "M"), ("ru", "en")),
    ("expert-2017-12", "KZ-75", ("M", "J", "C"), ("ru", "kk", "en")),
)
# Worked for the coordinator of the first application (by registration number) until 2016.
AFFILIATED = "expert-2017-05"
DOCUMENTS_RULE = "required_documents"
JUSTIFICATION = (
    "Desk review: the documents the screening found missing were filed on paper at the "
    "regional office before the deadline, as the receipt in the case file shows, so the "
    "application is complete (illustrative)."
)
CONFLICT = (
    "Until 2016 I advised the cluster's coordinator on its export strategy under contract "
    "(illustrative)."
)


def _meta(actor: Actor) -> Metadata:
    return Metadata(actor=actor, correlation_id=f"demo-load:{CALL_ID}", imported=True)


async def wait_for_screening(
    pool: asyncpg.Pool, deadline_seconds: float = WAIT_SECONDS
) -> list[str]:
    """Wait until scoring's worker has learned the closed 2017 call and screened its
    applications; their ids by registration number. Says how far it got every few seconds,
    and gives up at the deadline (is `konkurs worker scoring` running?)."""
    book = PostgresScreeningBook(SCHEMA)
    deadline = time.monotonic() + deadline_seconds
    said = 0.0
    while True:
        async with pool.acquire() as conn:
            rows = await book.of_call(conn, CALL_ID)
            settled = await book.is_settled(conn, CALL_ID)
        screened = sum(r["eligible"] is not None for r in rows)
        if settled and screened >= APPLICATIONS:
            return [str(r["application_id"]) for r in rows]
        now = time.monotonic()
        if now >= deadline:
            raise TimeoutError(
                f"scoring's worker screened {screened} of {APPLICATIONS} applications of "
                f"{CALL_ID} in {deadline_seconds:.0f} s: is `konkurs worker scoring` running?"
            )
        if now - said >= 5:
            print(
                f"waiting for scoring's worker: {screened} of {APPLICATIONS} applications of "
                f"{CALL_ID} screened",
                file=sys.stderr,
            )
            said = now
        await asyncio.sleep(0.5)


async def load(settings: Settings) -> None:
    """Screen, assign, declare and evaluate the 2017 call, once; the ranking follows."""
    pool = await create_pool(settings, max_size=2)
    try:
        applications = await wait_for_screening(pool)
        clock = DemoClock(REGISTERED_AT)
        store = event_store(pool, settings, clock)
        assignments = assignment.build(store)
        await _register_experts(pool, Experts(store, assignments.experts), clock)
        await _accept_paper_filings(pool, assignments, applications, clock)
        clock.now = ASSIGNED_AT
        async with pool.acquire() as conn, conn.transaction():
            await assignments.assign_call(conn, CALL_ID, _meta(OPERATOR), clock())
        await _declare(pool, assignments, clock)
    finally:
        await pool.close()
    await demo_evaluations.load(settings)


async def _register_experts(pool: asyncpg.Pool, experts: Experts, clock: DemoClock) -> None:
    async with pool.acquire() as conn:
        first = await _first_application_bins(conn)
    for n, (expert_id, region, sections, languages) in enumerate(POOL, start=1):
        async with pool.acquire() as conn, conn.transaction():
            if not isinstance((await experts.load(expert_id, conn)).state, NoExpert):
                continue
            profile = ExpertProfile(
                name=f"Эксперт {n:02d} (вымышленный)",
                affiliation_bins=first if expert_id == AFFILIATED else (),
                region_codes=(region,),
                oked_sections=sections,
                languages=languages,
            )
            await experts.handle(conn, RegisterExpert(expert_id, profile, clock()), _meta(OPERATOR))


async def _first_application_bins(conn: Connection) -> tuple[str, ...]:
    row = await conn.fetchrow(
        f"SELECT coordinator_bin FROM {SCHEMA}.applications WHERE call_id = $1 "
        "ORDER BY registration_number LIMIT 1",
        CALL_ID,
    )
    return (row["coordinator_bin"],) if row else ()


async def _accept_paper_filings(
    pool: asyncpg.Pool,
    assignments: assignment.Assignments,
    applications: list[str],
    clock: DemoClock,
) -> None:
    """An application that failed only for documents not uploaded, which were filed on paper
    in time, is found eligible on desk review."""
    screenings = screenings_of(assignments)
    filed_on_paper: list[str] = []
    async with pool.acquire() as conn:
        for application_id in applications:
            state = (await screenings.load(application_id, conn)).state
            failed = [r.rule for r in state.results if not r.passed]
            if failed == [DOCUMENTS_RULE] and not state.overridden:
                filed_on_paper.append(application_id)
    clock.now = REVIEWED_AT
    for application_id in filed_on_paper:
        async with pool.acquire() as conn, conn.transaction():
            await screenings.override(
                conn,
                application_id,
                True,
                JUSTIFICATION,
                _meta(OPERATOR),
                clock(),
            )


async def _declare(
    pool: asyncpg.Pool, assignments: assignment.Assignments, clock: DemoClock
) -> None:
    """One expert declares a conflict (once in the call) and is replaced; every other
    expert assigned, the replacement too, declares none."""
    clock.now = DECLARED_AT
    async with pool.acquire() as conn:
        eligible = await assignments.screening.eligible(conn, CALL_ID)
        panels = [(await assignments.load(a, conn)).state for a in eligible]
    if panels and not any(p.conflicted for p in panels):
        first = panels[0]
        expert = next(m.expert_id for m in first.active if m.declared == "none")
        async with pool.acquire() as conn, conn.transaction():
            await assignments.declare(
                conn,
                first.application_id,
                expert,
                True,
                CONFLICT,
                _meta(Actor(subject=expert, role="expert")),
                clock(),
            )
    for application_id in eligible:
        async with pool.acquire() as conn, conn.transaction():
            panel = (await assignments.load(application_id, conn)).state
            for member in panel.active:
                if member.declared != "none":
                    continue
                await assignments.declare(
                    conn,
                    application_id,
                    member.expert_id,
                    False,
                    "",
                    _meta(Actor(subject=member.expert_id, role="expert")),
                    clock(),
                )
