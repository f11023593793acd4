"""A data subject's erasure: once, for a reason, by someone.

The stream of a subject is `subject-<subject id>`. Destroying the key is the effect the app
performs with the event; the domain says whether the erasure may happen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from konkurs_platform.domain import Conflict, Decider, DomainError, FieldIssue

# The least number of words of an erasure's reason.
MIN_REASON_WORDS = 2


@dataclass(frozen=True)
class EraseSubject:
    """Erase the subject's personal data everywhere, for `reason`."""

    subject_id: str
    reason: str
    now: datetime
    # The retention rule that asks for it; empty for an operator's erasure on request.
    retention_rule: str = ""


@dataclass(frozen=True)
class SubjectErased:
    subject_id: str
    reason: str
    erased_at: datetime
    retention_rule: str = ""


@dataclass(frozen=True)
class Subject:
    """Whether the subject was erased (a subject never erased has no events)."""

    erased: bool = False


def subject_stream(subject_id: str) -> str:
    return f"subject-{subject_id}"


def decide(command: EraseSubject, state: Subject) -> Sequence[SubjectErased]:
    """An erasure needs a reason in words, and happens once."""
    # One word ("requested", "gdpr") does not tell a later reader of the record why.
    if len(command.reason.split()) < MIN_REASON_WORDS:
        raise DomainError(
            "reason-required",
            "An erasure records why.",
            (FieldIssue("/reason", f"say why in at least {MIN_REASON_WORDS} words"),),
        )
    if state.erased:
        raise Conflict("already-erased", f"Subject {command.subject_id} is erased already.")
    return [SubjectErased(command.subject_id, command.reason, command.now, command.retention_rule)]


def evolve(state: Subject, event: SubjectErased) -> Subject:
    return Subject(erased=True)


DECIDER: Decider[EraseSubject, Subject, SubjectErased] = Decider(Subject(), decide, evolve)
