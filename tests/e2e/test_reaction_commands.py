"""Platform reactions whose effect is a command, with real faust workers, broker and database.

Scoring has no command of its own yet, so a test-only aggregate (a tally) takes the part:
each source event ("a ping") causes a `Tally` command on one of a few tally streams, decided
on the current state and appended with the expected version. Whatever happens to the
workers (a redelivery, a SIGKILL mid-batch, a rebalance between two of them), afterwards
every source event has caused exactly one event, whose causation is that source event.

The workers run as child processes, as `konkurs worker` runs them in production: this very
file, run as a script (`python test_reaction_commands.py GROUP TOPIC CONSUMER`), is one.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import faust
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from konkurs_ops import stack
from konkurs_ops.processes import Process, free_port, service_env
from konkurs_platform.db import create_pool
from konkurs_platform.deadletter import HEADER_CONSUMER, HEADER_REASON
from konkurs_platform.domain import Conflict, Decider, DomainError
from konkurs_platform.envelope import (
    HEADER_EVENT_TYPE,
    Actor,
    Envelope,
    derive_event_id,
    encode_envelope,
)
from konkurs_platform.eventstore import EventStore, NewEvent
from konkurs_platform.handler import CommandHandler
from konkurs_platform.reaction import Caused, CommandReaction, react
from konkurs_platform.settings import Settings
from konkurs_platform.worker import create_faust_app

pytestmark = pytest.mark.integration

SCHEMA = "scoring"
# A ping causes a tally; a ping of the second kind has its refusal recorded as an event.
PINGED = "konkurs.test.v1.Pinged"
PINGED_NOTED = "konkurs.test.v1.PingedWithRefusalNoted"
TALLIED = "konkurs.test.v1.Tallied"
REFUSAL_NOTED = "konkurs.test.v1.RefusalNoted"


# --- the test-only aggregate ------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    refuse: bool


@dataclass(frozen=True)
class NoteRefusal:
    code: str


@dataclass(frozen=True)
class Tallied:
    n: int


@dataclass(frozen=True)
class RefusalNoted:
    code: str


def decide(command: Tally | NoteRefusal, count: int) -> Sequence[Tallied | RefusalNoted]:
    if isinstance(command, NoteRefusal):
        return [RefusalNoted(command.code)]
    if command.refuse:
        raise Conflict("tally_refused", "this ping asks to be refused")
    return [Tallied(count + 1)]


def evolve(count: int, event: Tallied | RefusalNoted) -> int:
    return event.n if isinstance(event, Tallied) else count


TALLY: Decider[Tally | NoteRefusal, int, Tallied | RefusalNoted] = Decider(0, decide, evolve)


class TallyCodec:
    def encode(self, event: Tallied | RefusalNoted) -> NewEvent:
        if isinstance(event, Tallied):
            return NewEvent(TALLIED, str(event.n).encode())
        return NewEvent(REFUSAL_NOTED, event.code.encode())

    def decode(self, envelope: Envelope) -> Tallied | RefusalNoted:
        if envelope.event_type == TALLIED:
            return Tallied(int(envelope.payload))
        return RefusalNoted(envelope.payload.decode())


def tally_of(ping: Envelope) -> Caused[Tally | NoteRefusal]:
    """A ping's payload is `<tally stream>|count` or `<tally stream>|refuse`."""
    stream_id, _, kind = ping.payload.decode().partition("|")
    return Caused(stream_id, Tally(refuse=kind == "refuse"))


def note_refusal(
    ping: Envelope, caused: Caused[Tally | NoteRefusal], refusal: DomainError
) -> Caused[Tally | NoteRefusal]:
    return Caused(caused.stream_id, NoteRefusal(refusal.code))


def create_worker(settings: Settings, group: str, topic: str, consumer: str) -> faust.App:
    """A faust app (consumer group `<prefix>.<group>`) whose agent tallies the pings."""
    app = create_faust_app(settings, group)
    pings = app.topic(
        topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )

    @app.agent(pings, name="pings")
    async def tally_pings(stream: faust.StreamT[bytes]) -> None:
        pool = await create_pool(settings, min_size=0, max_size=2)
        handler = CommandHandler(
            EventStore(pool, SCHEMA, settings.events_topic(SCHEMA)), TALLY, TallyCodec()
        )
        await react(
            stream.events(),
            settings=settings,
            pool=pool,
            schema=SCHEMA,
            consumer=consumer,
            effects={
                PINGED: CommandReaction(handler, tally_of, consumer=consumer),
                PINGED_NOTED: CommandReaction(
                    handler, tally_of, consumer=consumer, refused=note_refusal
                ),
            },
        )

    return app


# --- running workers and watching what they did ------------------------------------------


@dataclass(frozen=True)
class Run:
    """One test's topic, consumer (inbox) name and tally streams."""

    settings: Settings
    topic: str
    consumer: str
    tallies: tuple[str, ...]
    home: Path
    tag: str

    def worker(self, group: str, **env: str) -> WorkerProcess:
        """A worker in consumer group `group` (of this test); `env` overrides its settings."""
        return WorkerProcess(self, self.group(group), env)

    def group(self, name: str) -> str:
        return f"reaction-{name}-{self.tag}"

    def group_id(self, name: str) -> str:
        """The Kafka group id faust gives group `name` (its app id)."""
        return f"{self.settings.topic_prefix}.{self.group(name)}"


class WorkerProcess(Process):
    """This file run as a faust worker in a child process."""

    def __init__(self, run: Run, group: str, env: dict[str, str]) -> None:
        env = service_env(run.settings, run.home, **env)
        super().__init__(f"{group}-{uuid.uuid4().hex[:4]}", [], env, run.home)
        self.command = [sys.executable, __file__, group, run.topic, run.consumer]

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(self.command, env=self.env, stdout=out, stderr=out)


@pytest.fixture
def run(settings: Settings, tmp_path: Path) -> Iterator[Run]:
    tag = uuid.uuid4().hex[:8]
    # Topics of this test's own (dead letters included), under the session's prefix.
    own = replace(settings, topic_prefix=f"{settings.topic_prefix}.rx{tag}")
    topic = own.topic("pings")
    stack.create_topics(own, [topic, own.deadletter_topic])
    yield Run(
        own,
        topic,
        consumer=f"test.reaction-{tag}",
        tallies=tuple(f"tally-{tag}-{n}" for n in range(3)),
        home=tmp_path,
        tag=tag,
    )


def ping(run: Run, n: int, kind: str = "count", event_type: str = PINGED) -> Envelope:
    now = datetime.now(UTC)
    return Envelope(
        event_id=uuid.uuid4(),
        event_type=event_type,
        stream_id=f"ping-{n}",
        stream_version=1,
        occurred_at=now,
        recorded_at=now,
        actor=Actor(subject="pinger", role="operator"),
        correlation_id=str(uuid.uuid4()),
        causation_id=None,
        schema_version=1,
        payload=f"{run.tallies[n % len(run.tallies)]}|{kind}".encode(),
    )


async def publish(run: Run, pings: Sequence[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=run.settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for p in pings:
            await producer.send(
                run.topic,
                encode_envelope(p),
                key=p.stream_id.encode(),
                headers=[(HEADER_EVENT_TYPE, p.event_type.encode())],
            )
        await producer.flush()
    finally:
        await producer.stop()


async def effects(pool: asyncpg.Pool, run: Run) -> dict[str, list[asyncpg.Record]]:
    """The events the reaction appended, by the id of the ping that caused them."""
    rows = await pool.fetch(
        f"SELECT event_id, event_type, stream_id, version, correlation_id, causation_id "
        f"FROM {SCHEMA}.events WHERE actor_subject = $1 ORDER BY position",
        f"system:{run.consumer}",
    )
    out: dict[str, list[asyncpg.Record]] = {}
    for row in rows:
        out.setdefault(row["causation_id"], []).append(row)
    return out


async def all_committed(run: Run, group: str) -> bool:
    """Whether `group` has committed every partition of the topic up to its end."""
    admin = AIOKafkaAdminClient(bootstrap_servers=run.settings.kafka_bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=run.settings.kafka_bootstrap)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(run.group_id(group))
        parts = [TopicPartition(run.topic, p) for p in range(run.settings.partitions)]
        ends = await consumer.end_offsets(parts)
    finally:
        await consumer.stop()
        await admin.close()
    return all(
        ends[tp] == 0 or (tp in committed and committed[tp].offset >= ends[tp]) for tp in parts
    )


async def dead_letters(run: Run) -> list[bytes]:
    """The reasons of the records parked on this test's dead-letter topic."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=run.settings.kafka_bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    reasons: list[bytes] = []
    try:
        topic = run.settings.deadletter_topic
        parts = [TopicPartition(topic, p) for p in range(run.settings.partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    headers = dict(record.headers)
                    assert headers[HEADER_CONSUMER] == run.consumer.encode()
                    reasons.append(headers[HEADER_REASON])
    finally:
        await consumer.stop()
    return reasons


# Not tests/helpers.wait_until: this file is also run as the worker's script, where the tests
# directory is not on the path.
async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.25)


def assert_one_effect_each(
    run: Run, found: dict[str, list[asyncpg.Record]], pings: Sequence[Envelope]
) -> None:
    """Every ping caused exactly one event, whose id derives from the ping and the command,
    with the ping's correlation; in each tally the versions run 1, 2, 3... without a gap."""
    assert sorted(found) == sorted(str(p.event_id) for p in pings)
    by_tally: dict[str, list[int]] = {}
    for p in pings:
        [event] = found[str(p.event_id)]
        assert event["correlation_id"] == p.correlation_id
        key = f"{run.consumer}/{event['stream_id']}"
        assert event["event_id"] == derive_event_id(p.event_id, key, 0)
        by_tally.setdefault(event["stream_id"], []).append(event["version"])
    for versions in by_tally.values():
        assert sorted(versions) == list(range(1, len(versions) + 1))


# --- the tests ---------------------------------------------------------------------------


async def test_a_redelivered_record_has_no_second_effect(run: Run, pool: asyncpg.Pool) -> None:
    pings = [ping(run, n) for n in range(30)]
    first = run.worker("first")
    first.start()
    try:
        await publish(run, pings)
        await wait_until(lambda: _has(pool, run, 30), 90, "a tally for every ping")
        await wait_until(lambda: all_committed(run, "first"), 60, "the first group's offsets")
    finally:
        first.stop()
    # A group of its own, with the same inbox: the very same records (topic, partition,
    # offset) are delivered again, as after a crash before the offsets were committed.
    again = run.worker("again")
    again.start()
    try:
        await wait_until(lambda: all_committed(run, "again"), 90, "every record redelivered")
    finally:
        again.stop()
    assert_one_effect_each(run, await effects(pool, run), pings)
    assert await pool.fetchval(
        f"SELECT count(*) FROM {SCHEMA}.inbox WHERE consumer = $1", run.consumer
    ) == len(pings)


async def test_every_ping_causes_one_tally_after_a_sigkill_mid_batch(
    run: Run, pool: asyncpg.Pool
) -> None:
    pings = [ping(run, n) for n in range(300)]
    worker = run.worker("killed")
    worker.start()
    try:
        await publish(run, pings)
        await wait_until(lambda: _has(pool, run, 1), 90, "the first tallies")
        worker.kill()
        done_before = len(await effects(pool, run))
        assert done_before < len(pings), "the batch ended before the kill; nothing was proved"
        worker.start()
        await wait_until(lambda: _has(pool, run, len(pings)), 120, "a tally for every ping")
        await wait_until(lambda: all_committed(run, "killed"), 60, "the group's offsets")
    finally:
        worker.stop()
    assert_one_effect_each(run, await effects(pool, run), pings)


async def test_two_workers_in_one_group_tally_each_ping_once_through_a_rebalance(
    run: Run, pool: asyncpg.Pool
) -> None:
    pings = [ping(run, n) for n in range(300)]
    a, b = run.worker("pair"), run.worker("pair")
    a.start()
    try:
        await publish(run, pings[:150])
        await wait_until(lambda: _has(pool, run, 10), 90, "the first worker at work")
        # The second member joins while the first is mid-batch: partitions move with
        # offsets not yet committed, so some pings reach both workers.
        b.start()
        await publish(run, pings[150:])
        await wait_until(lambda: _has(pool, run, len(pings)), 180, "a tally for every ping")
        await wait_until(lambda: all_committed(run, "pair"), 60, "the group's offsets")
        assert a.proc is not None and b.proc is not None
        assert (a.proc.poll(), b.proc.poll()) == (None, None), "a worker died in the rebalance"
    finally:
        a.stop()
        b.stop()
    assert_one_effect_each(run, await effects(pool, run), pings)


async def test_a_refused_command_is_recorded_once_and_not_retried(
    run: Run, pool: asyncpg.Pool
) -> None:
    refused = ping(run, 0, "refuse")
    noted = ping(run, 0, "refuse", event_type=PINGED_NOTED)
    after = ping(run, 0)  # same tally, same partition: processing goes on past the refusals
    pings = [refused, noted, after]
    worker = run.worker("refusals")
    worker.start()
    try:
        await publish(run, pings)
        await wait_until(lambda: all_committed(run, "refusals"), 90, "every ping processed")
        # Delivered again: neither refusal is parked or noted a second time.
        await publish(run, pings)
        await wait_until(lambda: all_committed(run, "refusals"), 90, "every copy processed")
    finally:
        worker.stop()
    found = await effects(pool, run)
    assert sorted(found) == sorted([str(noted.event_id), str(after.event_id)])
    [note] = found[str(noted.event_id)]
    assert (note["event_type"], note["version"]) == (REFUSAL_NOTED, 1)
    [tally] = found[str(after.event_id)]
    assert (tally["event_type"], tally["version"]) == (TALLIED, 2)
    assert await dead_letters(run) == [b"refused: tally_refused: this ping asks to be refused"]


async def test_a_database_outage_is_waited_out_not_dead_lettered(
    run: Run, pool: asyncpg.Pool
) -> None:
    pings = [ping(run, n) for n in range(5)]
    nowhere = f"postgresql://konkurs@127.0.0.1:{free_port()}/konkurs"
    cut_off = run.worker("outage", DATABASE_URL=nowhere)
    cut_off.start()
    try:
        await publish(run, pings)
        await wait_until(
            lambda: _logged(cut_off, "database unreachable, retrying"), 90, "the retries"
        )
        assert not await all_committed(run, "outage"), "offsets moved past unprocessed pings"
    finally:
        cut_off.stop()
    worker = run.worker("outage")
    worker.start()
    try:
        await wait_until(lambda: _has(pool, run, len(pings)), 90, "a tally for every ping")
        await wait_until(lambda: all_committed(run, "outage"), 60, "the group's offsets")
    finally:
        worker.stop()
    assert_one_effect_each(run, await effects(pool, run), pings)
    assert await dead_letters(run) == []


async def _logged(process: Process, text: str) -> bool:
    return process.log.exists() and text in process.log.read_text(errors="replace")


async def _has(pool: asyncpg.Pool, run: Run, n: int) -> bool:
    return len(await effects(pool, run)) >= n


if __name__ == "__main__":
    from faust.worker import Worker

    group_name, topic_name, consumer_name = sys.argv[1:4]
    app = create_worker(Settings.from_env(os.environ.copy()), group_name, topic_name, consumer_name)
    sys.argv = sys.argv[:1]
    Worker(app, loglevel="info", quiet=True).execute_from_commandline()
