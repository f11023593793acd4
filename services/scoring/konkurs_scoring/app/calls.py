"""Scoring's copy of each call's terms, kept from intake's call events.

The copy is a row per call, not an aggregate: scoring decides nothing about a call, it only
has to know the methodology it will apply.
"""

from __future__ import annotations

from typing import Protocol

from konkurs_platform.db import Connection
from konkurs_scoring.domain.calls import CallClosing, CallTerms, KnownCall


class CallBook(Protocol):
    """Where the copies are kept (`adapters.calls.PostgresCallBook`)."""

    async def keep(self, conn: Connection, terms: CallTerms) -> None:
        """Store `terms`, unless a later version of the call is stored already."""

    async def close(self, conn: Connection, closing: CallClosing) -> None:
        """Record that the call closed."""

    async def find(self, conn: Connection, call_id: str) -> KnownCall | None:
        """The call as known now; None if scoring never heard of it."""
