"""What scoring knows of a call: the terms it evaluates applications by.

Scoring learns them from intake's events alone (it never calls intake), so these are facts
it was told, not commands it decides on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class EligibilityRules:
    """The call's formal gates (0 or empty: no such gate)."""

    min_participants: int = 0
    min_sme_share_percent: int = 0
    require_university_or_research: bool = False
    required_document_kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class AssignmentTerms:
    """What the methodology says about experts, with issue 8's defaults for older calls."""

    experts_per_application: int = 3
    # Never assign an expert who lives or works in the application's region.
    exclude_same_region_experts: bool = False
    # Experts see the content without the applicant's names and BINs.
    blind_applicants: bool = False
    # An assignment is due this many days after it is made.
    evaluation_days: int = 14


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
    # The regions whose clusters may apply (ISO 3166-2 codes).
    regions: tuple[str, ...] = ()
    eligibility: EligibilityRules = field(default_factory=EligibilityRules)
    assignment: AssignmentTerms = field(default_factory=AssignmentTerms)


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
