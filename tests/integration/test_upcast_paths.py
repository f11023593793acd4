"""Old event versions on the real read paths: the event store's load, and the readside's
projector and rebuild over a topic that mixes versions 1 and 2 of the application events."""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path

import asyncpg
import pytest
from helpers import meta, running
from readside_support import Events, new_world, projector, publish, table_rows
from readside_support import wait_caught_up as caught_up_with

from konkurs.intake.v1 import events_pb2
from konkurs_intake.adapters.codec import ApplicationCodec
from konkurs_platform.envelope import decode_envelope, encode_envelope
from konkurs_platform.eventstore import EventStore, NewEvent
from konkurs_platform.settings import Settings
from konkurs_readside.projections import PROJECTIONS
from konkurs_readside.rebuild import rebuild

pytestmark = pytest.mark.integration

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"
SUBMITTED = events_pb2.ApplicationSubmitted.DESCRIPTOR.full_name
AMENDED = events_pb2.ApplicationAmended.DESCRIPTOR.full_name
TABLES = [t for p in PROJECTIONS.values() for t in p.tables]


async def test_the_event_store_loads_a_stored_v1_event_as_v2_and_keeps_the_row_as_written(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    store = EventStore(pool, "intake", settings.events_topic("intake"))
    stream = f"application-{uuid.uuid4()}"
    v1 = (GOLDEN_DIR / f"{SUBMITTED}.binpb").read_bytes()
    await store.append(stream, 0, [NewEvent(SUBMITTED, v1, schema_version=1)], meta())

    [loaded] = await store.load(stream)

    assert loaded.schema_version == 2
    assert loaded.payload == (GOLDEN_DIR / f"{SUBMITTED}.v2.binpb").read_bytes()
    event = ApplicationCodec().decode(loaded)
    assert event.content.cluster.specialisation == ("31090", "16100")
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT schema_version, payload, envelope FROM intake.events WHERE stream_id = $1",
            stream,
        )
    assert row is not None
    assert (row["schema_version"], row["payload"]) == (1, v1)
    assert decode_envelope(row["envelope"]).payload == v1


def as_written_today(raw: bytes) -> bytes:
    """An application event's envelope as intake writes it since version 2: the same event,
    with the primary and related OKED codes named (the other events did not change)."""
    e = decode_envelope(raw)
    if e.event_type not in (SUBMITTED, AMENDED):
        return raw
    message = (
        events_pb2.ApplicationSubmitted
        if e.event_type == SUBMITTED
        else events_pb2.ApplicationAmended
    ).FromString(e.payload)
    primary, *related = message.content.cluster.specialisation_oked_codes
    message.content.cluster.primary_oked_code = primary
    message.content.cluster.related_oked_codes[:] = related
    payload = message.SerializeToString(deterministic=True)
    return encode_envelope(dataclasses.replace(e, schema_version=2, payload=payload))


async def read_models(pool: asyncpg.Pool, schema: str) -> dict[str, list[asyncpg.Record]]:
    return {t: await table_rows(pool, schema, t) for t in TABLES}


async def test_a_rebuild_over_mixed_versions_equals_the_read_models_of_new_versions_only(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    # Version 1 events as written before the change (readside_support writes version 1).
    events = Events()
    events.announce("mixed")
    for number in range(1, 13):
        app = events.submit(
            "mixed",
            number,
            "KZ-63",
            coordinator=f"{number:012d}",
            specialisation=("31090", "16100", "22230"),
        )
        events.amend(app, 2, f"Amended {number}")
        if number % 4 == 0:
            events.withdraw(app, "no longer interested")
    new_only = [(stream, as_written_today(raw)) for stream, raw in events.published]
    # Every other event stays at version 1: submissions and amendments of one application
    # come in both versions, in both orders.
    mixed = [
        old if i % 2 else new
        for i, (old, new) in enumerate(zip(events.published, new_only, strict=True))
    ]
    assert {decode_envelope(raw).schema_version for _, raw in mixed} == {1, 2}

    new_world_settings, new_schema = await new_world(settings, pool)
    await publish(new_world_settings, new_only)
    async with running(projector(new_world_settings, pool, new_schema)):
        await caught_up_with(new_world_settings, pool, new_schema)
    expected = await read_models(pool, new_schema)
    [submitted] = [r for r in expected["applications"] if r["registration_number"] == "TC-2017-001"]
    assert json.loads(submitted["content"])["cluster"]["primary_oked_code"] == "31090"

    mixed_settings, mixed_schema = await new_world(settings, pool)
    await publish(mixed_settings, mixed)
    async with running(projector(mixed_settings, pool, mixed_schema)):
        await caught_up_with(mixed_settings, pool, mixed_schema)
        assert await read_models(pool, mixed_schema) == expected
        await rebuild(mixed_settings, pool, schema=mixed_schema)
        assert await read_models(pool, mixed_schema) == expected
