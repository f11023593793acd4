"""Wires the readside: its HTTP query API (port 8000), its projector and its lag monitor."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer
from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry, Gauge

import konkurs_readside.api as api_package
from konkurs_platform.db import check_schema_name, create_pool
from konkurs_platform.service import kafka_check, postgres_check
from konkurs_platform.settings import Settings
from konkurs_platform.web import create_app as create_web_app
from konkurs_readside.positions import (
    end_offsets,
    event_partitions,
    lag_by_topic,
    stored_offsets,
)
from konkurs_readside.projections import PROJECTIONS
from konkurs_readside.projector import SCHEMA, run_projector

SERVICE = "readside"
LAG_REFRESH_SECONDS = 5.0

__all__ = ["create_app", "run_projector"]

log = logging.getLogger(__name__)


class LagMonitor:
    """Events published but not yet projected, per projection and topic.

    Read from Kafka's end offsets and the offsets stored with the read models, so it holds
    whichever process projects. The read models and the audit log share one offset set and
    one transaction, so their lags are equal; each is still reported under its own name,
    which is what an alert or a dashboard is written against.
    """

    def __init__(
        self, settings: Settings, pool: asyncpg.Pool, schema: str, registry: CollectorRegistry
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.schema = schema
        self.names = [*PROJECTIONS, "audit"]
        self.gauge = Gauge(
            "konkurs_projection_lag_events",
            "Events published to a topic and not yet applied by a projection.",
            ["projection", "topic"],
            registry=registry,
        )
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap, group_id=None, client_id="konkurs"
        )
        await self._consumer.start()

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def measure(self) -> dict[str, dict[str, Any]]:
        """The lag now, per projection: in total and per topic; updates the gauge too."""
        assert self._consumer is not None
        ends = await end_offsets(self._consumer, await event_partitions(self.settings))
        async with self.pool.acquire() as conn:
            stored = await stored_offsets(conn, self.schema)
        by_topic = lag_by_topic(ends, stored)
        for name in self.names:
            for topic, lag in by_topic.items():
                self.gauge.labels(name, topic).set(lag)
        total = sum(by_topic.values())
        return {name: {"lag": total, "by_topic": by_topic} for name in self.names}

    async def refresh_forever(self) -> None:
        """Keep the gauge current between scrapes."""
        while True:
            with contextlib.suppress(Exception):
                await self.measure()
            await asyncio.sleep(LAG_REFRESH_SECONDS)


def create_app(settings: Settings, *, schema: str = SCHEMA) -> FastAPI:
    """The readside query API over the read models in `schema`."""
    check_schema_name(schema)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await create_pool(settings, max_size=8)
        app.state.lag = LagMonitor(settings, app.state.pool, schema, app.state.metrics_registry)
        await app.state.lag.start()
        refresher = asyncio.create_task(app.state.lag.refresh_forever())
        try:
            yield
        finally:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
            await app.state.lag.stop()
            await app.state.pool.close()

    app = create_web_app(
        settings,
        service=SERVICE,
        title="konkurs readside",
        version="1",
        description=(
            "Read models of every service's events, with role-based visibility; exports for "
            "analysts; the audit trail of every decision."
        ),
        ready_checks={
            "postgres": postgres_check(lambda: app.state.pool),
            "kafka": kafka_check(settings),
        },
        # Lag never makes the readside unready: a lagging read model still answers, later.
        ready_details={"projections": lambda: app.state.lag.measure()},
        lifespan=lifespan,
    )
    app.state.schema = schema
    for routes in api_modules():
        app.include_router(routes.router)
    return app


def api_modules() -> list[ModuleType]:
    """Every module of `konkurs_readside.api` that defines a `router`, in name order: a new
    read model's routes are one more module there, and nothing here names it."""
    modules = []
    for info in pkgutil.iter_modules(api_package.__path__):
        module = importlib.import_module(f"{api_package.__name__}.{info.name}")
        if isinstance(getattr(module, "router", None), APIRouter):
            modules.append(module)
    return modules
