"""`konkurs projections rebuild`: the read models replayed from offset 0 into a fresh schema
and swapped in come out equal to the live ones, row for row, and the live projector goes on
from exactly where it was."""

from __future__ import annotations

import asyncpg
import pytest
from helpers import running
from readside_support import Events, new_world, projector, publish, table_rows, wait_caught_up

from konkurs_platform.settings import Settings
from konkurs_readside.projections import PROJECTIONS
from konkurs_readside.rebuild import rebuild

pytestmark = pytest.mark.integration

TABLES = [t for p in PROJECTIONS.values() for t in p.tables]


def applications(events: Events, first: int, n: int) -> None:
    for number in range(first, first + n):
        app = events.submit("rebuild", number, "KZ-63", coordinator=f"{number:012d}")
        if number % 2:
            events.amend(app, 2, f"Amended {number}")
        if number % 7 == 0:
            events.withdraw(app, "no longer interested")


async def snapshot(pool: asyncpg.Pool, schema: str) -> dict[str, list[asyncpg.Record]]:
    return {t: await table_rows(pool, schema, t) for t in TABLES}


async def test_rebuilt_read_models_equal_the_live_ones_row_for_row(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    world, schema = await new_world(settings, pool)
    events = Events()
    events.announce("rebuild")
    applications(events, 1, 150)
    # A duplicate publication, as the relay may make: the rebuild must skip it the same way.
    await publish(world, [*events.published, *events.published[:10]])
    progress: list[tuple[int, int]] = []
    async with running(projector(world, pool, schema, max_records=50)):
        await wait_caught_up(world, pool, schema)
        live = await snapshot(pool, schema)
        async with pool.acquire() as conn:
            audited = await conn.fetchval(f"SELECT count(*) FROM {schema}.audit_log")

        report = await rebuild(
            world, pool, schema=schema, progress=lambda done, total: progress.append((done, total))
        )

        assert await snapshot(pool, schema) == live
        assert report.events == len(events.published) + 10
        assert progress[-1] == (report.events, report.events)
        # The live projector continues on the swapped-in tables, after the rebuilt position.
        more = Events(clock=events.clock)
        more.streams = events.streams
        applications(more, 151, 20)
        await publish(world, more.published)
        await wait_caught_up(world, pool, schema)

    async with pool.acquire() as conn:
        counts = [
            await conn.fetchval(f"SELECT count(*) FROM {schema}.{t}")
            for t in ("applications", "registration_journal", "audit_log")
        ]
        leftovers = await conn.fetchval(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE $1", f"{schema}_%"
        )
    journal = len(events.published) - 1 + len(more.published)
    assert counts == [170, journal, audited + len(more.published)]
    assert leftovers == 0


async def test_rebuilding_one_projection_swaps_only_its_tables(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    world, schema = await new_world(settings, pool)
    events = Events()
    events.announce("rebuild")
    applications(events, 1, 5)
    await publish(world, events.published)
    async with running(projector(world, pool, schema)):
        await wait_caught_up(world, pool, schema)
    live = await snapshot(pool, schema)
    async with pool.acquire() as conn:
        before = {
            t: await conn.fetchval("SELECT to_regclass($1)::oid", f"{schema}.{t}") for t in TABLES
        }
    await rebuild(world, pool, schema=schema, names=["calls"])
    async with pool.acquire() as conn:
        after = {
            t: await conn.fetchval("SELECT to_regclass($1)::oid", f"{schema}.{t}") for t in TABLES
        }
    assert await snapshot(pool, schema) == live
    assert [t for t in TABLES if before[t] != after[t]] == ["calls"]
