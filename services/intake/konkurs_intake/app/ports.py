"""What the intake handlers need from storage besides the event store: the ports they call.

The Postgres adapters (`konkurs_intake.adapters.postgres`) implement them. Every write takes
the caller's connection, so it commits in the transaction of the append it goes with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from konkurs_intake.domain.applications import Application, Document
from konkurs_intake.domain.calls import AnnouncedCall, ClosedCall
from konkurs_platform.db import Connection


@dataclass(frozen=True)
class CallListing:
    """One line of the list of calls."""

    call_id: str
    version: int
    opens_at: datetime
    closes_at: datetime
    closed: bool


class CallIndex(Protocol):
    """The calls intake knows, kept in step with their streams."""

    async def record(
        self, conn: Connection, call: AnnouncedCall | ClosedCall, version: int
    ) -> None:
        """Record `call` as it stands after stream `version`."""

    async def listing(self, conn: Connection) -> Sequence[CallListing]:
        """Every call, the latest to open first."""


@dataclass(frozen=True)
class IndexedApplication:
    """What is known of an application without folding its stream."""

    call_id: str
    region_code: str
    coordinator_bin: str


@dataclass(frozen=True)
class IndexEntry:
    """An application as it stands after stream `version`; `submitted_at` is kept from the
    first entry (a later one does not change it)."""

    application: Application
    version: int
    submitted_at: datetime


class ApplicationIndex(Protocol):
    """The applications intake knows: for scope checks and the call of an application, and
    the database's guarantee that a registration number is unique within its call."""

    async def record(self, conn: Connection, entries: Sequence[IndexEntry]) -> None:
        """Insert or update the entries."""

    async def find(self, conn: Connection, application_id: str) -> IndexedApplication | None:
        """The application, if intake has it (an id that is not a UUID is not found)."""


@dataclass(frozen=True)
class Drawn:
    """The last registration number drawn, and the version of the call's stream in the same
    statement: a submission decided on an older version of the call decides again."""

    last_number: int
    call_version: int


class RegistrationCounters(Protocol):
    """One gapless series of registration numbers per call and region."""

    async def draw(
        self, conn: Connection, call_id: str, call_stream: str, region_code: str, count: int
    ) -> Drawn:
        """Draw `count` numbers; returns the last one drawn with the version of the call's
        stream `call_stream`. The series stays locked until the transaction ends, so a
        rolled-back submission gives its number back."""


class DocumentStore(Protocol):
    """Document bytes, apart from the events, addressed by their SHA-256."""

    async def put(self, conn: Connection, document: Document, content: bytes) -> None:
        """Keep `content` under `document.sha256` (the same bytes are stored once)."""

    async def get(self, conn: Connection, sha256: str) -> tuple[str, bytes] | None:
        """The media type and bytes stored under `sha256`, if any."""
