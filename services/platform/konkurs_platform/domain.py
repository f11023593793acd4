"""What every service's domain shares: the decider shape and the domain error.

Pure: no I/O, no clock, no random ids. Commands carry `now`; the decider never asks for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

C = TypeVar("C")
S = TypeVar("S")
E = TypeVar("E")


@dataclass(frozen=True)
class FieldIssue:
    """One invalid field: a JSON pointer into the command's body and a reason a person reads."""

    pointer: str
    reason: str


@dataclass
class DomainError(Exception):
    """A command the domain refuses because it breaks a rule. `code` names the rule.

    The domain says what kind of refusal it is by the class, never by an HTTP status: the
    API layer maps the kinds to problem types in one place (`konkurs_platform.service`).
    """

    code: str
    detail: str
    errors: Sequence[FieldIssue] = field(default_factory=tuple)

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


class Conflict(DomainError):
    """The command is valid but the aggregate's state forbids it now (e.g. the call closed)."""


class NotFound(DomainError):
    """The command names an aggregate that does not exist."""


class Forbidden(DomainError):
    """The actor may not do this to this aggregate (e.g. an undeclared conflict of interest)."""


@dataclass(frozen=True)
class Decider(Generic[C, S, E]):
    """decide(command, state) -> events; evolve(state, event) -> state; fold from `initial`."""

    initial: S
    decide: Callable[[C, S], Sequence[E]]
    evolve: Callable[[S, E], S]

    def fold(self, events: Sequence[E], state: S | None = None) -> S:
        current = self.initial if state is None else state
        for event in events:
            current = self.evolve(current, event)
        return current
