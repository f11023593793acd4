"""The applications scoring learned from intake's events: facts it was told, not an aggregate.

Scoring keeps the latest of each (content, region, the BINs of its coordinator and
participants, withdrawn or not) to screen it, to keep experts with a conflict away from it
and to show its content to the experts assigned to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ParticipantKind(StrEnum):
    """What kind of organisation a participant is (intake's ParticipantKind)."""

    UNSPECIFIED = "unspecified"
    LARGE_ENTERPRISE = "large_enterprise"
    SME = "sme"
    UNIVERSITY = "university"
    RESEARCH_ORGANISATION = "research_organisation"
    PUBLIC_BODY = "public_body"
    OTHER = "other"


@dataclass(frozen=True)
class KnownApplication:
    """An application as scoring last learned it: version `version` of intake's stream."""

    application_id: str
    call_id: str
    registration_number: str
    region_code: str
    coordinator_bin: str
    # In the order the application lists them; `participant_kinds` runs alongside.
    participant_bins: tuple[str, ...]
    # The intake ApplicationContent of the latest revision, as protobuf bytes.
    content: bytes
    withdrawn: bool
    submitted_at: datetime
    version: int = 1
    participant_kinds: tuple[ParticipantKind, ...] = ()
    # Kinds of every document filed: with the latest revision or attached after it.
    document_kinds: tuple[str, ...] = ()
    # OKED code (5 digits) of the cluster's core activity.
    primary_oked_code: str = ""

    @property
    def bins(self) -> frozenset[str]:
        """Every organisation that takes part: the coordinator and the participants."""
        return frozenset((self.coordinator_bin, *self.participant_bins)) - {""}

    @property
    def oked_section(self) -> str:
        """The OKED section (a letter) of the cluster's core activity; empty if unknown."""
        return oked_section(self.primary_oked_code)


# OKED (like NACE rev. 2) sections by the first two digits of a code: (last division, section).
_SECTIONS = (
    (3, "A"), (9, "B"), (33, "C"), (35, "D"), (39, "E"), (43, "F"), (47, "G"), (53, "H"),
    (56, "I"), (63, "J"), (66, "K"), (68, "L"), (75, "M"), (82, "N"), (84, "O"), (85, "P"),
    (88, "Q"), (93, "R"), (96, "S"), (98, "T"), (99, "U"),
)  # fmt: skip


def oked_section(code: str) -> str:
    """The section letter of an OKED code ("31090" -> "C"); empty for a malformed code."""
    if len(code) < 2 or not code[:2].isdigit():
        return ""
    division = int(code[:2])
    return next((section for last, section in _SECTIONS if division <= last), "")
