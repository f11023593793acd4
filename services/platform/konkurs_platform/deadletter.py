"""The dead-letter path: an event that cannot be decoded or applied is parked, with the
reason, in `konkurs.deadletter.v1`, and processing goes on."""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaProducer

log = logging.getLogger(__name__)

HEADER_REASON = "konkurs-dlq-reason"
HEADER_CONSUMER = "konkurs-dlq-consumer"
HEADER_SOURCE_TOPIC = "konkurs-dlq-topic"
HEADER_SOURCE_PARTITION = "konkurs-dlq-partition"
HEADER_SOURCE_OFFSET = "konkurs-dlq-offset"


async def dead_letter(
    producer: AIOKafkaProducer,
    deadletter_topic: str,
    *,
    consumer: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...] | None,
    reason: str,
) -> None:
    """Publish the original record to the dead-letter topic and wait for the acknowledgement.

    The original bytes and headers are kept as they were; the reason and the source position
    are added as headers, so the record can be inspected and replayed.
    """
    reason = reason[:1000]
    log.error(
        "event dead-lettered",
        extra={
            "consumer": consumer,
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "reason": reason,
        },
    )
    extra = [
        (HEADER_REASON, reason.encode()),
        (HEADER_CONSUMER, consumer.encode()),
        (HEADER_SOURCE_TOPIC, topic.encode()),
        (HEADER_SOURCE_PARTITION, str(partition).encode()),
        (HEADER_SOURCE_OFFSET, str(offset).encode()),
    ]
    await producer.send_and_wait(
        deadletter_topic, value=value, key=key, headers=list(headers or []) + extra
    )
