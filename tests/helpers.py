"""Helpers for the integration tests: making events and reading topics back."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord

from konkurs_platform.envelope import Actor
from konkurs_platform.eventstore import Metadata, NewEvent
from konkurs_platform.settings import Settings

T = TypeVar("T")

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


async def end_offsets(settings: Settings, topic: str) -> dict[TopicPartition, int]:
    """The end offset of every partition of `topic` now."""
    # The admin client, because a consumer's partitions_for_topic knows only the topics it
    # has subscribed to (a consumer-based count of an unsubscribed topic is always 0).
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
    assert partitions, f"the topic {topic} exists"
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
    await reader.start()
    try:
        return dict(await reader.end_offsets(partitions))
    finally:
        await reader.stop()


async def dead_letter_count(settings: Settings) -> int:
    """How many records the dead-letter topic of `settings` holds now (its end offsets)."""
    return sum((await end_offsets(settings, settings.deadletter_topic)).values())


class Loop(Protocol):
    """What runs until told to stop: a relay, a projector, a timer service."""

    async def run(self, stop: asyncio.Event) -> None: ...


@contextlib.asynccontextmanager
async def running(*loops: Loop) -> AsyncIterator[None]:
    """Run `loops` in the background while the block runs; then stop them and wait for them
    to end, so that an error one of them died of fails the test here."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(loop.run(stop)) for loop in loops]
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)


async def eventually(
    check: Callable[[], Awaitable[T]], timeout: float = 10.0, every: float = 0.02
) -> T:
    """Wait until `check()` gives something true and return it; fail after `timeout` s."""
    try:
        async with asyncio.timeout(timeout):
            while not (value := await check()):
                await asyncio.sleep(every)
    except TimeoutError:
        raise AssertionError(f"not true within {timeout} s: {check}") from None
    return value


async def wait_until(predicate: Callable[[], Awaitable[object]], timeout: float, what: str) -> None:
    """`eventually` at the pace of processes (every 0.25 s), failing with what it waited for."""
    try:
        await eventually(predicate, timeout, every=0.25)
    except AssertionError:
        raise AssertionError(f"timed out waiting for {what}") from None
