"""Helpers for the integration tests: making events and reading topics back."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from konkurs_platform.envelope import Actor
from konkurs_platform.eventstore import Metadata, NewEvent
from konkurs_platform.settings import Settings

ACTOR = Actor(subject="tester", role="operator", organisation=None, region=None)


def meta() -> Metadata:
    return Metadata(actor=ACTOR, correlation_id=str(uuid.uuid4()))


def event(n: int, event_type: str = "konkurs.test.v1.Happened") -> NewEvent:
    return NewEvent(event_type, f"payload {n}".encode())


async def read_topic(
    settings: Settings, topic: str, *, until: int, timeout: float = 60.0
) -> list[ConsumerRecord]:
    """Every record of `topic` from the beginning, once at least `until` have arrived."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        async with asyncio.timeout(timeout):
            while len(records) < until:
                batch = await consumer.getmany(timeout_ms=500)
                for part in batch.values():
                    records.extend(part)
    except TimeoutError:
        raise AssertionError(f"only {len(records)} of {until} records arrived on {topic}") from None
    finally:
        await consumer.stop()
    return records
