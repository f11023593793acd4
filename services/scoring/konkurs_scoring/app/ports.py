"""The ports scoring's screening, registry and assignment handlers declare (S2 declares its
own in `ports_s2.py`). Their PostgreSQL adapters are in `konkurs_scoring.adapters`; every
method runs on the caller's connection, inside its transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from konkurs_platform.db import Connection
from konkurs_scoring.domain.applications import KnownApplication
from konkurs_scoring.domain.assignment import Assignment, Panel
from konkurs_scoring.domain.experts import ExpertCard, ExpertState
from konkurs_scoring.domain.screening import Screening


class ApplicationBook(Protocol):
    """The applications scoring learned from intake (`adapters.applications`)."""

    async def get(self, conn: Connection, application_id: str) -> KnownApplication | None:
        """The application as last learned; None if scoring never heard of it."""

    async def of_call(self, conn: Connection, call_id: str) -> list[KnownApplication]:
        """Every application of the call scoring knows, withdrawn ones included, by
        registration number."""

    async def keep(self, conn: Connection, application: KnownApplication) -> None:
        """Store `application`, unless a later version of it is stored already."""

    async def lock_call(self, conn: Connection, call_id: str) -> None:
        """Serialise, until the transaction ends, everything that reads a call's
        applications as a whole: its screening on closing, an application arriving late,
        the assignment and its loads."""


class ScreeningBook(Protocol):
    """Each application's screening result as it holds (`adapters.screening`)."""

    async def record(self, conn: Connection, screening: Screening) -> None:
        """Keep the result after an append to the application's screening stream."""

    async def eligible(self, conn: Connection, call_id: str) -> list[str]:
        """Ids of the call's applications that are eligible (after overrides) and not
        withdrawn, by registration number."""

    async def is_settled(self, conn: Connection, call_id: str) -> bool:
        """Whether the call closed and every application of it that is not withdrawn has a
        result for its latest version: the set of eligible applications is final."""

    async def of_call(self, conn: Connection, call_id: str) -> list[Mapping[str, object]]:
        """Every application of the call with its result (none yet: `eligible` is None)."""


class ExpertBook(Protocol):
    """The registry as it stands (`adapters.experts`)."""

    async def record(self, conn: Connection, state: ExpertState, version: int) -> None:
        """Keep the expert after an append to their stream."""

    async def cards(self, conn: Connection) -> list[ExpertCard]:
        """Every registered expert, active or not, by id."""

    async def card(self, conn: Connection, expert_id: str) -> ExpertCard | None:
        """One expert; None if no such expert is registered."""


class AssignmentBook(Protocol):
    """Every assignment, now and before (`adapters.assignment`)."""

    async def record(self, conn: Connection, panel: Panel) -> None:
        """Keep the panel after an append to the application's assignment stream."""

    async def of_application(self, conn: Connection, application_id: str) -> list[Assignment]:
        """The application's assignments, active or not, by expert id."""

    async def loads(self, conn: Connection, call_id: str) -> dict[str, int]:
        """Active assignments in the call per expert."""

    async def worklist(self, conn: Connection, expert_id: str) -> Sequence[Mapping[str, object]]:
        """The expert's active assignments, the earliest due first."""
