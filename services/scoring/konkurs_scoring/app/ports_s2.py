"""What the evaluations and the ranking need from the rest of scoring, as ports.

The applications, the assignments and the screening results are kept by scoring's screening
and assignment side (`app/ports.py` and its adapters); these protocols say which part of
them evaluation reads, so that the two sides meet on the contract and not on each other's
classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from konkurs_platform.db import Connection
from konkurs_platform.eventstore import Metadata
from konkurs_scoring.domain.evaluation import Declared


class ApplicationFacts(Protocol):
    """An application as scoring learned it from intake (`domain.applications.KnownApplication`)."""

    @property
    def application_id(self) -> str: ...
    @property
    def call_id(self) -> str: ...
    @property
    def registration_number(self) -> str: ...
    @property
    def coordinator_bin(self) -> str: ...
    # intake's ApplicationContent of the latest revision, protobuf bytes.
    @property
    def content(self) -> bytes: ...
    @property
    def withdrawn(self) -> bool: ...
    @property
    def submitted_at(self) -> datetime: ...


class AssignmentFacts(Protocol):
    """An expert's assignment to an application (`domain.assignment.Assignment`)."""

    @property
    def expert_id(self) -> str: ...
    @property
    def assigned_at(self) -> datetime: ...
    @property
    def declared(self) -> Declared: ...
    @property
    def active(self) -> bool: ...


class Applications(Protocol):
    """The applications scoring knows (`app.ports.ApplicationBook`)."""

    async def get(self, conn: Connection, application_id: str) -> ApplicationFacts | None:
        """The application as last learned; None if scoring never heard of it."""


class Assignments(Protocol):
    """The experts assigned to each application (`app.ports.AssignmentBook`)."""

    async def of_application(
        self, conn: Connection, application_id: str
    ) -> Sequence[AssignmentFacts]:
        """Every assignment the application had, active or not."""


class Panels(Protocol):
    """The assignment handlers (`app.assignment.Assignments`), told of each submission and
    of each reopening."""

    async def complete(
        self,
        conn: Connection,
        application_id: str,
        expert_id: str,
        round: int,
        meta: Metadata,
        now: datetime,
    ) -> object:
        """Record on `conn`, in the submission's transaction, that the expert's evaluation is
        in: their assignment is done and never becomes overdue."""

    async def renew(
        self,
        conn: Connection,
        application_id: str,
        round: int,
        reason: str,
        meta: Metadata,
        now: datetime,
    ) -> object:
        """Give the panel new due times on `conn`, in the transaction that reopened the
        evaluation for `round`."""


class Screening(Protocol):
    """The screening results after overrides (`app.ports.ScreeningBook`)."""

    async def eligible(self, conn: Connection, call_id: str) -> list[str]:
        """Ids of the call's applications that are eligible now."""

    async def is_settled(self, conn: Connection, call_id: str) -> bool:
        """Whether every application of the closed call has been screened."""


class RankingLock(Protocol):
    """Serialises the ranking decisions of one call (`adapters.ranking`)."""

    async def hold(self, conn: Connection, call_id: str) -> None:
        """Take the call's ranking lock until `conn`'s transaction ends.

        Two evaluations of a call finalised at once must not each see the other unfinished
        and leave the ranking unpublished: whoever takes the lock second reads after the
        first committed."""
