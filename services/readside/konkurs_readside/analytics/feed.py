"""The analytics feed's producer: every service's events in, facts out on
`konkurs.analytics.v1`, exactly once in effect.

Delivery is at least once, and duplicates are harmless by design: a poll's facts are all
acknowledged by the broker (idempotent producer, `acks=all`) before the poll's source
offsets are committed, so a crash in between produces them again on restart, with the same
ids and the same bytes (`konkurs_readside.analytics.facts`). A consumer that deduplicates by
`ce_id` therefore sees every fact once and misses none.

The consumer group spreads the source partitions over the instances. Some facts need an
earlier event of their stream (`facts.Memory`); a stream lives on one partition, so the
instance that owns a partition of those topics reads it from the beginning on assignment,
learning only, up to the group's committed offset, and producing from there on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.structs import ConsumerRecord, TopicPartition

from konkurs_platform.envelope import EnvelopeError, decode_envelope
from konkurs_platform.kafka import make_consumer, make_producer
from konkurs_platform.settings import Settings
from konkurs_platform.upcast import upcast
from konkurs_readside.analytics.facts import LEARNED_FROM, Fact, Memory, facts_of
from konkurs_readside.positions import event_topics

log = logging.getLogger(__name__)


def group_id(settings: Settings) -> str:
    """The feed's consumer group: its committed offsets are where the feed stands."""
    return f"{settings.topic_prefix}.readside.analytics"


class Feed:
    """Consumes every event topic and produces the facts, until `stop` is set."""

    def __init__(self, settings: Settings, *, max_records: int = 500) -> None:
        self.settings = settings
        self.max_records = max_records
        self.learned_topics = {settings.events_topic(s) for s in LEARNED_FROM}
        self.memory = Memory()
        # Per assigned partition: the first offset whose facts are still to be produced
        # (the group's committed offset when it was assigned).
        self.resume: dict[TopicPartition, int] = {}
        self.produced = 0

    async def run(self, stop: asyncio.Event, *, max_backoff: float = 5.0) -> None:
        """Produce until `stop` is set; after a failure (the broker away) start again from
        the committed offsets, with a fresh memory."""
        backoff = 0.2
        while not stop.is_set():
            try:
                await self._consume(stop)
            except Exception as exc:
                log.warning("analytics feed failed, restarting", extra={"error": repr(exc)})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, max_backoff)
            else:
                backoff = 0.2

    async def _consume(self, stop: asyncio.Event) -> None:
        self.memory, self.resume = Memory(), {}
        consumer = make_consumer(
            self.settings, group_id=group_id(self.settings), max_poll_records=self.max_records
        )
        consumer.subscribe(event_topics(self.settings), listener=_Rewind(self, consumer))
        producer = make_producer(self.settings)
        try:
            await producer.start()
            await consumer.start()
            while not stop.is_set():
                polled = await consumer.getmany(timeout_ms=200, max_records=self.max_records)
                batches = {tp: records for tp, records in polled.items() if records}
                if batches:
                    await self._produce(consumer, producer, batches)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()
            with contextlib.suppress(Exception):
                await producer.stop()

    async def _produce(
        self,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        batches: dict[TopicPartition, list[ConsumerRecord]],
    ) -> None:
        sent = []
        for tp, records in batches.items():
            resume = self.resume.get(tp, 0)
            for rec in records:
                for fact in self._facts(rec):
                    # Below the committed offset the facts are out already: learn only.
                    if rec.offset >= resume:
                        sent.append(
                            await producer.send(
                                self._topic, fact.value(), key=fact.key(), headers=fact.headers()
                            )
                        )
        # Every fact acknowledged before an offset moves past its source event.
        await asyncio.gather(*sent)
        self.produced += len(sent)
        ends = {tp: records[-1].offset + 1 for tp, records in batches.items()}
        # Never commit a partition back to where its relearning stands.
        ahead = {tp: end for tp, end in ends.items() if end > self.resume.get(tp, 0)}
        if ahead:
            await consumer.commit(ahead)

    @property
    def _topic(self) -> str:
        return self.settings.analytics_topic

    def _facts(self, rec: ConsumerRecord) -> list[Fact]:
        try:
            return facts_of(upcast(decode_envelope(rec.value)), self.memory)
        except (EnvelopeError, ValueError) as exc:
            # The projector dead-letters the same record with its reason; the feed goes on.
            log.warning(
                "event left out of the analytics feed",
                extra={"topic": rec.topic, "offset": rec.offset, "error": str(exc)},
            )
            return []


class _Rewind(ConsumerRebalanceListener):  # type: ignore[misc]
    """On assignment: where each partition's facts resume, and the partitions the memory
    learns from read again from their beginning."""

    def __init__(self, feed: Feed, consumer: AIOKafkaConsumer) -> None:
        self.feed, self.consumer = feed, consumer

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # A poll whose partitions are revoked while its facts are produced fails to commit;
        # the feed then starts again from the committed offsets and produces those facts
        # again, with the same ids.
        for tp in revoked:
            self.feed.resume.pop(tp, None)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        for tp in assigned:
            committed = await self.consumer.committed(tp)
            self.feed.resume[tp] = committed or 0
            if tp.topic in self.feed.learned_topics:
                self.consumer.seek(tp, 0)


async def run_feed(settings: Settings, stop: asyncio.Event) -> None:
    """Produce the analytics feed until `stop` is set."""
    await Feed(settings).run(stop)
