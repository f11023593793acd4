"""An expert's submitted evaluation completes their assignment: it is never flagged overdue,
the panel's due timer moves on to whoever still owes one, and it cannot be reassigned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from konkurs_platform.domain import Conflict
from konkurs_platform.timers import Cancel, Schedule
from konkurs_scoring.app.assignment import EVALUATION_DUE, assignment_timers
from konkurs_scoring.domain.assignment import (
    AssignmentCompleted,
    AssignmentEvent,
    AssignmentMode,
    AssignmentOverdue,
    CompleteAssignment,
    ExpertAssigned,
    FlagOverdue,
    NoConflictDeclared,
    Panel,
    assignment_decider,
)

NOW = datetime(2017, 6, 20, 9, tzinfo=UTC)


def panel_of(*experts: tuple[str, int]) -> Panel:
    """A declared panel: each expert with the days until their evaluation is due."""
    events: list[AssignmentEvent] = []
    for expert, days in experts:
        events.append(
            ExpertAssigned(
                "app-1", "call-1", expert, AssignmentMode.AUTOMATIC, "automatic: test", NOW,
                NOW + timedelta(days=days),
            )
        )  # fmt: skip
        events.append(NoConflictDeclared("app-1", expert))
    return assignment_decider.fold(events)


def completed(panel: Panel, expert: str) -> Panel:
    events = assignment_decider.decide(CompleteAssignment("app-1", expert, 1, NOW), panel)
    assert events == [AssignmentCompleted("app-1", expert, 1, NOW)]
    return assignment_decider.fold(events, panel)


def test_a_submitted_evaluation_is_never_flagged_overdue() -> None:
    panel = completed(panel_of(("e-1", 14), ("e-2", 14)), "e-1")
    events = assignment_decider.decide(FlagOverdue("app-1", NOW + timedelta(days=30)), panel)
    assert [e.expert_id for e in events if isinstance(e, AssignmentOverdue)] == ["e-2"]


def test_completing_twice_changes_nothing() -> None:
    panel = completed(panel_of(("e-1", 14)), "e-1")
    assert assignment_decider.decide(CompleteAssignment("app-1", "e-1", 2, NOW), panel) == []


def test_only_an_assigned_expert_completes() -> None:
    with pytest.raises(Conflict):
        assignment_decider.decide(CompleteAssignment("app-1", "e-9", 1, NOW), panel_of(("e-1", 14)))


def test_the_due_timer_moves_to_the_next_expert_who_owes_an_evaluation() -> None:
    panel = panel_of(("e-1", 10), ("e-2", 14))
    assert assignment_timers("s", [], panel) == [Schedule(EVALUATION_DUE, NOW + timedelta(days=10))]
    panel = completed(panel, "e-1")
    assert assignment_timers("s", [], panel) == [Schedule(EVALUATION_DUE, NOW + timedelta(days=14))]
    assert assignment_timers("s", [], completed(panel, "e-2")) == [Cancel(EVALUATION_DUE)]
