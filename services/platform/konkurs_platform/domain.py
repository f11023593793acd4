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
    """A command the domain refuses. `code` names the rule; the API maps it to a problem type."""

    code: str
    detail: str
    errors: Sequence[FieldIssue] = field(default_factory=tuple)
    # 422 by default; 409 for a state conflict (e.g. the call is closed), 404 for "no such".
    status: int = 422

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


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
