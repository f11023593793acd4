"""Where the projector stands: the event topics' partitions, the stored offsets, and the lag
between them."""

from __future__ import annotations

from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.client import AIOKafkaClient

from konkurs_platform.db import Connection
from konkurs_platform.projection import OffsetTable
from konkurs_platform.settings import Settings
from konkurs_platform.spec import discover

# The offset set of the live projector in `<schema>.projection_offsets`. One set for every
# read model and the audit log: they are written in the same transaction, so they are always
# at the same position (a rebuild keeps it so, see `konkurs_readside.rebuild`).
PROJECTOR = "readside"


def event_topics(settings: Settings) -> list[str]:
    """`konkurs.<service>.events.v1` of every registered service that publishes events: a
    service added later is projected (and audited) without a change here."""
    return [settings.events_topic(s.name) for s in discover() if s.relay]


async def event_partitions(settings: Settings) -> list[TopicPartition]:
    """Every partition of the event topics that exist, in (topic, partition) order."""
    client = AIOKafkaClient(bootstrap_servers=settings.kafka_bootstrap, client_id="konkurs")
    await client.bootstrap()
    try:
        cluster = await client.fetch_all_metadata()
    finally:
        await client.close()
    return sorted(
        TopicPartition(topic, p)
        for topic in event_topics(settings)
        for p in cluster.partitions_for_topic(topic) or ()
    )


async def stored_offsets(
    conn: Connection, schema: str, projection: str = PROJECTOR
) -> dict[TopicPartition, int]:
    """The next offset to apply per partition (a partition without a row starts at 0)."""
    return await OffsetTable(schema, projection).load(conn)


async def end_offsets(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
) -> dict[TopicPartition, int]:
    """The offset the next event of each partition will get."""
    if not partitions:
        return {}
    ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
    return ends


def lag_by_topic(
    ends: Mapping[TopicPartition, int], stored: Mapping[TopicPartition, int]
) -> dict[str, int]:
    """Events published but not yet projected, per topic."""
    lag: dict[str, int] = {}
    for tp, end in ends.items():
        lag[tp.topic] = lag.get(tp.topic, 0) + max(0, end - stored.get(tp, 0))
    return lag
