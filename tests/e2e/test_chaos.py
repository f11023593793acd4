"""The chaos suite, short: a steady load while intake's API, PostgreSQL, the broker and then
seeded random processes are SIGKILLed, and afterwards nothing is lost, duplicated or
diverged (`make chaos` runs the same for minutes). And the checks themselves: shown stored
commands that were lost, doubled or misplaced, and copies that differ, they say so.

The run starts a private broker and PostgreSQL of its own (killing the session's would
disturb every other test), so it uses none of the session's fixtures but the checks do.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from chaos.invariants import Verdict, check_commands, check_scoring
from chaos.load import AMENDED, Command, Outcome
from chaos.run import Options, run
from konkurs_platform.envelope import Actor
from konkurs_platform.eventstore import EventStore, Metadata, NewEvent
from konkurs_platform.settings import Settings

pytestmark = pytest.mark.integration

SEED = 20170614


async def test_a_short_chaos_run_loses_duplicates_and_diverges_nothing() -> None:
    options = Options(
        seconds=30,
        seed=SEED,
        workers=3,
        pause=(2.0, 5.0),
        first=("intake-api", "postgres", "kafka"),
    )
    summary = await run(options)
    print(summary.render())
    assert summary.ok, summary.render()
    assert {"intake-api", "postgres", "kafka"} <= set(summary.kills)
    # Every kind of command was acknowledged under the faults, so each was checked.
    kinds = {k.split()[0] for k, n in summary.commands.items() if k.endswith("acknowledged")}
    assert kinds == {"submit", "amend", "withdraw", "announce-call", "amend-call"}


async def test_the_command_check_finds_lost_doubled_and_misplaced_commands(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    run_id = uuid.uuid4().hex[:8]
    store = EventStore(pool, "intake", settings.events_topic("intake"))
    actor = Actor(subject="chaos-test", role="operator")

    def command(n: int, outcome: Outcome, stream: str, version: int) -> Command:
        return Command("amend", f"chaos-{run_id}-{n}", AMENDED, stream, outcome, 200, version)

    async def store_event(n: int, stream: str, version: int) -> None:
        meta = Metadata(actor=actor, correlation_id=f"chaos-{run_id}-{n}")
        await store.append(stream, version - 1, [NewEvent(AMENDED, b"x")], meta)

    once, twice, misplaced, refused = (f"application-{run_id}-{i}" for i in range(4))
    await store_event(1, once, 1)
    await store_event(2, twice, 1)
    await store_event(2, twice, 2)
    await store_event(4, misplaced, 1)
    await store_event(5, refused, 1)
    await store_event(6, once, 2)
    commands = [
        command(1, Outcome.ACKED, once, 1),
        command(2, Outcome.ACKED, twice, 1),
        command(3, Outcome.ACKED, once, 3),  # acknowledged, never stored
        command(4, Outcome.ACKED, misplaced, 5),
        command(5, Outcome.REFUSED, refused, 1),
        command(6, Outcome.UNCERTAIN, once, 2),
    ]
    v = Verdict()
    async with pool.acquire() as conn:
        await check_commands(conn, commands, v)
    assert (v.lost["commands"], v.duplicated["commands"], v.diverged["commands"]) == (1, 1, 2)
    assert v.counts["commands uncertain, took effect"] == 1
    assert not v.ok


def test_the_scoring_check_finds_a_missing_a_stale_and_an_unknown_copy() -> None:
    closes = datetime(2017, 6, 8, tzinfo=UTC)
    intake: dict[str, tuple[Any, ...]] = {
        "kept": (2, closes, 6, b"d2", {}, None),
        "stale": (3, closes, 7, b"d3", {}, closes),
        "missing": (1, closes, 6, b"d1", {}, None),
    }
    scoring: dict[str, tuple[Any, ...]] = {
        "kept": (2, closes, 6, b"d2", {}, None),
        "stale": (3, closes, 7, b"d3", {}, None),  # the closing never arrived
        "unknown": (1, closes, 6, b"d1", {}, None),
    }
    v = Verdict()
    check_scoring(intake, scoring, v)
    assert (v.lost["scoring calls"], v.diverged["scoring calls"]) == (1, 2)
    assert len(v.examples) == 3
