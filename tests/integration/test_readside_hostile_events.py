"""Events that a producer may legally emit but PostgreSQL text cannot hold as they are: a NUL
character in any string. The read models store every such event (U+FFFD in place of the
NUL), nothing is dead-lettered, a rebuild comes out the same, and the audit log still chains
the exact bytes."""

from __future__ import annotations

import json

import asyncpg
import pytest
from aiokafka.structs import ConsumerRecord
from google.protobuf import struct_pb2
from helpers import dead_letter_count, running
from readside_support import Events, new_world, projector, publish, table_rows, wait_caught_up

from konkurs.intake.v1 import events_pb2
from konkurs_platform.envelope import Actor, decode_envelope
from konkurs_platform.settings import Settings
from konkurs_readside import audit
from konkurs_readside.projections import PROJECTIONS
from konkurs_readside.projector import project
from konkurs_readside.rebuild import rebuild
from konkurs_readside.storable import REPLACEMENT, storable_message

pytestmark = pytest.mark.integration

CALL = "nul-in-every-field"
NUL = "\x00"
TABLES = [t for p in PROJECTIONS.values() for t in p.tables]


def announce_with_nul_titles(events: Events) -> None:
    scratch = Events()
    scratch.announce(CALL)
    announced = events_pb2.CallAnnounced.FromString(
        decode_envelope(scratch.published[0][1]).payload
    )
    announced.call.title.ru = f"Конкурс{NUL}кластеров"
    announced.call.title.kk = f"Кластерлер{NUL}"
    announced.call.title.en = f"{NUL}Cluster competition"
    events.emit(f"call-{CALL}", announced)


def submit_with_nul_everywhere(events: Events, number: int, coordinator: str) -> str:
    """A submission whose every free-text field the read models store holds a NUL."""
    scratch = Events()
    scratch.submit(CALL, number, "KZ-75", coordinator=coordinator, participants=("990000000007",))
    submitted = events_pb2.ApplicationSubmitted.FromString(
        decode_envelope(scratch.published[0][1]).payload
    )
    content = submitted.content
    content.cluster.name = f"Cluster{NUL}{number}"
    content.coordinator.name = f"Coordinator{NUL}"
    for participant in content.participants:
        participant.name = f"{NUL}{participant.name}"
    content.contact.name = f"Aigerim{NUL}Nurlanovna"
    content.strategy_summary = f"grow{NUL}together"
    content.documents[0].filename = f"charter{NUL}.pdf"
    events.emit(f"application-{submitted.application_id}", submitted)
    return submitted.application_id


async def test_events_with_nul_in_every_stored_text_field_are_projected_and_rebuilt_alike(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    world, schema = await new_world(settings, pool)
    events = Events()
    announce_with_nul_titles(events)
    kept = submit_with_nul_everywhere(events, 1, "000000000001")
    events.amend(kept, 2, f"Renamed{NUL}cluster")
    events.attach(kept, f"letter{NUL}of intent.pdf")
    withdrawn = submit_with_nul_everywhere(events, 2, "000000000002")
    events.withdraw(withdrawn, f"merged{NUL}with another")
    await publish(world, events.published)

    live_projector = projector(world, pool, schema)
    async with running(live_projector):
        await wait_caught_up(world, pool, schema)
        live = {t: await table_rows(pool, schema, t) for t in TABLES}
        report = await rebuild(world, pool, schema=schema)
        rebuilt = {t: await table_rows(pool, schema, t) for t in TABLES}

    assert live_projector.stats.dead_lettered == 0
    assert await dead_letter_count(world) == 0
    assert (report.events, report.skipped_unapplicable) == (len(events.published), 0)
    assert rebuilt == live

    [call] = live["calls"]
    assert (call["title_ru"], call["title_en"]) == (
        f"Конкурс{REPLACEMENT}кластеров",
        f"{REPLACEMENT}Cluster competition",
    )
    async with pool.acquire() as conn:
        rows = {
            r["application_id"]: r
            for r in await conn.fetch(
                f"SELECT application_id, status, cluster_name, coordinator_name, contact_name, "
                f"withdrawal_reason, document_count, content FROM {schema}.applications"
            )
        }
        details = await conn.fetch(
            f"SELECT detail FROM {schema}.registration_journal WHERE application_id = $1 "
            "ORDER BY stream_version",
            kept,
        )
        first_revision = await conn.fetchval(
            f"SELECT content->'cluster'->>'name' FROM {schema}.application_revisions "
            "WHERE application_id = $1 AND revision = 1",
            kept,
        )
        audited = await conn.fetch(f"SELECT envelope FROM {schema}.audit_log ORDER BY seq")
        verification = await audit.verify(conn, schema)

    assert rows[kept]["cluster_name"] == f"Renamed{REPLACEMENT}cluster"
    assert rows[kept]["coordinator_name"] == f"Coordinator{REPLACEMENT}"
    assert rows[kept]["contact_name"] == f"Aigerim{REPLACEMENT}Nurlanovna"
    assert rows[kept]["document_count"] == 2
    assert first_revision == f"Cluster{REPLACEMENT}1"
    assert [d["detail"] for d in details] == [
        "",
        "revision 2",
        f"letter-of-intent: letter{REPLACEMENT}of intent.pdf",
    ]
    assert rows[withdrawn]["status"] == "withdrawn"
    assert rows[withdrawn]["withdrawal_reason"] == f"merged{REPLACEMENT}with another"
    content = json.loads(rows[withdrawn]["content"])
    assert content["strategy_summary"] == f"grow{REPLACEMENT}together"
    assert content["documents"][0]["filename"] == f"charter{REPLACEMENT}.pdf"
    assert [p["name"] for p in content["participants"]] == [
        f"{REPLACEMENT}Org 000000000002",
        f"{REPLACEMENT}Org 990000000007",
    ]
    assert content["contact"]["name"] == f"Aigerim{REPLACEMENT}Nurlanovna"
    # The legal record keeps the NULs: the audit log holds the bytes as published (in the
    # order the projector consumed them, which interleaves the streams' partitions).
    assert sorted(bytes(r["envelope"]) for r in audited) == sorted(
        raw for _, raw in events.published
    )
    assert verification.ok and verification.checked == len(events.published)


async def test_an_envelope_with_nul_in_the_actor_reaches_the_read_models_and_the_audit_log(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    _, schema = await new_world(settings, pool)
    actor = Actor(subject=f"applicant{NUL}1", role=f"applicant{NUL}", organisation=f"{NUL}")
    scratch = Events()
    application_id = scratch.submit(CALL, 1, "KZ-75", coordinator="000000000001")
    submitted = decode_envelope(scratch.published[0][1]).payload
    events = Events()
    events.emit(
        f"application-{application_id}",
        events_pb2.ApplicationSubmitted.FromString(submitted),
        actor,
    )
    events.withdraw(application_id, "merged")
    records = [
        ConsumerRecord("topic", 0, offset, 0, 0, None, raw, None, 0, len(raw), ())
        for offset, (_, raw) in enumerate(events.published)
    ]
    parked: list[str] = []

    async def park(_: ConsumerRecord, reason: str) -> None:
        parked.append(reason)

    async with pool.acquire() as conn, conn.transaction():
        applied = await project(
            conn, schema, records, list(PROJECTIONS.values()), dead_letter=park, with_audit=True
        )
        revision = await conn.fetchrow(
            f"SELECT actor_subject, actor_role FROM {schema}.application_revisions"
        )
    assert (applied, parked) == (2, [])
    assert tuple(revision) == (f"applicant{REPLACEMENT}1", f"applicant{REPLACEMENT}")
    async with pool.acquire() as conn:
        assert (await audit.verify(conn, schema)).ok
        (first, _) = await audit.stream_history(conn, schema, f"application-{application_id}")
    # The log keeps the exact bytes, NULs and all; only its columns show U+FFFD.
    assert bytes(first["envelope"]) == events.published[0][1]
    assert first["actor_subject"] == f"applicant{REPLACEMENT}1"


def test_a_map_with_nul_in_keys_and_values_is_made_storable() -> None:
    # No konkurs event has a map field yet; Struct (map<string, Value>) stands in for one.
    message = struct_pb2.Struct()
    message.update({f"key{NUL}": f"value{NUL}", "nested": {f"in{NUL}": [f"item{NUL}"]}})
    storable_message(message)
    assert message == struct_pb2.Struct(
        fields={
            f"key{REPLACEMENT}": struct_pb2.Value(string_value=f"value{REPLACEMENT}"),
            "nested": struct_pb2.Value(
                struct_value=struct_pb2.Struct(
                    fields={
                        f"in{REPLACEMENT}": struct_pb2.Value(
                            list_value=struct_pb2.ListValue(
                                values=[struct_pb2.Value(string_value=f"item{REPLACEMENT}")]
                            )
                        )
                    }
                )
            ),
        }
    )
