"""The readside projector: every event in every read model and in the audit log exactly once,
through crashes, duplicate publications, poison events and two processes sharing partitions."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import asyncpg
import pytest
from helpers import read_topic, running
from readside_support import (
    Events,
    Stream,
    new_world,
    projector,
    publish,
    table_rows,
    wait_caught_up,
)

from konkurs_platform.deadletter import HEADER_REASON
from konkurs_platform.settings import Settings
from konkurs_readside import audit

pytestmark = pytest.mark.integration


def history(n_applications: int) -> tuple[Events, int]:
    """A call and its applications with amendments, attachments and withdrawals; returns the
    events and how many application events there are."""
    events = Events()
    events.announce("exactly-once")
    app_events = 0
    for n in range(n_applications):
        app = events.submit("exactly-once", n + 1, "KZ-75", coordinator=f"{n:012d}")
        app_events += 1
        if n % 3 == 0:
            events.amend(app, 2, f"Renamed {n}")
            events.attach(app, f"letter-{n}.pdf")
            app_events += 2
        if n % 5 == 0:
            events.withdraw(app, "merged with another cluster")
            app_events += 1
    return events, app_events


async def test_every_event_is_applied_and_audited_exactly_once_through_crashes(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    world, schema = await new_world(settings, pool)
    events, app_events = history(60)
    # The relay publishes at least once: a third of the events a second time, later.
    duplicates = events.published[::3]
    await publish(world, events.published[:100])
    for _ in range(4):
        # Cancelled in the middle of its batches: the crash of a process.
        task = asyncio.create_task(
            projector(world, pool, schema, max_records=7).run(asyncio.Event())
        )
        await asyncio.sleep(0.7)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await publish(world, events.published[100:] + duplicates)
    # Two processes of one consumer group share the partitions.
    async with running(projector(world, pool, schema, max_records=7)):
        async with running(projector(world, pool, schema, max_records=7)):
            await wait_caught_up(world, pool, schema)

    async with pool.acquire() as conn:
        counts = {
            table: await conn.fetchval(f"SELECT count(*) FROM {schema}.{table}")
            for table in ("calls", "applications", "application_revisions", "registration_journal")
        }
        audited = await conn.fetch(f"SELECT seq, event_id FROM {schema}.audit_log ORDER BY seq")
        withdrawn = await conn.fetchval(
            f"SELECT count(*) FROM {schema}.applications WHERE status = 'withdrawn'"
        )
        renamed = await conn.fetchval(
            f"SELECT count(*) FROM {schema}.applications WHERE cluster_name LIKE 'Renamed %' "
            "AND revision = 2 AND document_count = 2"
        )
        verification = await audit.verify(conn, schema)
    assert counts == {
        "calls": 1,
        "applications": 60,
        "application_revisions": 60 + 20,
        "registration_journal": app_events,
    }
    assert (withdrawn, renamed) == (12, 20)
    # Every distinct event once, in a gapless chain that verifies.
    assert [r["seq"] for r in audited] == list(range(1, len(events.published) + 1))
    assert len({r["event_id"] for r in audited}) == len(events.published)
    assert verification.ok and verification.checked == len(events.published)


async def test_an_event_that_cannot_be_applied_is_dead_lettered_and_the_rest_applies(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    world, schema = await new_world(settings, pool)
    events = Events()
    events.announce("poison")
    good = events.submit("poison", 1, "KZ-55", coordinator="111111111111")
    orphan = str(uuid.uuid4())
    # Its submission was never published: version 2 of a stream nobody has seen.
    events.streams[f"application-{orphan}"] = Stream(f"application-{orphan}", version=1)
    events.withdraw(orphan, "an application the read model never saw")
    events.attach(good, "late.pdf")
    records = [*events.published[:2], ("junk", b"\xff not an envelope"), *events.published[2:]]
    await publish(world, records)
    async with running(projector(world, pool, schema)):
        await wait_caught_up(world, pool, schema)

    parked = await read_topic(world, world.deadletter_topic, until=2)
    reasons = sorted(dict(r.headers)[HEADER_REASON].decode() for r in parked)
    assert reasons[0].startswith("UnknownApplication: ")
    assert reasons[1].startswith("not a konkurs envelope")
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            f"SELECT document_count, stream_version FROM {schema}.applications "
            "WHERE application_id = $1",
            good,
        )
        audited = await conn.fetchval(f"SELECT count(*) FROM {schema}.audit_log")
    assert (row["document_count"], row["stream_version"]) == (2, 2)
    # The audit log records what was published, applicable or not; junk bytes are no event.
    assert audited == 4


async def test_rows_are_the_same_whatever_the_batch_size(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    events, _ = history(12)
    rows = []
    for max_records in (1, 2000):
        world, schema = await new_world(settings, pool)
        await publish(world, events.published)
        async with running(projector(world, pool, schema, max_records=max_records)):
            await wait_caught_up(world, pool, schema)
        rows.append(
            [await table_rows(pool, schema, t) for t in ("applications", "registration_journal")]
        )
    assert rows[0] == rows[1]
