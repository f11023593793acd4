"""Faust workers: one faust app per service, agents that react to other services' events.

Agents stay thin: decode the envelope, then call the service's reaction inside a
transaction that also claims the event in the inbox. Faust delivers at least once (it
commits offsets after processing); the inbox turns that into exactly one effect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Any

import asyncpg
import faust
from aiokafka import AIOKafkaProducer

from konkurs_platform.db import Connection
from konkurs_platform.deadletter import dead_letter
from konkurs_platform.envelope import HEADER_EVENT_TYPE, Envelope, EnvelopeError, decode_envelope
from konkurs_platform.inbox import Inbox
from konkurs_platform.kafka import make_producer
from konkurs_platform.logs import bind_correlation_id
from konkurs_platform.settings import Settings

log = logging.getLogger(__name__)

Reaction = Callable[[Connection, Envelope], Awaitable[None]]


def create_faust_app(settings: Settings, service: str, **overrides: Any) -> faust.App:
    """The service's faust app. Its web server is off: the service's FastAPI serves health."""
    config: dict[str, Any] = {
        "broker": f"kafka://{settings.kafka_bootstrap}",
        "value_serializer": "raw",
        "key_serializer": "raw",
        "web_enabled": False,
        "topic_partitions": settings.partitions,
        "topic_replication_factor": 1,
        "consumer_auto_offset_reset": "earliest",
        "producer_acks": -1,
        "broker_commit_every": 100,
        "broker_commit_interval": 1.0,
        # A killed worker's partitions move to the others after 10 s, not faust's 60 s.
        "broker_session_timeout": 10.0,
        "broker_heartbeat_interval": 3.0,
        "datadir": str(settings.home / "faust" / service),
    }
    config.update(overrides)
    # faust creates only the last level of its data directory itself.
    (settings.home / "faust").mkdir(parents=True, exist_ok=True)
    return faust.App(f"{settings.topic_prefix}.{service}", **config)


def events_topic(app: faust.App, settings: Settings, service: str) -> faust.TopicT:
    """The raw-bytes topic of another service's events."""
    return app.topic(
        settings.events_topic(service),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
    )


async def react_with_inbox(
    events: AsyncIterable[faust.EventT[Any]],
    *,
    settings: Settings,
    pool: Callable[[], Awaitable[asyncpg.Pool]],
    schema: str,
    consumer: str,
    reactions: dict[str, Reaction],
) -> None:
    """Run the reaction for each event type in `reactions`, exactly once per event id.

    Event types without a reaction are skipped from the Kafka header alone, without decoding.
    Undecodable events and reactions that fail go to the dead-letter topic.
    """
    inbox = Inbox(schema, consumer)
    parking: AIOKafkaProducer | None = None
    try:
        async for event in events:
            headers = dict(event.headers or {})
            raw_type = headers.get(HEADER_EVENT_TYPE, b"")
            event_type = raw_type.decode() if isinstance(raw_type, bytes) else str(raw_type)
            reaction = reactions.get(event_type)
            if reaction is None:
                continue
            try:
                envelope = decode_envelope(event.value)
                # The reaction's logs (and any events it appends) carry the cause's correlation.
                with bind_correlation_id(envelope.correlation_id):
                    await _react_once_retrying(pool, inbox, reaction, envelope, consumer)
            except Exception as exc:
                reason = (
                    str(exc) if isinstance(exc, EnvelopeError) else f"{type(exc).__name__}: {exc}"
                )
                if parking is None:
                    parking = make_producer(settings)
                    await parking.start()
                message = event.message
                await dead_letter(
                    parking,
                    settings.deadletter_topic,
                    consumer=consumer,
                    topic=message.topic,
                    partition=message.partition,
                    offset=message.offset,
                    key=message.key,
                    value=message.value,
                    headers=[
                        (k, v if isinstance(v, bytes) else str(v).encode())
                        for k, v in headers.items()
                    ],
                    reason=reason,
                )
    finally:
        if parking is not None:
            await parking.stop()


async def _react_once_retrying(
    pool: Callable[[], Awaitable[asyncpg.Pool]],
    inbox: Inbox,
    reaction: Reaction,
    envelope: Envelope,
    consumer: str,
    max_backoff: float = 5.0,
) -> None:
    """React, retrying while the database is unreachable: a good event waits for the
    database rather than going to the dead-letter topic. Offsets do not move meanwhile."""
    backoff = 0.2
    while True:
        try:
            await _react_once(await pool(), inbox, reaction, envelope, consumer)
            return
        except (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError) as exc:
            log.warning(
                "database unreachable, retrying", extra={"consumer": consumer, "error": repr(exc)}
            )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, max_backoff)


async def _react_once(
    db: asyncpg.Pool, inbox: Inbox, reaction: Reaction, envelope: Envelope, consumer: str
) -> None:
    async with db.acquire() as conn, conn.transaction():
        if await inbox.claim(conn, envelope.event_id):
            await reaction(conn, envelope)
        else:
            log.info(
                "duplicate delivery skipped",
                extra={"consumer": consumer, "event_id": str(envelope.event_id)},
            )
