"""The local stack: idempotent starts, topics created once and kept forever, scratch databases.

These use the session's servers and leave them running; crashing the broker is tested
where it matters, with the consumers that must survive it.
"""

from __future__ import annotations

import dataclasses
import uuid

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from konkurs_ops import stack
from konkurs_platform.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def stack_settings(servers: Settings) -> Settings:
    """The session's servers, with a topic prefix of this test's own."""
    return dataclasses.replace(servers, topic_prefix=f"test-stack-{uuid.uuid4().hex[:8]}")


def test_starting_servers_that_run_is_a_no_op(stack_settings: Settings) -> None:
    assert stack.start_kafka(stack_settings) == 0.0
    assert stack.start_postgres(stack_settings) == 0.0


async def test_topics_are_created_once_and_event_topics_are_kept_forever(
    stack_settings: Settings,
) -> None:
    s = stack_settings
    scratch = s.topic("scratch")
    admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap)
    await admin.start()
    try:
        assert stack.create_topics(s) == stack.system_topics(s)
        assert stack.create_topics(s) == []
        assert stack.create_topics(s, [scratch], partitions=2) == [scratch]

        [events, scratch_topic] = await admin.describe_topics([s.events_topic("intake"), scratch])
        assert len(events["partitions"]) == s.partitions
        assert len(scratch_topic["partitions"]) == 2
        [response] = await admin.describe_configs(
            [
                ConfigResource(ConfigResourceType.TOPIC, name)
                for name in (*stack.system_topics(s), scratch)
            ]
        )
        retention = {
            resource["resource_name"]: {
                entry["config_names"]: entry["config_value"]
                for entry in resource["config_entries"]
                if entry["config_names"] in ("retention.ms", "retention.bytes")
            }
            for resource in response.to_object()["resources"]
        }
        forever = {"retention.ms": "-1", "retention.bytes": "-1"}
        assert all(retention[name] == forever for name in stack.system_topics(s))
        assert retention[scratch]["retention.ms"] != "-1"
    finally:
        await admin.delete_topics([*stack.system_topics(s), scratch])
        await admin.close()


async def test_a_created_database_accepts_connections_until_dropped(
    stack_settings: Settings,
) -> None:
    s = stack_settings
    name = f"test_stack_{uuid.uuid4().hex[:8]}"

    dsn = stack.create_database(s, name)
    assert stack.create_database(s, name) == dsn
    conn = await asyncpg.connect(dsn)
    assert await conn.fetchval("SELECT current_database()") == name
    # Left open on purpose: dropping must not wait for the test's connections.
    stack.drop_database(s, name)

    with pytest.raises(asyncpg.InvalidCatalogNameError):
        await asyncpg.connect(dsn)
