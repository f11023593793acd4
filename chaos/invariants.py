"""The invariants a chaos run must leave intact, checked once the system is quiet again.

Each check counts what it finds as lost (something acknowledged or stored that is missing
downstream), duplicated (something that took effect more than once) or diverged (two copies
of the same facts that disagree), and notes the first examples; a run passes only when all
three are zero.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from chaos.load import Command, Outcome
from konkurs_platform.db import Connection
from konkurs_platform.envelope import EnvelopeError, decode_envelope
from konkurs_platform.kafka import make_consumer
from konkurs_platform.settings import Settings
from konkurs_platform.spec import discover
from konkurs_readside.audit import verify
from konkurs_readside.positions import end_offsets
from konkurs_readside.projections import PROJECTIONS
from konkurs_readside.rebuild import rebuild
from konkurs_scoring.adapters.intake_events import (
    CALL_AMENDED,
    CALL_ANNOUNCED,
    CALL_CLOSED,
    call_closing,
    call_terms,
)

EXAMPLES = 5
_NUMBER = re.compile(r"^(?P<region>KZ-\d\d)-(?P<year>\d{4})-(?P<n>\d+)$")


@dataclass
class Verdict:
    """What the checks found."""

    counts: Counter[str] = field(default_factory=Counter)
    lost: Counter[str] = field(default_factory=Counter)
    duplicated: Counter[str] = field(default_factory=Counter)
    diverged: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def violation(self, kind: Counter[str], check: str, example: str, n: int = 1) -> None:
        kind[check] += n
        if sum(1 for e in self.examples if e.startswith(check)) < EXAMPLES:
            self.examples.append(f"{check}: {example}")

    @property
    def ok(self) -> bool:
        return not (self.lost.total() or self.duplicated.total() or self.diverged.total())


# --- acknowledged commands ----------------------------------------------------------------


async def check_commands(conn: Connection, commands: list[Command], v: Verdict) -> None:
    """An acknowledged command is in intake's event store exactly once, at the stream and
    version its answer named; any other command at most once, and a refused one not at all."""
    rows = await conn.fetch(
        "SELECT correlation_id, event_type, stream_id, version FROM intake.events "
        "WHERE correlation_id LIKE 'chaos-%'"
    )
    found: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    for r in rows:
        found[(r["correlation_id"], r["event_type"])].append((r["stream_id"], r["version"]))
    numbers = {
        f"application-{r['application_id']}": r["registration_number"]
        for r in await conn.fetch(
            "SELECT application_id::text, registration_number FROM intake.applications_index"
        )
    }
    for c in commands:
        events = found.get((c.correlation_id, c.event_type), [])
        v.counts[f"commands {c.outcome}"] += 1
        if len(events) > 1:
            v.violation(v.duplicated, "commands", f"{c.kind} {c.correlation_id}: {events}")
        elif c.outcome is Outcome.ACKED:
            if not events:
                v.violation(v.lost, "commands", f"acknowledged {c.kind} {c.correlation_id}")
            elif events[0] != (c.stream_id, c.version):
                v.violation(
                    v.diverged,
                    "commands",
                    f"{c.kind} {c.correlation_id} answered {c.stream_id}@{c.version}, "
                    f"stored {events[0]}",
                )
            elif (
                c.registration_number is not None
                and numbers.get(c.stream_id or "") != c.registration_number
            ):
                v.violation(
                    v.diverged,
                    "commands",
                    f"{c.correlation_id} answered {c.registration_number}, "
                    f"stored {numbers.get(c.stream_id or '')}",
                )
        elif c.outcome is Outcome.REFUSED and events:
            v.violation(v.diverged, "commands", f"refused {c.kind} {c.correlation_id} took effect")
        elif events:
            v.counts[f"commands {c.outcome}, took effect"] += 1


# --- topics -------------------------------------------------------------------------------


async def read_to_end(settings: Settings, topic: str) -> list[ConsumerRecord]:
    """Every record of `topic`, from the beginning to the end offsets of now."""
    # The private stack creates every topic with `settings.partitions`.
    partitions = [TopicPartition(topic, p) for p in range(settings.partitions)]
    consumer = make_consumer(settings, group_id=None)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord] = []
        while True:
            positions = [await consumer.position(tp) for tp in partitions]
            if all(
                position >= ends[tp] for position, tp in zip(positions, partitions, strict=True)
            ):
                return records
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
    finally:
        await consumer.stop()


async def topic_ends(
    settings: Settings, partitions: list[TopicPartition]
) -> dict[TopicPartition, int]:
    """The offset the next record of each partition will get."""
    consumer = make_consumer(settings, group_id=None)
    await consumer.start()
    try:
        return await end_offsets(consumer, partitions)
    finally:
        await consumer.stop()


async def check_topics(
    settings: Settings, conn: Connection, v: Verdict
) -> dict[str, set[uuid.UUID]]:
    """Every stored event of each publishing service is on its topic, byte for byte, under its
    stream's key, in its stream's order; nothing else is there; duplicates only by event id.
    Returns the event ids on each topic."""
    on_topics: dict[str, set[uuid.UUID]] = {}
    for spec in discover():
        if not spec.relay:
            continue
        topic = settings.events_topic(spec.name)
        stored = {
            r["event_id"]: r
            for r in await conn.fetch(
                f"SELECT event_id, stream_id, version, envelope FROM {spec.schema}.events"
            )
        }
        records = await read_to_end(settings, topic)
        seen: set[uuid.UUID] = set()
        last_version: dict[str, int] = {}
        for rec in records:
            try:
                event_id = decode_envelope(rec.value).event_id
            except EnvelopeError:
                v.violation(
                    v.diverged, "topics", f"{topic} {rec.partition}@{rec.offset} undecodable"
                )
                continue
            row = stored.get(event_id)
            if row is None:
                v.violation(v.diverged, "topics", f"{topic}: {event_id} is in no event store")
                continue
            if bytes(row["envelope"]) != rec.value or rec.key != row["stream_id"].encode():
                v.violation(
                    v.diverged, "topics", f"{topic}: {event_id} differs from its stored row"
                )
            if event_id in seen:
                v.counts[f"raw duplicates on {topic}"] += 1
                continue
            seen.add(event_id)
            # First publications of a stream's events come in version order (one partition
            # per stream); a gap here would mean an event overtook an earlier one.
            if row["version"] != last_version.get(row["stream_id"], 0) + 1:
                v.violation(
                    v.diverged,
                    "topics",
                    f"{topic}: {row['stream_id']} v{row['version']} after "
                    f"v{last_version.get(row['stream_id'], 0)}",
                )
            last_version[row["stream_id"]] = row["version"]
        for event_id in stored.keys() - seen:
            v.violation(v.lost, "topics", f"{topic}: stored event {event_id} never published")
        v.counts[f"events stored by {spec.name}"] = len(stored)
        v.counts[f"records on {topic}"] = len(records)
        on_topics[topic] = seen
    return on_topics


# --- registration numbers ------------------------------------------------------------------


async def check_registration_numbers(conn: Connection, v: Verdict) -> None:
    """Per (call, region), the numbers are 1..n without a gap or a repeat, and the counter
    stands at n."""
    series: dict[tuple[str, str], list[int]] = defaultdict(list)
    for r in await conn.fetch(
        "SELECT call_id, region_code, registration_number FROM intake.applications_index"
    ):
        m = _NUMBER.match(r["registration_number"])
        if m is None or m["region"] != r["region_code"]:
            v.violation(v.diverged, "registration", f"{r['registration_number']} malformed")
            continue
        series[(r["call_id"], r["region_code"])].append(int(m["n"]))
    counters = {
        (r["call_id"], r["region_code"]): r["last_number"]
        for r in await conn.fetch("SELECT * FROM intake.registration_counters")
    }
    for key, numbers in series.items():
        numbers.sort()
        if len(set(numbers)) < len(numbers):
            v.violation(v.duplicated, "registration", f"{key}: a number given twice")
        if numbers != list(range(1, len(numbers) + 1)) or counters.get(key) != len(numbers):
            v.violation(
                v.diverged, "registration", f"{key}: {numbers[:10]}..., counter {counters.get(key)}"
            )
    v.counts["registration series"] = len(series)


# --- read models ---------------------------------------------------------------------------


async def _snapshot(conn: Connection, schema: str) -> dict[str, list[str]]:
    tables = [t for p in PROJECTIONS.values() for t in p.tables]
    # Rows as text: arrays and JSON make them unhashable, and equal values print alike.
    return {
        t: [repr(tuple(r)) for r in await conn.fetch(f"SELECT * FROM {schema}.{t}")] for t in tables
    }


async def check_read_models(settings: Settings, pool: asyncpg.Pool, v: Verdict) -> None:
    """The live read models equal a rebuild from offset 0, row for row; and they hold what
    intake's own index holds (a read model that skipped an event equals no rebuild of it
    either, if the rebuild skips it too)."""
    schema = "readside"
    async with pool.acquire() as conn:
        live = await _snapshot(conn, schema)
    report = await rebuild(settings, pool, schema=schema)
    v.counts["events replayed by the rebuild"] = report.events
    async with pool.acquire() as conn:
        rebuilt = await _snapshot(conn, schema)
        for table, rows in live.items():
            only_live = Counter(rows) - Counter(rebuilt[table])
            only_rebuilt = Counter(rebuilt[table]) - Counter(rows)
            if only_live or only_rebuilt:
                v.violation(
                    v.diverged,
                    "read models",
                    f"{table}: {only_live.total()} live rows not in a rebuild, e.g. "
                    f"{next(iter(only_live), None)!s:.400}; {only_rebuilt.total()} rebuilt rows "
                    f"not live, e.g. {next(iter(only_rebuilt), None)!s:.400}",
                    only_live.total() + only_rebuilt.total(),
                )
        intake = {
            (r["application_id"], r["status"], r["version"], r["registration_number"])
            for r in await conn.fetch(
                "SELECT application_id::text, status, version, registration_number "
                "FROM intake.applications_index"
            )
        }
        read = {
            (r["application_id"], r["status"], r["stream_version"], r["registration_number"])
            for r in await conn.fetch(
                "SELECT application_id, status, stream_version, registration_number "
                "FROM readside.applications"
            )
        }
        for row in sorted(intake - read)[:EXAMPLES]:
            v.violation(v.lost, "read models", f"intake's {row} not in readside.applications")
        v.lost["read models"] += max(0, len(intake - read) - EXAMPLES)
        for row in sorted(read - intake)[:EXAMPLES]:
            v.violation(v.diverged, "read models", f"readside's {row} not in intake")
        calls_intake = {
            (r["call_id"], r["version"])
            for r in await conn.fetch("SELECT call_id, version FROM intake.calls_index")
        }
        calls_read = {
            (r["call_id"], r["stream_version"])
            for r in await conn.fetch("SELECT call_id, stream_version FROM readside.calls")
        }
        if calls_intake != calls_read:
            v.violation(
                v.diverged,
                "read models",
                f"calls differ: {sorted(calls_intake ^ calls_read)[:EXAMPLES]}",
                len(calls_intake ^ calls_read),
            )
    v.counts["read-model rows"] = sum(len(rows) for rows in live.values())


# --- audit ---------------------------------------------------------------------------------


async def check_audit(conn: Connection, on_topics: dict[str, set[uuid.UUID]], v: Verdict) -> None:
    """The chain verifies, and it holds every published event exactly once."""
    outcome = await verify(conn, "readside")
    v.counts["audit links verified"] = outcome.checked
    if not outcome.ok:
        v.violation(v.diverged, "audit", f"broken at {outcome.broken_at}: {outcome.reason}")
    audited = [r["event_id"] for r in await conn.fetch("SELECT event_id FROM readside.audit_log")]
    published = set().union(*on_topics.values()) if on_topics else set()
    if len(audited) != len(set(audited)):
        v.violation(
            v.duplicated, "audit", "an event audited twice", len(audited) - len(set(audited))
        )
    missing = published - set(audited)
    if missing:
        v.violation(v.lost, "audit", f"{len(missing)} published events not audited", len(missing))


# --- scoring's copies of the calls ---------------------------------------------------------


CALL_FIELDS = ("stream_version", "closes_at", "quota", "definition", "methodology", "closed_at")


async def expected_scoring_calls(conn: Connection) -> dict[str, tuple[Any, ...]]:
    """What scoring should hold: intake's call events folded through scoring's own reading
    of them (the latest terms by stream version, and the closing)."""
    expected: dict[str, dict[str, Any]] = {}
    rows = await conn.fetch(
        "SELECT envelope FROM intake.events WHERE event_type = ANY($1::text[]) "
        "ORDER BY stream_id, version",
        [CALL_ANNOUNCED, CALL_AMENDED, CALL_CLOSED],
    )
    for r in rows:
        envelope = decode_envelope(bytes(r["envelope"]))
        if envelope.event_type == CALL_CLOSED:
            closing = call_closing(envelope)
            expected.setdefault(closing.call_id, {})["closed_at"] = closing.closed_at
        else:
            terms = call_terms(envelope)
            expected.setdefault(terms.call_id, {})["terms"] = terms
    return {
        call_id: (
            e["terms"].version,
            e["terms"].closes_at,
            e["terms"].quota,
            e["terms"].definition,
            e["terms"].methodology,
            e.get("closed_at"),
        )
        for call_id, e in expected.items()
    }


async def scoring_calls(conn: Connection) -> dict[str, tuple[Any, ...]]:
    import json

    return {
        r["call_id"]: (
            r["stream_version"],
            r["closes_at"],
            r["quota"],
            bytes(r["definition"]),
            json.loads(r["methodology"]),
            r["closed_at"],
        )
        for r in await conn.fetch("SELECT * FROM scoring.calls")
    }


def check_scoring(
    expected: dict[str, tuple[Any, ...]], actual: dict[str, tuple[Any, ...]], v: Verdict
) -> None:
    """Scoring's copy of the calls equals intake's calls."""
    for call_id in sorted(expected.keys() - actual.keys()):
        v.violation(v.lost, "scoring calls", f"{call_id} unknown to scoring")
    for call_id in sorted(actual.keys() - expected.keys()):
        v.violation(v.diverged, "scoring calls", f"{call_id} is no call of intake")
    for call_id in sorted(expected.keys() & actual.keys()):
        if expected[call_id] != actual[call_id]:
            differ = [
                f"{name} {a!r:.80} where intake's events give {e!r:.80}"
                for name, a, e in zip(CALL_FIELDS, actual[call_id], expected[call_id], strict=True)
                if a != e
            ]
            v.violation(v.diverged, "scoring calls", f"{call_id}: " + "; ".join(differ))
    v.counts["calls"] = len(expected)


# --- dead letters --------------------------------------------------------------------------


async def check_dead_letters(settings: Settings, v: Verdict) -> None:
    """Nothing is dead-lettered: the load sends only valid commands, so every event is good,
    and a consumer that parks one under faults took an outage for a poison message."""
    for rec in await read_to_end(settings, settings.deadletter_topic):
        headers = {k: value.decode(errors="replace") for k, value in rec.headers}
        v.violation(
            v.lost,
            "dead letters",
            f"{headers.get('konkurs-dlq-consumer')} parked {headers.get('konkurs-event-type')} "
            f"{headers.get('konkurs-event-id')}: {headers.get('konkurs-dlq-reason', '')[:300]}",
        )
