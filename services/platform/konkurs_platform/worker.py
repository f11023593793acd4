"""Faust workers: one faust app per service, agents that react to other services' events.

Agents stay thin: they hand their stream to `konkurs_platform.reaction.react`, which claims
each event in the inbox and runs the service's effect in one transaction. Faust delivers at
least once (it commits offsets after processing); the inbox turns that into one effect.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import asyncpg
import faust

from konkurs_platform.db import create_pool
from konkurs_platform.reaction import Effect, react
from konkurs_platform.settings import Settings


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


def add_reaction_agent(
    app: faust.App,
    settings: Settings,
    *,
    producer: str,
    schema: str,
    consumer: str,
    effects: Callable[[asyncpg.Pool], Mapping[str, Effect]],
) -> None:
    """Add to a service's faust `app` the agent that reacts to `producer`'s events under the
    inbox name `consumer`; `effects` makes the effects over the agent's pool."""

    @app.agent(events_topic(app, settings, producer), name=f"{producer}-events")
    async def reactions(stream: faust.StreamT[bytes]) -> None:
        # Made here, in the loop faust runs the agent in; opening no connection up front, so
        # that a database down at start is waited out by the reaction (see `react`).
        pool = await create_pool(settings, min_size=0, max_size=4)
        try:
            await react(
                stream.events(),
                settings=settings,
                pool=pool,
                schema=schema,
                consumer=consumer,
                effects=effects(pool),
            )
        finally:
            await pool.close()
