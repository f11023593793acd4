"""Reactions: another service's event causes an effect here, exactly once.

A reaction consumes a topic (in a faust agent, see `worker.py`) and, for each event it has an
effect for, runs one transaction that claims the event in the inbox and performs the effect.
The effect has one of two shapes:

- a row (`Effect`): the service keeps what it learned, as scoring keeps each call's
  methodology; the inbox alone makes a redelivery harmless;
- a command (`CommandReaction`): the event becomes a command on one of the service's own
  aggregates, decided and appended with the expected version by the platform's
  `CommandHandler`. The new events carry the source event's id as causation and its
  correlation id, and their ids are derived from the source event and the command.

Faust delivers at least once: after a crash or a rebalance an event arrives again, perhaps
while its first delivery is still being processed by another worker. What keeps that to one
effect, in the order it comes into play:

1. The inbox row (consumer, event id) is inserted first in the effect's transaction. A
   second transaction claiming the same event waits on that uncommitted row, and once the
   first commits its claim finds the row and skips the effect; if the first rolls back, the
   second proceeds. So two racing workers are serialised, and a redelivery after a commit is
   skipped.
2. Events appended in reaction carry derived ids, unique in the event store. Should the
   effect be stored while its inbox row is not (the effect written by another path, or
   inbox rows pruned), the append fails on the event id: that is the effect already done,
   so the claim commits and nothing is appended twice.
3. A lost race against another writer of the target stream (`ConcurrencyError`) rolls the
   whole transaction back, claim included, and the event is tried again from the start: the
   retry reloads the stream and decides on what is there now. If the other writer was this
   very reaction, the retry's claim finds the inbox row (1.) and stops: already done.

A command the domain refuses (`DomainError`) is a business outcome, not a crash, so it is
never retried: the service may record it as a command of its own (`refused`, e.g. an event
that says why), otherwise the source record goes to the dead-letter topic with the reason.
Either way the claim commits. An unreachable database is retried until it is back, and
nothing else dead-letters a good event.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any, Generic, TypeVar

import asyncpg
import faust
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from konkurs_platform.db import DATABASE_UNAVAILABLE, Connection
from konkurs_platform.deadletter import dead_letter
from konkurs_platform.domain import DomainError
from konkurs_platform.envelope import (
    HEADER_EVENT_TYPE,
    Actor,
    Envelope,
    EnvelopeError,
    decode_envelope,
    derive_event_id,
)
from konkurs_platform.eventstore import ConcurrencyError, DuplicateEventError, Metadata, NewEvent
from konkurs_platform.handler import CommandHandler, EventCodec
from konkurs_platform.inbox import Inbox
from konkurs_platform.kafka import make_producer
from konkurs_platform.logs import bind_correlation_id
from konkurs_platform.settings import Settings
from konkurs_platform.upcast import upcast

log = logging.getLogger(__name__)

C = TypeVar("C")
S = TypeVar("S")
E = TypeVar("E")

Effect = Callable[[Connection, Envelope], Awaitable[None]]
"""What a reaction does with one event, inside the transaction that claims it."""


@dataclass(frozen=True)
class Caused(Generic[C]):
    """The command an event causes, and the stream (aggregate) it is decided on."""

    stream_id: str
    command: C


class CommandReaction(Generic[C, S, E]):
    """An `Effect` that turns an event into a command on one of the service's aggregates.

    `build` makes the command from the event (None: this event causes nothing). `refused`,
    where the service has one, makes the command that records a refusal of the first (its
    events are the record); without it a refusal goes to the dead-letter topic. `consumer`
    is the name the reaction runs under in `react` (its inbox): the derived ids include it.
    """

    def __init__(
        self,
        handler: CommandHandler[C, S, E],
        build: Callable[[Envelope], Caused[C] | None],
        *,
        consumer: str,
        refused: Callable[[Envelope, Caused[C], DomainError], Caused[C]] | None = None,
    ) -> None:
        self.handler = handler
        self.build = build
        self.consumer = consumer
        self.refused = refused
        # The reaction acts as the system; who caused it is one `causation_id` away.
        self.actor = Actor(subject=f"system:{consumer}", role="system")

    async def __call__(self, conn: Connection, source: Envelope) -> None:
        caused = self.build(source)
        if caused is None:
            return
        if self.refused is None:
            await self._execute(conn, source, caused)
            return
        try:
            # A savepoint, so that what a refused command wrote is undone, not the claim.
            async with conn.transaction():
                await self._execute(conn, source, caused)
        except DomainError as refusal:
            await self._execute(conn, source, self.refused(source, caused, refusal))

    async def _execute(self, conn: Connection, source: Envelope, caused: Caused[C]) -> None:
        meta = Metadata(
            actor=self.actor,
            correlation_id=source.correlation_id,
            causation_id=str(source.event_id),
            # What a historical (imported) event causes is history too: it happened when its
            # cause did, not when a worker got round to it.
            imported=source.imported,
        )
        # The event ids depend on the source event, this reaction and the target stream,
        # never on the attempt: a retried reaction makes the same ids (see 2. above).
        codec = _DerivedIds(
            self.handler.codec,
            source.event_id,
            f"{self.consumer}/{caused.stream_id}",
            occurred_at=source.occurred_at if source.imported else None,
        )
        # The same store, decider and timers: a caused command schedules as any other does.
        handler = self.handler.with_codec(codec)
        await handler.execute(caused.stream_id, caused.command, meta, conn=conn)


class _DerivedIds(Generic[E]):
    """A codec that gives the events of one execution their derived ids, in order.

    Made fresh for each execution: the handler encodes the decided events once, in order, so
    the n-th encoded event is the n-th event of the reaction.
    """

    def __init__(
        self,
        codec: EventCodec[E],
        cause: uuid.UUID,
        key: str,
        *,
        occurred_at: datetime | None = None,
    ) -> None:
        self._codec = codec
        self._cause = cause
        self._key = key
        self._occurred_at = occurred_at
        self._count = 0

    def encode(self, event: E) -> NewEvent:
        encoded = self._codec.encode(event)
        new = replace(
            encoded,
            event_id=derive_event_id(self._cause, self._key, self._count),
            occurred_at=self._occurred_at or encoded.occurred_at,
        )
        self._count += 1
        return new

    def decode(self, envelope: Envelope) -> E:
        return self._codec.decode(envelope)


async def react(
    events: AsyncIterable[faust.EventT[Any]],
    *,
    settings: Settings,
    pool: asyncpg.Pool,
    schema: str,
    consumer: str,
    effects: Mapping[str, Effect],
) -> None:
    """Run the effect for each event type in `effects`, exactly once per event id.

    Event types without an effect are skipped from the Kafka header alone, without decoding.
    Undecodable events, refused commands and effects that fail go to the dead-letter topic.
    Make `pool` in the agent with `min_size=0`: it opens no connection up front, so a
    database that is down when the worker starts is waited out like a later outage.
    """
    inbox = Inbox(schema, consumer)
    parking = _Parking(settings, consumer)
    try:
        async for event in events:
            raw_type = dict(event.headers or {}).get(HEADER_EVENT_TYPE)
            header = (
                None
                if raw_type is None
                else raw_type.decode(errors="replace")
                if isinstance(raw_type, bytes)
                else str(raw_type)
            )
            # The header lets most events be skipped undecoded; without one, the envelope
            # itself says what the event is.
            if header is not None and header not in effects:
                continue
            park = partial(parking.park, event)
            try:
                # Older shapes are read as the current one (UpcastError is an EnvelopeError).
                envelope = upcast(decode_envelope(event.value))
                if header is not None and header != envelope.event_type:
                    # Never apply an event as what its label claims: a mislabelled
                    # CallAnnounced would be read as the CallClosed its header names.
                    await park(
                        f"event-type header {header[:200]!r} does not match the envelope's "
                        f"{envelope.event_type!r}"
                    )
                    continue
                effect = effects.get(envelope.event_type)
                if effect is None:
                    continue
                # The effect's logs (and any events it appends) carry the cause's correlation.
                with bind_correlation_id(envelope.correlation_id):
                    await _react_retrying(pool, inbox, effect, envelope, park)
            except EnvelopeError as exc:
                await park(str(exc))
            except Exception as exc:
                await park(f"{type(exc).__name__}: {exc}")
    finally:
        await parking.stop()


class _Parking:
    """The dead-letter producer of one consumer, started at its first use."""

    def __init__(self, settings: Settings, consumer: str) -> None:
        self.settings = settings
        self.consumer = consumer
        self.producer: AIOKafkaProducer | None = None

    async def park(self, event: faust.EventT[Any], reason: str, max_backoff: float = 5.0) -> None:
        """Publish `event`'s record to the dead-letter topic, waiting out a broker outage: the
        record must be parked before its offset (or its inbox claim) moves on."""
        message = event.message
        headers = [
            (k, v if isinstance(v, bytes) else str(v).encode())
            for k, v in (event.headers or {}).items()
        ]
        backoff = 0.2
        while True:
            try:
                if self.producer is None:
                    producer = make_producer(self.settings)
                    try:
                        await producer.start()
                    except KafkaError:
                        await producer.stop()
                        raise
                    self.producer = producer
                await dead_letter(
                    self.producer,
                    self.settings.deadletter_topic,
                    consumer=self.consumer,
                    topic=message.topic,
                    partition=message.partition,
                    offset=message.offset,
                    key=message.key,
                    value=message.value,
                    headers=headers,
                    reason=reason,
                )
                return
            except KafkaError as exc:
                log.warning(
                    "broker unreachable, retrying the dead letter",
                    extra={"consumer": self.consumer, "error": repr(exc)},
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, max_backoff)

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()


async def _react_retrying(
    pool: asyncpg.Pool,
    inbox: Inbox,
    effect: Effect,
    envelope: Envelope,
    park: Callable[[str], Awaitable[None]],
    max_backoff: float = 5.0,
) -> None:
    """React, retrying while the database is unreachable (a good event waits for the database
    rather than going to the dead-letter topic; offsets do not move meanwhile), and after a
    lost race on the target stream (see 3. in the module's docstring)."""
    backoff = 0.2
    while True:
        try:
            await _react_once(pool, inbox, effect, envelope, park)
            return
        except (ConcurrencyError, asyncpg.exceptions.TransactionRollbackError) as exc:
            # A deadlock or serialization failure between two reactions is a race too.
            log.info(
                "lost a race, reacting again",
                extra={"consumer": inbox.consumer, "error": repr(exc)},
            )
        except DATABASE_UNAVAILABLE as exc:
            log.warning(
                "database unreachable, retrying",
                extra={"consumer": inbox.consumer, "error": repr(exc)},
            )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, max_backoff)


async def _react_once(
    db: asyncpg.Pool,
    inbox: Inbox,
    effect: Effect,
    envelope: Envelope,
    park: Callable[[str], Awaitable[None]],
) -> None:
    extra = {"consumer": inbox.consumer, "event_id": str(envelope.event_id)}
    async with db.acquire() as conn, conn.transaction():
        if not await inbox.claim(conn, envelope.event_id):
            log.info("duplicate delivery skipped", extra=extra)
            return
        try:
            # A savepoint: a refusal or a duplicate undoes the effect's writes, not the claim.
            async with conn.transaction():
                await effect(conn, envelope)
        except DuplicateEventError:
            log.info("effect already stored, claim recorded", extra=extra)
        except DomainError as refusal:
            # Parked before the claim commits: a crash in between parks it again on the
            # redelivery (twice rather than never); otherwise it is parked once.
            await park(f"refused: {refusal}")
