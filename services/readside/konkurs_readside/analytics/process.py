"""The readside's projector process with the analytics feed beside the read models: what
`konkurs projector readside` runs.

The feed keeps its own positions (a consumer group of its own), so it neither waits for
the read models nor holds them back; it shares their process only because a service
declares one projector process (`ServiceSpec.projector`).
"""

from __future__ import annotations

import asyncio

from konkurs_platform.settings import Settings
from konkurs_readside.analytics.feed import run_feed
from konkurs_readside.process import run_projector as run_read_models


async def run_projector(settings: Settings, stop: asyncio.Event) -> None:
    """The read models, the audit log and its checkpoints, and the analytics feed."""
    await asyncio.gather(run_read_models(settings, stop), run_feed(settings, stop))
