"""Sealing personal fields, found by the schema's marks (konkurs_platform.personal)."""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from konkurs.intake.v1 import application_pb2, events_pb2
from konkurs_platform.personal.sealing import (
    ERASED,
    is_sealed,
    personal_fields,
    seal_all,
    unseal_all,
)

STREAM = "application-1"


def submitted(phone: str = "+7 701 234 5678") -> events_pb2.ApplicationSubmitted:
    return events_pb2.ApplicationSubmitted(
        application_id="1",
        content=application_pb2.ApplicationContent(
            cluster=application_pb2.Cluster(name="Кластер"),
            contact=application_pb2.ContactPerson(name="Айгуль", phone=phone, email="a@b.kz"),
        ),
    )


def test_the_marked_contact_fields_are_found_by_reflection_under_one_subject() -> None:
    fields = personal_fields(submitted(), STREAM)
    assert [(f.path, f.kind, f.subject_id) for f in fields] == [
        ("content.contact.name", "contact", "application-1/content.contact"),
        ("content.contact.phone", "contact", "application-1/content.contact"),
        ("content.contact.email", "contact", "application-1/content.contact"),
    ]


def test_sealed_fields_hold_no_clear_value_and_open_with_the_key() -> None:
    key = AESGCM.generate_key(bit_length=256)
    event = submitted()
    seal_all(personal_fields(event, STREAM), {"application-1/content.contact": key})
    payload = event.SerializeToString()
    assert b"+7 701 234 5678" not in payload and is_sealed(event.content.contact.phone)
    assert event.content.cluster.name == "Кластер"
    reread = events_pb2.ApplicationSubmitted.FromString(payload)
    unseal_all(personal_fields(reread, STREAM), {"application-1/content.contact": key})
    assert reread.content.contact == submitted().content.contact


def test_without_the_key_every_sealed_field_reads_as_erased() -> None:
    event = submitted()
    fields = personal_fields(event, STREAM)
    seal_all(fields, {"application-1/content.contact": AESGCM.generate_key(bit_length=256)})
    unseal_all(fields, {})
    assert (event.content.contact.name, event.content.contact.phone) == (ERASED, ERASED)


def test_a_sealed_value_copied_into_another_subjects_event_does_not_open() -> None:
    other_stream = "application-2"
    key = AESGCM.generate_key(bit_length=256)
    event = submitted()
    seal_all(personal_fields(event, STREAM), {"application-1/content.contact": key})
    copied = events_pb2.ApplicationSubmitted.FromString(event.SerializeToString())
    # Even with the same key under the other subject, the associated data differs.
    unseal_all(personal_fields(copied, other_stream), {f"{other_stream}/content.contact": key})
    assert copied.content.contact.phone == ERASED
