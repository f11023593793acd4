"""What scoring knows of a call: the terms it evaluates applications by.

Scoring learns them from intake's events alone (it never calls intake), so these are facts
it was told, not commands it decides on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class CallTerms:
    """A call's terms as announced or last amended: version `version` of intake's stream."""

    call_id: str
    version: int
    closes_at: datetime
    quota: int
    # The methodology as published (criteria, weights, scales, thresholds), field by field.
    methodology: Mapping[str, Any]
    # The whole definition as intake encoded it, kept for the evaluation to come.
    definition: bytes


@dataclass(frozen=True)
class CallClosing:
    """The call closed: evaluation of its applications can begin."""

    call_id: str
    closed_at: datetime


@dataclass(frozen=True)
class KnownCall:
    """A call as scoring knows it now."""

    terms: CallTerms
    closed_at: datetime | None
