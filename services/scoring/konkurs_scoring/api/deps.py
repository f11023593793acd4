"""What the scoring routes depend on, built once in `bootstrap` and kept on app.state."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from fastapi import Request

from konkurs_scoring.app.calls import CallBook


@dataclass
class Scoring:
    pool: asyncpg.Pool
    calls: CallBook


def scoring(request: Request) -> Scoring:
    """Dependency: the scoring service of this app."""
    service: Scoring = request.app.state.scoring
    return service
