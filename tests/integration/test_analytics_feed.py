"""The analytics feed on the real broker: every service's events in, facts out on
`konkurs.analytics.v1` in CloudEvents binary mode, keyed by call; and the consumer example
of docs/analytics.md, run as written with code generated from the `.proto` file alone,
prints each fact once although the feed holds it twice."""

from __future__ import annotations

import asyncio
import re
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from google.protobuf.message import Message
from helpers import end_offsets, eventually, read_topic, running

from konkurs.analytics.v1 import facts_pb2
from konkurs.commission.v1 import events_pb2 as commission
from konkurs.intake.v1 import application_pb2
from konkurs.intake.v1 import events_pb2 as intake
from konkurs.plans.v1 import events_pb2 as plans
from konkurs.scoring.v1 import screening_pb2
from konkurs_platform.envelope import HEADER_EVENT_TYPE, Actor, Envelope, encode_envelope
from konkurs_platform.settings import Settings
from konkurs_readside.analytics.facts import Fact, Memory, facts_of
from konkurs_readside.analytics.feed import Feed

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2017, 6, 20, 10, tzinfo=UTC)


def envelope(stream_id: str, version: int, message: Message) -> Envelope:
    return Envelope(
        event_id=uuid.uuid4(),
        event_type=message.DESCRIPTOR.full_name,
        stream_id=stream_id,
        stream_version=version,
        occurred_at=NOW,
        recorded_at=NOW,
        actor=Actor(subject="aigerim", role="operator"),
        correlation_id=str(uuid.uuid4()),
        causation_id=None,
        schema_version=2,
        payload=message.SerializeToString(),
    )


def programme(call_id: str) -> dict[str, list[Envelope]]:
    """A call's events per service, a fact-making event of each, in stream order."""
    app = f"{call_id}-app"
    submitted = intake.ApplicationSubmitted(
        application_id=app,
        call_id=call_id,
        content=application_pb2.ApplicationContent(
            cluster=application_pb2.Cluster(name="Кластер", region_code="KZ-75"),
            participants=[application_pb2.Participant(kind=application_pb2.PARTICIPANT_KIND_SME)],
        ),
    )
    return {
        "intake": [
            envelope(f"call-{call_id}", 1, intake.CallAnnounced(call_id=call_id)),
            envelope(f"application-{app}", 1, submitted),
        ],
        "scoring": [
            envelope(
                f"screening-{app}",
                1,
                screening_pb2.EligibilityAssessed(
                    application_id=app, call_id=call_id, eligible=True
                ),
            )
        ],
        "commission": [
            envelope(
                f"appeal-{app}",
                1,
                commission.AppealLodged(appeal_id=f"ap-{app}", call_id=call_id, application_id=app),
            ),
            envelope(
                f"appeal-{app}",
                2,
                commission.AppealUpheld(appeal_id=f"ap-{app}", application_id=app, reasons="…"),
            ),
        ],
        "plans": [
            envelope(f"plan-{app}", 1, plans.PlanOpened(plan_id=app, call_id=call_id)),
            envelope(f"plan-{app}", 2, plans.PlanApproved(plan_id=app, version=1)),
        ],
    }


async def publish(settings: Settings, events: dict[str, list[Envelope]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for service, envelopes in events.items():
            for e in envelopes:
                await producer.send(
                    settings.events_topic(service),
                    encode_envelope(e),
                    key=e.stream_id.encode(),
                    headers=[(HEADER_EVENT_TYPE, e.event_type.encode())],
                )
        await producer.flush()
    finally:
        await producer.stop()


def expected_facts(events: dict[str, list[Envelope]]) -> dict[str, Fact]:
    memory = Memory()
    return {str(f.id): f for es in events.values() for e in es for f in facts_of(e, memory)}


async def feed_records(settings: Settings, call_id: str) -> list[ConsumerRecord]:
    """Every record of the feed keyed by `call_id`, from the beginning to the end now."""
    total = sum((await end_offsets(settings, settings.analytics_topic)).values())
    everything = await read_topic(settings, settings.analytics_topic, until=total)
    return [r for r in everything if r.key == call_id.encode()]


async def facts_arrived(settings: Settings, call_id: str, count: int) -> list[ConsumerRecord]:
    async def arrived() -> list[ConsumerRecord] | None:
        records = await feed_records(settings, call_id)
        return records if len(records) >= count else None

    return await eventually(arrived, timeout=60, every=0.2)


async def test_each_services_events_become_facts_keyed_by_their_call_with_cloudevents_headers(
    settings: Settings,
) -> None:
    call_id = f"feed-{uuid.uuid4().hex[:8]}"
    events = programme(call_id)
    expected = expected_facts(events)
    assert [f.type.rsplit(".", 1)[1] for f in expected.values()] == [
        "CallAnnounced",
        "ApplicationReceived",
        "EligibilityDetermined",
        "AppealLodged",
        "AppealDecided",
        "PlanApproved",
    ]
    async with running(Feed(settings)):
        await publish(settings, events)
        records = await facts_arrived(settings, call_id, len(expected))
    assert {dict(r.headers)["ce_id"].decode() for r in records} == expected.keys()
    for r in records:
        headers = dict(r.headers)
        fact = expected[headers["ce_id"].decode()]
        assert r.key == call_id.encode()
        assert r.value == fact.value()
        assert headers["ce_specversion"] == b"1.0"
        assert headers["ce_type"] == fact.type.encode()
        assert headers["ce_source"] == f"/konkurs/{fact.source.event_type.split('.')[1]}".encode()
        assert headers["content-type"] == b"application/protobuf"
    approved = next(r for r in records if dict(r.headers)["ce_type"].endswith(b"PlanApproved"))
    assert facts_pb2.PlanApproved.FromString(approved.value).call_id == call_id


def consumer_example() -> str:
    doc = (ROOT / "docs" / "analytics.md").read_text(encoding="utf-8")
    (code,) = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    return str(code)


async def test_the_consumer_example_of_the_docs_prints_each_fact_once(
    settings: Settings, tmp_path: Path
) -> None:
    # Code from the .proto file alone, as a consumer outside konkurs generates it.
    protoc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT / 'schemas'}",
        f"--python_out={tmp_path}", "konkurs/analytics/v1/facts.proto",
    )  # fmt: skip
    assert await protoc.wait() == 0
    (tmp_path / "consumer.py").write_text(consumer_example(), encoding="utf-8")

    call_id = f"example-{uuid.uuid4().hex[:8]}"
    events = programme(call_id)
    expected = expected_facts(events)
    async with running(Feed(settings)):
        await publish(settings, events)
        records = await facts_arrived(settings, call_id, len(expected))
    # Every fact once more, as a crashed producer repeats it.
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        for r in records:
            await producer.send(
                settings.analytics_topic,
                r.value,
                key=r.key,
                headers=list(r.headers),
            )
    finally:
        await producer.stop()

    example = await asyncio.create_subprocess_exec(
        sys.executable, "consumer.py", cwd=tmp_path,
        env={"TOPIC": settings.analytics_topic, "KAFKA": settings.kafka_bootstrap,
             "PYTHONPATH": str(tmp_path)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(example.communicate(), 120)
    assert example.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    printed = [line for line in lines if line.split(" ")[1:2] == [call_id]]
    assert sorted(line.split(" ")[0] for line in printed) == sorted(
        f.type for f in expected.values()
    )
    assert any(f'call_id: "{call_id}"' in line for line in lines)
