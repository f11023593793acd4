"""Kafka clients configured the one way this system uses them."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from konkurs_platform.settings import Settings


def make_producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    """An idempotent producer with `acks=all`: an acknowledged send is on every in-sync
    replica, and a retried send is not written twice nor reordered within a partition."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "max_batch_size": 1 << 20,
        "request_timeout_ms": 15000,
        "client_id": "konkurs",
    }
    config.update(overrides)
    return AIOKafkaProducer(**config)


def make_consumer(
    settings: Settings, *topics: str, group_id: str | None, **overrides: Any
) -> AIOKafkaConsumer:
    """A consumer that never commits by itself: the caller decides where positions live."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        # Transactions are not used by producers here, but reading only committed data
        # keeps consumers correct if a transactional producer is ever added.
        "isolation_level": "read_committed",
        "max_poll_records": 2000,
        "fetch_max_bytes": 16 << 20,
        "client_id": "konkurs",
    }
    config.update(overrides)
    return AIOKafkaConsumer(*topics, **config)
