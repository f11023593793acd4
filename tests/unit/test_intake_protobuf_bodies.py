"""Protobuf request bodies read into the JSON shape the API validates (intake's adapter)."""

from __future__ import annotations

import pytest

from konkurs.intake.v1 import application_pb2
from konkurs_intake.adapters.protobuf_bodies import (
    MalformedMessage,
    UnknownFields,
    application_content_json,
)


def _cluster(**fields: object) -> bytes:
    message = application_pb2.ApplicationContent(
        cluster=application_pb2.Cluster(name="Кластер", region_code="KZ-75", **fields)  # type: ignore[arg-type]
    )
    return message.SerializeToString()


def test_the_primary_and_related_oked_codes_read_as_one_list_primary_first() -> None:
    raw = _cluster(primary_oked_code="31090", related_oked_codes=["16100", "16230"])
    codes = application_content_json(raw)["cluster"]["specialisation_oked_codes"]
    assert codes == ["31090", "16100", "16230"]


def test_an_older_client_listing_the_codes_in_the_deprecated_field_is_read_the_same() -> None:
    raw = _cluster(specialisation_oked_codes=["31090", "16100"])
    assert application_content_json(raw)["cluster"]["specialisation_oked_codes"] == [
        "31090",
        "16100",
    ]


def test_unset_messages_are_absent_so_the_body_model_calls_them_required() -> None:
    shape = application_content_json(b"")
    assert "cluster" not in shape and "contact" not in shape and "co_financing" not in shape


def test_fields_the_schema_does_not_know_are_named_where_they_are() -> None:
    raw = _cluster() + b"\xa8\x06\x01"  # field 101 (varint) at the top level
    # Field 99 inside participant 0 (field 3 of the content, length-delimited).
    participant = application_pb2.Participant(name="x").SerializeToString() + b"\x98\x06\x01"
    nested = b"\x1a" + bytes([len(participant)]) + participant
    with pytest.raises(UnknownFields) as top:
        application_content_json(raw)
    assert top.value.fields == [("", "unknown field number 101")]
    with pytest.raises(UnknownFields) as inner:
        application_content_json(nested)
    assert inner.value.fields == [("/participants/0", "unknown field number 99")]


def test_bytes_that_are_not_the_message_are_malformed() -> None:
    with pytest.raises(MalformedMessage):
        application_content_json(b"\xff\xfe\x00")
