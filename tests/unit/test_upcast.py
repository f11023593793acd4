"""Upcasters: an event stored in an older schema version is read as the current one.

The old versions are the golden files of tests/unit/test_schema_golden.py: the bytes of
version 1 of ApplicationSubmitted and ApplicationAmended, written before version 2 existed,
must be read exactly as today's writer writes version 2.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka.structs import ConsumerRecord

from konkurs.intake.v1 import events_pb2
from konkurs_intake.adapters.codec import ApplicationCodec, CallCodec
from konkurs_platform.envelope import (
    Actor,
    Envelope,
    EnvelopeError,
    decode_envelope,
    encode_envelope,
)
from konkurs_platform.projection import decode_all
from konkurs_platform.upcast import UpcastError, Upcasters, registered, upcast

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"

SUBMITTED = events_pb2.ApplicationSubmitted.DESCRIPTOR.full_name
AMENDED = events_pb2.ApplicationAmended.DESCRIPTOR.full_name


def golden(stem: str) -> bytes:
    return (GOLDEN_DIR / f"{stem}.binpb").read_bytes()


def envelope(event_type: str, schema_version: int, payload: bytes) -> Envelope:
    moment = datetime(2017, 6, 2, 5, 47, tzinfo=UTC)
    return Envelope(
        event_id=uuid.uuid4(),
        event_type=event_type,
        stream_id="application-5f0c2d1e",
        stream_version=1,
        occurred_at=moment,
        recorded_at=moment,
        actor=Actor(subject="tester", role="operator"),
        correlation_id="c",
        causation_id=None,
        schema_version=schema_version,
        payload=payload,
    )


@pytest.mark.parametrize("event_type", [SUBMITTED, AMENDED])
def test_golden_v1_bytes_are_read_as_the_golden_v2_bytes(event_type: str) -> None:
    stem = event_type  # the golden files are named by event type, version 1 unsuffixed
    old = envelope(event_type, 1, golden(stem))
    read = upcast(old)
    assert (read.schema_version, read.payload) == (2, golden(f"{stem}.v2"))
    # Everything but the payload's shape is the event as stored.
    assert read.event_id == old.event_id and read.occurred_at == old.occurred_at


def test_a_v1_envelope_off_the_wire_is_read_as_v2_as_a_reaction_reads_it() -> None:
    # What a consumer does with a Kafka record: decode the envelope, upcast its payload.
    read = upcast(decode_envelope(golden("konkurs.envelope.v1.Envelope")))
    assert read.schema_version == 2
    cluster = events_pb2.ApplicationSubmitted.FromString(read.payload).content.cluster
    assert (cluster.primary_oked_code, list(cluster.related_oked_codes)) == ("31090", ["16100"])


def test_intake_reads_a_v1_submission_and_writes_it_back_exactly_as_v2() -> None:
    codec = ApplicationCodec()
    event = codec.decode(upcast(envelope(SUBMITTED, 1, golden(SUBMITTED))))
    assert event.content.cluster.specialisation == ("31090", "16100")
    written = codec.encode(event)
    assert (written.schema_version, written.payload) == (2, golden(f"{SUBMITTED}.v2"))


@pytest.mark.parametrize(
    ("stem", "codec"),
    [
        ("konkurs.intake.v1.CallAnnounced", CallCodec()),
        ("konkurs.intake.v1.CallClosed", CallCodec()),
        ("konkurs.intake.v1.ApplicationSubmitted.v2", ApplicationCodec()),
        ("konkurs.intake.v1.ApplicationAmended.v2", ApplicationCodec()),
        ("konkurs.intake.v1.ApplicationWithdrawn", ApplicationCodec()),
        ("konkurs.intake.v1.DocumentAttached", ApplicationCodec()),
    ],
)
def test_intake_writes_the_version_its_readers_upcast_to(
    stem: str, codec: CallCodec | ApplicationCodec
) -> None:
    # Otherwise a bumped writer without its upcaster (or the reverse) would leave old events
    # read in a shape the codec no longer decodes.
    event_type = stem.removesuffix(".v2")
    current = registered().current_version(event_type)
    written = codec.encode(codec.decode(envelope(event_type, current, golden(stem))))  # type: ignore[arg-type]
    assert (written.event_type, written.schema_version) == (event_type, current)


def test_upcasters_chain_each_version_to_the_next_until_the_current() -> None:
    chain = Upcasters(
        {
            ("konkurs.test.v1.Happened", 1): lambda p: p + b">2",
            ("konkurs.test.v1.Happened", 2): lambda p: p + b">3",
        }
    )
    assert chain.current_version("konkurs.test.v1.Happened") == 3
    from_v1 = chain.upcast(envelope("konkurs.test.v1.Happened", 1, b"v1"))
    from_v2 = chain.upcast(envelope("konkurs.test.v1.Happened", 2, b"v2"))
    assert (from_v1.schema_version, from_v1.payload) == (3, b"v1>2>3")
    assert (from_v2.schema_version, from_v2.payload) == (3, b"v2>3")


def test_a_current_a_newer_or_an_unchanged_type_of_event_is_read_as_stored() -> None:
    chain = Upcasters({("konkurs.test.v1.Happened", 1): lambda p: p + b">2"})
    current = envelope("konkurs.test.v1.Happened", 2, b"v2")
    newer = envelope("konkurs.test.v1.Happened", 3, b"v3")
    other = envelope("konkurs.test.v1.Other", 1, b"v1")
    assert [chain.upcast(e) for e in (current, newer, other)] == [current, newer, other]


def test_a_chain_with_a_missing_step_is_refused() -> None:
    with pytest.raises(ValueError, match="none from v1"):
        Upcasters({("konkurs.test.v1.Happened", 2): lambda p: p})


def test_a_payload_its_upcaster_cannot_parse_is_an_envelope_error() -> None:
    with pytest.raises(UpcastError) as raised:
        upcast(envelope(SUBMITTED, 1, b"\xff\xff\xff"))
    assert isinstance(raised.value, EnvelopeError)


async def test_the_projector_reads_old_events_as_current_and_dead_letters_broken_ones() -> None:
    def record(offset: int, value: bytes) -> ConsumerRecord:
        return ConsumerRecord(
            "konkurs.intake.events.v1", 0, offset, 0, 0, None, value, None, 0, len(value), ()
        )

    broken = encode_envelope(envelope(SUBMITTED, 1, b"\xff\xff\xff"))
    records = [record(0, golden("konkurs.envelope.v1.Envelope")), record(1, broken)]
    parked: list[tuple[int, str]] = []

    async def dead_letter(rec: ConsumerRecord, reason: str) -> None:
        parked.append((rec.offset, reason))

    decoded = await decode_all(records, dead_letter)
    assert [(rec.offset, e.schema_version) for rec, e in decoded] == [(0, 2)]
    assert [offset for offset, _ in parked] == [1]
    assert "cannot be upcast" in parked[0][1]
