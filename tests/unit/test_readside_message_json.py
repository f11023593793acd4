"""The read models' fast JSON mapping of protobuf messages (`rows.message_json`) writes
exactly what `MessageToDict(..., preserving_proto_field_name=True)` writes, for every shape
of content the read models store."""

from __future__ import annotations

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from hypothesis import given
from hypothesis import strategies as st

from konkurs.intake.v1 import application_pb2, call_pb2, events_pb2
from konkurs.types.v1 import types_pb2
from konkurs_intake.adapters.codec import content_to_pb
from konkurs_intake.demo import SKETCHES, content
from konkurs_readside.projections.rows import message_json


def reference(message: Message) -> dict[str, object]:
    return MessageToDict(message, preserving_proto_field_name=True)


def test_every_demo_application_content_maps_as_json_format_maps_it() -> None:
    for number, sketch in enumerate(SKETCHES):
        message = content_to_pb(content(number, sketch))
        assert message_json(message) == reference(message)


def test_empty_present_messages_unknown_enums_and_64_bit_integers_map_as_json_format() -> None:
    message = application_pb2.ApplicationContent(
        cluster=application_pb2.Cluster(),  # present, every field at its default
        participants=[
            application_pb2.Participant(bin="123456789012", kind=99),  # a newer producer's kind
            application_pb2.Participant(kind=application_pb2.PARTICIPANT_KIND_UNIVERSITY),
        ],
        documents=[application_pb2.Document(size_bytes=2**62, filename="a.pdf")],
        co_financing=application_pb2.CoFinancing(
            amount=types_pb2.Money(currency="KZT", minor_units=-(2**63))
        ),
    )
    assert message_json(message) == reference(message)
    assert message_json(message)["documents"][0]["size_bytes"] == str(2**62)
    assert message_json(application_pb2.ApplicationContent()) == {}


def test_types_the_fast_path_leaves_alone_still_map_as_json_format() -> None:
    # A timestamp (a well-known type with a JSON form of its own) inside the call's definition.
    definition = call_pb2.CallDefinition(programme="p", quota=6)
    definition.opens_at.FromSeconds(1_500_000_000)
    announced = events_pb2.CallAnnounced(call_id="c", call=definition)
    assert message_json(announced) == reference(announced)


texts = st.text(max_size=12)
money = st.builds(types_pb2.Money, currency=texts, minor_units=st.integers(-(2**63), 2**63 - 1))
participants = st.builds(
    application_pb2.Participant,
    bin=texts,
    name=texts,
    kind=st.integers(0, 8),
    employees=st.integers(-(2**31), 2**31 - 1),
    annual_revenue=money,
    export_share_percent=st.integers(0, 100),
)
contents = st.builds(
    application_pb2.ApplicationContent,
    cluster=st.builds(
        application_pb2.Cluster,
        name=texts,
        region_code=texts,
        related_oked_codes=st.lists(texts, max_size=3),
    ),
    participants=st.lists(participants, max_size=4),
    strategy_summary=texts,
    requested_support=st.lists(
        st.builds(application_pb2.SupportRequest, kind=texts, amount=money), max_size=2
    ),
    contact=st.builds(application_pb2.ContactPerson, name=texts, email=texts),
    documents=st.lists(
        st.builds(application_pb2.Document, filename=texts, size_bytes=st.integers(0, 2**63 - 1)),
        max_size=2,
    ),
)


@given(contents)
def test_any_application_content_maps_as_json_format_maps_it(
    message: application_pb2.ApplicationContent,
) -> None:
    assert message_json(message) == reference(message)
