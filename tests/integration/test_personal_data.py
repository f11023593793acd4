"""Personal data sealed per person in the events and erasable (issue 14): the contact's
phone number is in no stored or published byte in clear; an erasure removes it from the read
models and a rebuild while the events keep their bytes; a role without the key store's grant
is refused; retention erases once, at its due time."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from konkurs.intake.v1 import events_pb2
from konkurs_intake.adapters.codec import ApplicationCodec, CallCodec
from konkurs_intake.demo import CALL_ID, SKETCHES, content
from konkurs_intake.domain.applications import ApplicationSubmitted, ContactPerson
from konkurs_intake.domain.calls import CallClosed, CloseReason
from konkurs_platform.db import migrate_service
from konkurs_platform.envelope import Actor, Envelope
from konkurs_platform.eventstore import EventStore, Metadata
from konkurs_platform.personal.keystore import KeyStore
from konkurs_platform.personal.sealing import ERASED
from konkurs_platform.personal.store import SealingEventStore
from konkurs_platform.settings import Settings
from konkurs_platform.spec import ServiceSpec
from konkurs_platform.timers import DueTimer
from konkurs_privacy.adapters.postgres import PrivacyBook
from konkurs_privacy.app.erasure import Erasures
from konkurs_privacy.app.retention import RetentionClock
from konkurs_privacy.consumers.intake_events import IntakeEvents
from konkurs_privacy.domain.subjects import EraseSubject
from konkurs_readside.projections import applications

pytestmark = pytest.mark.integration

PG_DUMP = "/usr/lib/postgresql/15/bin/pg_dump"
OPERATOR = Metadata(Actor(subject="operator-1", role="operator"), correlation_id="c-1")


def phone() -> str:
    """A phone number no other test writes, so a grep finds only this test's bytes."""
    return f"+7 701 {uuid.uuid4().int % 10**7:07d}"


async def submit(pool: asyncpg.Pool, settings: Settings, number: str) -> Envelope:
    """An application whose contact has `number`, appended as intake appends it."""
    store = SealingEventStore(pool, "intake", settings.events_topic("intake"))
    app_id = str(uuid.uuid4())
    c = content(0, SKETCHES[0])
    c = replace(c, contact=ContactPerson("Айгуль Сапарова", number, f"{app_id}@example.kz"))
    event = ApplicationCodec().encode(ApplicationSubmitted(app_id, CALL_ID, app_id[:8], c, True))
    (stored,) = await store.append(f"application-{app_id}", 0, [event], OPERATOR)
    return stored


def contact_subject(envelope: Envelope) -> str:
    return f"{envelope.stream_id}/content.contact"


async def pg_dump(settings: Settings) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        PG_DUMP, "--data-only", "--dbname", settings.dsn, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    return out


async def fired_for(clock: RetentionClock, call_id: str) -> list[DueTimer]:
    """The timers of `call_id` that fired now: other tests' calls share the privacy schema,
    and a clock moved years ahead fires their retention too."""
    return [t for t in await clock.fire_due() if t.stream_id == f"call-{call_id}"]


@pytest.fixture
async def erasures(pool: asyncpg.Pool, settings: Settings) -> Erasures:
    store = EventStore(pool, "privacy", settings.events_topic("privacy"))
    return Erasures(store, KeyStore(), PrivacyBook("privacy"))


async def test_the_phone_number_is_in_no_event_envelope_outbox_or_dump_in_clear(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    number = phone()
    stored = await submit(pool, settings, number)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT payload, envelope FROM intake.events WHERE event_id = $1", stored.event_id
        )
        loaded = await SealingEventStore(pool, "intake", "t").load(stored.stream_id)
    # The envelope column holds the exact bytes the relay publishes to the topic.
    for stored_bytes in (row["payload"], row["envelope"], stored.payload):
        assert number.encode() not in stored_bytes
        assert b"pd1:" in stored_bytes
    assert number.encode() not in await pg_dump(settings)
    # The service itself reads it back in clear.
    assert (
        events_pb2.ApplicationSubmitted.FromString(loaded[0].payload).content.contact.phone
        == number
    )


async def test_a_service_without_the_key_store_grant_cannot_read_personal_fields(
    settings: Settings,
) -> None:
    """Each service reaches the keys only as far as its spec says: none, read, seal, erase."""
    # A service that asks for no personal data (the analytics feed will be one).
    outsider = ServiceSpec(
        # konkurs_ops has no migrations of its own: the schema gets the platform's alone.
        name="outsider",
        port=8099,
        summary="no personal data",
        migrations="konkurs_ops",
    )
    await migrate_service(settings, outsider, schema=f"outsider_{uuid.uuid4().hex[:6]}")
    refused = {
        "outsider": ["SELECT data_key FROM keystore.subject_keys"],
        # read: opens, never makes or destroys a key
        "readside": [
            "DELETE FROM keystore.subject_keys",
            "INSERT INTO keystore.erasures SELECT * FROM keystore.erasures LIMIT 0",
        ],
        # seal: makes keys, never destroys one
        "intake": ["DELETE FROM keystore.subject_keys"],
    }
    for service, statements in refused.items():
        conn = await asyncpg.connect(settings.for_service(service).dsn)
        try:
            for statement in statements:
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(statement)
        finally:
            await conn.close()


async def test_after_an_erasure_the_contact_is_gone_from_read_models_rebuild_and_dump(
    pool: asyncpg.Pool, settings: Settings, erasures: Erasures
) -> None:
    number = phone()
    stored = await submit(pool, settings, number)
    schema = f"pd_{uuid.uuid4().hex[:8]}"
    async with pool.acquire() as conn:
        await conn.execute(f"CREATE SCHEMA {schema}")
        for table in applications.TABLES:
            await conn.execute(
                f"CREATE TABLE {schema}.{table} (LIKE readside.{table} INCLUDING ALL)"
            )
        async with conn.transaction():
            await applications.apply_batch(conn, schema, [stored])
        live = await conn.fetchrow(f"SELECT * FROM {schema}.applications")
        assert live["contact_phone"] == number
        events_before = await conn.fetch("SELECT event_id, envelope FROM intake.events")

        async with conn.transaction():
            outcome = await erasures.handle_erase_subject(
                EraseSubject(contact_subject(stored), "the person asked", datetime.now(UTC)),
                OPERATOR,
                conn,
            )
        # The live read model, updated by the erasure event.
        async with conn.transaction():
            await applications.apply_batch(conn, schema, outcome.events)
        live = await conn.fetchrow(f"SELECT * FROM {schema}.applications")
        revision = await conn.fetchval(f"SELECT content FROM {schema}.application_revisions")
        assert (live["contact_name"], live["contact_phone"], live["contact_email"]) == (
            ERASED,
            ERASED,
            ERASED,
        )
        assert number not in live["content"] and number not in revision

        # A rebuild from the unchanged events: the key is gone, so is the contact.
        rebuilt = f"{schema}_rebuilt"
        await conn.execute(f"CREATE SCHEMA {rebuilt}")
        for table in applications.TABLES:
            await conn.execute(
                f"CREATE TABLE {rebuilt}.{table} (LIKE readside.{table} INCLUDING ALL)"
            )
        async with conn.transaction():
            await applications.apply_batch(conn, rebuilt, [stored])
        again = await conn.fetchrow(f"SELECT * FROM {rebuilt}.applications")
        assert again["contact_phone"] == ERASED
        assert again["content"] == live["content"]

        # History is untouched: the same events, byte for byte.
        assert await conn.fetch("SELECT event_id, envelope FROM intake.events") == events_before
        tombstone = await conn.fetchrow(
            "SELECT erased_by, reason FROM keystore.erasures WHERE subject_id = $1",
            contact_subject(stored),
        )
        assert dict(tombstone) == {"erased_by": "operator-1", "reason": "the person asked"}
        document = await erasures.access_request(conn, contact_subject(stored), datetime.now(UTC))
        assert document["status"] == "erased"
    assert number.encode() not in await pg_dump(settings)


async def test_retention_erases_the_call_contacts_once_at_the_due_time(
    pool: asyncpg.Pool, settings: Settings, erasures: Erasures
) -> None:
    call_id = f"retention-{uuid.uuid4().hex[:8]}"
    number = phone()
    stored = await submit(pool, settings, number)
    # Intake's view as privacy's consumer receives it: this application is of `call_id`.
    submitted = events_pb2.ApplicationSubmitted.FromString(stored.payload)
    submitted.call_id = call_id
    stored = replace(stored, payload=submitted.SerializeToString(deterministic=True))
    closed_at = datetime(2030, 6, 9, tzinfo=UTC)
    closed = CallCodec().encode(CallClosed(call_id, closed_at, CloseReason.SCHEDULED))
    closing = replace(
        stored,
        event_id=uuid.uuid4(),
        event_type=closed.event_type,
        stream_id=f"call-{call_id}",
        payload=closed.payload,
    )
    effects = IntakeEvents(erasures.book).effects()
    async with pool.acquire() as conn, conn.transaction():
        await effects[stored.event_type](conn, stored)
        await effects[closing.event_type](conn, closing)

    now = [closed_at + timedelta(days=365 * 5 - 2)]
    clock = RetentionClock(settings.dsn, pool, erasures, lambda: now[0])
    assert await fired_for(clock, call_id) == []
    now[0] = closed_at.replace(year=2035) + timedelta(seconds=1)
    fired = await fired_for(clock, call_id)
    assert [t.stream_id for t in fired] == [f"call-{call_id}"]
    assert await fired_for(clock, call_id) == []

    async with pool.acquire() as conn:
        assert await KeyStore().keys(conn, [contact_subject(stored)]) == {}
        runs = [r for r in await erasures.book.runs(conn) if r["call_id"] == call_id]
    assert [(r["rule"], r["erased"]) for r in runs] == [
        ("contact/call_closed+5y", [contact_subject(stored)])
    ]


async def test_an_application_learned_after_its_calls_retention_ran_is_erased_too(
    pool: asyncpg.Pool, settings: Settings, erasures: Erasures
) -> None:
    """Intake's events come from many partitions: a call closed long ago may be seen (and
    its retention run) before some of its applications. They are erased by the same rule."""
    call_id = f"late-{uuid.uuid4().hex[:8]}"

    async def submitted_to_call() -> Envelope:
        stored = await submit(pool, settings, phone())
        event = events_pb2.ApplicationSubmitted.FromString(stored.payload)
        event.call_id = call_id
        return replace(stored, payload=event.SerializeToString(deterministic=True))

    early, late = await submitted_to_call(), await submitted_to_call()
    closed_at = datetime(2017, 6, 9, tzinfo=UTC)
    closed = CallCodec().encode(CallClosed(call_id, closed_at, CloseReason.SCHEDULED))
    closing = replace(
        early,
        event_id=uuid.uuid4(),
        event_type=closed.event_type,
        stream_id=f"call-{call_id}",
        payload=closed.payload,
    )
    effects = IntakeEvents(erasures.book).effects()
    now = datetime(2026, 11, 30, tzinfo=UTC)
    clock = RetentionClock(settings.dsn, pool, erasures, lambda: now)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO privacy.calls (call_id, programme) VALUES ($1, 'clusters')", call_id
        )
        await effects[early.event_type](conn, early)
        await effects[closing.event_type](conn, closing)
    assert [t.stream_id for t in await fired_for(clock, call_id)] == [f"call-{call_id}"]

    async with pool.acquire() as conn, conn.transaction():
        await effects[late.event_type](conn, late)
    assert [t.stream_id for t in await fired_for(clock, call_id)] == [f"call-{call_id}"]
    assert await fired_for(clock, call_id) == []

    async with pool.acquire() as conn:
        keys = await KeyStore().keys(conn, [contact_subject(early), contact_subject(late)])
        runs = [r for r in await erasures.book.runs(conn) if r["call_id"] == call_id]
    assert keys == {}
    assert sorted(tuple(r["erased"]) for r in runs) == sorted(
        [(contact_subject(early),), (contact_subject(late),)]
    )
