"""The readside's projector process: what `konkurs projector readside` runs.

Kept apart from `bootstrap` (the HTTP app's wiring) so that the process loads no web
framework.
"""

from __future__ import annotations

import asyncio

from konkurs_platform.settings import Settings
from konkurs_readside import checkpoints
from konkurs_readside.projector import SCHEMA
from konkurs_readside.projector import run_projector as run_read_models


async def run_projector(settings: Settings, stop: asyncio.Event) -> None:
    """The read models and the audit log, and the audit chain's signed checkpoints at an
    interval (`KONKURS_AUDIT_CHECKPOINT_SECONDS`)."""
    await asyncio.gather(
        run_read_models(settings, stop),
        checkpoints.run_periodically(settings, SCHEMA, stop),
    )
