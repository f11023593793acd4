"""Upcasters of the intake events: a payload of an older schema version as the next one.

Shipped with the schema, beside the generated `events_pb2`, because every reader of intake's
events needs them (intake loading its streams, scoring's reactions, the readside's
projections) and those services share nothing but the schemas. Each function takes the
serialized payload of version n and returns that of version n+1; `UPCASTERS` registers
them by (event type, n) for `konkurs_platform.upcast`, which chains them.

A function here is frozen once released: events of its version are kept forever. A later
change adds the next step (v2 -> v3) and never edits an earlier one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from konkurs.intake.v1 import application_pb2, events_pb2


def _split_specialisation(cluster: application_pb2.Cluster) -> None:
    # Version 1 said "most important first" and left the rest to the reader: the head of
    # the list is the primary activity. Nothing is set for an empty list, so the payload
    # of an event without content stays without content.
    codes = list(cluster.specialisation_oked_codes)
    if codes:
        cluster.primary_oked_code = codes[0]
        cluster.related_oked_codes[:] = codes[1:]


def upcast_application_submitted_v1_v2(payload: bytes) -> bytes:
    """Version 2 names the cluster's primary and related OKED codes."""
    event = events_pb2.ApplicationSubmitted.FromString(payload)
    _split_specialisation(event.content.cluster)
    return event.SerializeToString(deterministic=True)


def upcast_application_amended_v1_v2(payload: bytes) -> bytes:
    """Version 2 names the cluster's primary and related OKED codes."""
    event = events_pb2.ApplicationAmended.FromString(payload)
    _split_specialisation(event.content.cluster)
    return event.SerializeToString(deterministic=True)


UPCASTERS: Mapping[tuple[str, int], Callable[[bytes], bytes]] = {
    (events_pb2.ApplicationSubmitted.DESCRIPTOR.full_name, 1): upcast_application_submitted_v1_v2,
    (events_pb2.ApplicationAmended.DESCRIPTOR.full_name, 1): upcast_application_amended_v1_v2,
}
