"""The minutes of a meeting: everything they print, built from the meeting's events alone.

`build_minutes` is a pure function of the events (and the members' opened names), so
replaying the same events gives the same minutes, and `canonical_json` the same bytes. The
documents (HTML, PDF, in Russian, Kazakh and English) are renderings of this one value.

`minutes_sha256` is what the chair and the secretary approve (`MinutesApproved` carries it).
It is taken over the minutes without their approvals (the second approver approves the
same content as the first, not the first's approval) and without the members' names: a name
is personal data that an erasure replaces by "[erased]", and the approved hash must still
recompute after that. Each member is in the hash by id, position and role.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from konkurs_commission.domain.events import (
    AttendanceChanged,
    DecidedCandidate,
    DecisionTaken,
    DissentingOpinionAttached,
    MeetingOpened,
    MeetingScheduled,
    MemberRecused,
    MinutesApproved,
    Tally,
    VoteCast,
    VoteClosed,
)

# What the minutes print where a member's name was erased (the key store's ERASED).
ERASED_NAME = "[erased]"


@dataclass(frozen=True)
class MinutesMember:
    member_id: str
    name: str
    position: str
    # "chair", "secretary" or "member".
    role: str


@dataclass(frozen=True)
class Attendance:
    """Who was present at the opening, who came or left later, and the quorum."""

    present_at_opening: tuple[str, ...]
    # (member id, "arrived" or "left", quorum met after it), in order.
    changes: tuple[tuple[str, str, bool], ...]
    # Present when the meeting ended (after the changes).
    present_at_end: tuple[str, ...]
    quorum_required: int
    quorum_met: bool


@dataclass(frozen=True)
class Recusal:
    member_id: str
    member_name: str
    application_id: str
    registration_number: str
    automatic: bool
    matching_bins: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Vote:
    member_id: str
    member_name: str
    # "for", "against" or "abstain": the vote that counted.
    choice: str
    # The member's earlier votes on the candidate it replaced, first first.
    replaced: tuple[str, ...]


@dataclass(frozen=True)
class CandidateRecord:
    application_id: str
    registration_number: str
    rank: int
    cluster_name: str
    region_code: str
    fundable: bool
    failed_thresholds: tuple[str, ...]
    overall: str
    participant_bins: tuple[str, ...]
    reconsidered: bool
    vote_held: bool
    votes: tuple[Vote, ...]
    tally: Tally | None
    carried: bool | None


@dataclass(frozen=True)
class DissentingOpinion:
    member_id: str
    member_name: str
    # Empty for the decision as a whole.
    application_id: str
    text: str


@dataclass(frozen=True)
class Decision:
    selected: tuple[DecidedCandidate, ...]
    declined: tuple[DecidedCandidate, ...]
    reserve_application_ids: tuple[str, ...]
    decided_at: datetime


@dataclass(frozen=True)
class Approval:
    member_id: str
    member_name: str
    role: str
    minutes_sha256: str


@dataclass(frozen=True)
class Minutes:
    """The minutes of one meeting, as printed."""

    meeting_id: str
    call_id: str
    scheduled_for: datetime
    venue: str
    time_zone: str
    opened_at: datetime | None
    ranking_event_id: str
    ranking_version: int
    ranking_content_hash: str
    quota: int
    composition_version: int
    members: tuple[MinutesMember, ...]
    attendance: Attendance | None
    recusals: tuple[Recusal, ...]
    candidates: tuple[CandidateRecord, ...]
    dissenting_opinions: tuple[DissentingOpinion, ...]
    decision: Decision | None
    approvals: tuple[Approval, ...]


def _name(names: Mapping[str, str], member_id: str) -> str:
    return names.get(member_id, ERASED_NAME)


def build_minutes(events: Iterable[object], *, names: Mapping[str, str]) -> Minutes:
    """The minutes of the meeting whose domain events are `events` (in stream order).

    `names` maps member ids to their opened names; an erased or unknown name prints as
    "[erased]". Events after the decision's approval (publication, appeals) are not part of
    the minutes and are ignored, as are events of other kinds.
    """
    scheduled: MeetingScheduled | None = None
    opened: MeetingOpened | None = None
    changes: list[tuple[str, str, bool]] = []
    present: list[str] = []
    quorum_met = False
    recusals: list[Recusal] = []
    # application id -> member id -> (counted vote, replaced votes)
    votes: dict[str, dict[str, tuple[str, list[str]]]] = {}
    held: set[str] = set()
    closed: dict[str, VoteClosed] = {}
    opinions: list[DissentingOpinion] = []
    decision: Decision | None = None
    approvals: list[Approval] = []
    for event in events:
        if isinstance(event, MeetingScheduled):
            scheduled = event
        elif isinstance(event, MeetingOpened):
            opened = event
            present = list(event.present_member_ids)
            quorum_met = event.quorum_met
        elif isinstance(event, AttendanceChanged):
            changes.append(
                (event.member_id, "arrived" if event.present else "left", event.quorum_met)
            )
            if event.present and event.member_id not in present:
                present.append(event.member_id)
            elif not event.present and event.member_id in present:
                present.remove(event.member_id)
            quorum_met = event.quorum_met
        elif isinstance(event, MemberRecused):
            assert scheduled is not None, "a recusal follows the scheduling"
            recusals.append(
                Recusal(
                    member_id=event.member_id,
                    member_name=_name(names, event.member_id),
                    application_id=event.application_id,
                    registration_number=next(
                        (
                            c.registration_number
                            for c in scheduled.candidates
                            if c.application_id == event.application_id
                        ),
                        "",
                    ),
                    automatic=event.automatic,
                    matching_bins=event.matching_bins,
                    reason=event.reason,
                )
            )
        elif isinstance(event, VoteCast):
            held.add(event.application_id)
            on = votes.setdefault(event.application_id, {})
            before = on.get(event.member_id)
            replaced = [] if before is None else [*before[1], before[0]]
            on[event.member_id] = (event.choice.value, replaced)
        elif isinstance(event, VoteClosed):
            held.add(event.application_id)
            closed[event.application_id] = event
        elif isinstance(event, DissentingOpinionAttached):
            opinions.append(
                DissentingOpinion(
                    event.member_id,
                    _name(names, event.member_id),
                    event.application_id,
                    event.text,
                )
            )
        elif isinstance(event, DecisionTaken):
            decision = Decision(
                event.selected, event.declined, event.reserve_application_ids, event.decided_at
            )
        elif isinstance(event, MinutesApproved):
            approvals.append(
                Approval(
                    event.member_id,
                    _name(names, event.member_id),
                    event.role.value,
                    event.minutes_sha256,
                )
            )
    if scheduled is None:
        raise ValueError("a meeting's minutes start with its MeetingScheduled event")
    order = [m.member_id for m in scheduled.members]
    candidates = []
    for c in scheduled.candidates:
        cast = votes.get(c.application_id, {})
        close = closed.get(c.application_id)
        candidates.append(
            CandidateRecord(
                application_id=c.application_id,
                registration_number=c.registration_number,
                rank=c.rank,
                cluster_name=c.cluster_name,
                region_code=c.region_code,
                fundable=c.fundable,
                failed_thresholds=c.failed_thresholds,
                overall=c.overall,
                participant_bins=c.participant_bins,
                reconsidered=c.application_id in scheduled.reconsidered,
                vote_held=c.application_id in held,
                # In the composition's order, whatever order the votes came in.
                votes=tuple(
                    Vote(m, _name(names, m), cast[m][0], tuple(cast[m][1]))
                    for m in order
                    if m in cast
                ),
                tally=None if close is None else close.tally,
                carried=None if close is None else close.carried,
            )
        )
    attendance = None
    if opened is not None:
        attendance = Attendance(
            present_at_opening=opened.present_member_ids,
            changes=tuple(changes),
            present_at_end=tuple(m for m in order if m in present),
            quorum_required=opened.quorum_required,
            quorum_met=quorum_met,
        )
    return Minutes(
        meeting_id=scheduled.meeting_id,
        call_id=scheduled.call_id,
        scheduled_for=scheduled.scheduled_for,
        venue=scheduled.venue,
        time_zone=scheduled.time_zone,
        opened_at=None if opened is None else opened.opened_at,
        ranking_event_id=scheduled.ranking_event_id,
        ranking_version=scheduled.ranking_version,
        ranking_content_hash=scheduled.ranking_content_hash,
        quota=scheduled.quota,
        composition_version=scheduled.composition_version,
        members=tuple(
            MinutesMember(m.member_id, _name(names, m.member_id), m.position, m.role.value)
            for m in scheduled.members
        ),
        attendance=attendance,
        recusals=tuple(recusals),
        candidates=tuple(candidates),
        dissenting_opinions=tuple(opinions),
        decision=decision,
        approvals=tuple(approvals),
    )


def _plain(value: Any) -> Any:
    """The JSON value of a minutes field: dataclasses as objects, datetimes in ISO 8601."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        # In UTC: the same instant gives the same bytes whichever offset it was written with
        # (a command's local time, or the UTC an event decodes to).
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def canonical_json(m: Minutes) -> bytes:
    """The minutes as canonical JSON: sorted keys, no spaces, UTF-8, instants in UTC."""
    return json.dumps(_plain(m), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _anonymous(m: Minutes) -> Minutes:
    """`m` with every member's name blank (see the module's docstring for why)."""

    def blank(item: Any) -> Any:
        return dataclasses.replace(item, member_name="")

    return dataclasses.replace(
        m,
        members=tuple(dataclasses.replace(x, name="") for x in m.members),
        recusals=tuple(blank(r) for r in m.recusals),
        candidates=tuple(
            dataclasses.replace(c, votes=tuple(blank(v) for v in c.votes)) for c in m.candidates
        ),
        dissenting_opinions=tuple(blank(d) for d in m.dissenting_opinions),
        approvals=(),
    )


def minutes_sha256(m: Minutes) -> str:
    """SHA-256 (lowercase hex) of the canonical JSON of the minutes as approved: without
    their approvals and the members' names."""
    return hashlib.sha256(canonical_json(_anonymous(m))).hexdigest()


def redacted_for(m: Minutes, application_id: str) -> Minutes:
    """What the applicant of `application_id` may see of the minutes.

    Other applicants' confidential content goes: their participants' BINs, the BINs and
    declared reasons of recusals on them (a reason may name a participant) and dissenting
    opinions about them. What the commission did stays: attendance, each member's vote on
    every candidate, tallies and the decision with its rationales. The members' names stay
    too: they are public officials acting in office, and an applicant must be able to see
    who decided, and whether someone with a conflict of interest took part, to appeal on
    procedure.
    """

    def own(other: str) -> bool:
        return other == application_id

    return dataclasses.replace(
        m,
        candidates=tuple(
            c if own(c.application_id) else dataclasses.replace(c, participant_bins=())
            for c in m.candidates
        ),
        recusals=tuple(
            r
            if own(r.application_id)
            else dataclasses.replace(
                r, matching_bins=(), reason="" if not r.automatic else r.reason
            )
            for r in m.recusals
        ),
        dissenting_opinions=tuple(
            d for d in m.dissenting_opinions if d.application_id in ("", application_id)
        ),
    )
