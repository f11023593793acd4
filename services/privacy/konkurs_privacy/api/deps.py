"""What the privacy routes depend on, built once in `bootstrap` and kept on app.state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from fastapi import Request

from konkurs_privacy.app.erasure import Erasures


@dataclass
class Privacy:
    pool: asyncpg.Pool
    erasures: Erasures
    clock: Callable[[], datetime]


def privacy(request: Request) -> Privacy:
    """Dependency: the privacy service of this app."""
    service: Privacy = request.app.state.privacy
    return service
