"""The `commission_meetings` read model: each meeting of a commission from its scheduling to
the end of its appeal window: the agenda (the ranking version decided on, by event id and
content hash), the members as they sat with their attendance, the quorum, each candidate with
its vote's tally and the decision on it (selected with a rationale, declined with a reason,
the reserve list), the minutes' approvals and the publication.

Every event of a meeting's stream updates the meeting's row to its version, and the rows it
touches in the other tables in the same transaction, so the meeting row's version says which
of the stream's events the three tables have seen: one the relay published twice is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from konkurs.commission.v1 import events_pb2 as pb
from konkurs_platform.db import Connection
from konkurs_platform.envelope import Envelope
from konkurs_readside.projections.commission_members import member_row, role_name
from konkurs_readside.projections.rows import Fold, Table
from konkurs_readside.storable import decode_storable

_MESSAGES: dict[str, Any] = {
    m.DESCRIPTOR.full_name: m
    for m in (
        pb.MeetingScheduled,
        pb.MeetingOpened,
        pb.AttendanceChanged,
        pb.VoteOpened,
        pb.VoteClosed,
        pb.DecisionTaken,
        pb.MinutesApproved,
        pb.DecisionPublished,
        pb.WinnerReplaced,
        pb.AppealWindowClosed,
    )
}
EVENT_TYPES = frozenset(_MESSAGES)
TABLES = ("commission_meetings", "commission_meeting_members", "commission_candidates")

SCHEDULED, OPENED, WITHOUT_QUORUM, DECIDED, PUBLISHED = (
    "scheduled",
    "opened",
    "without_quorum",
    "decided",
    "published",
)
SELECTED, DECLINED = "selected", "declined"

MEETINGS = Table(
    "commission_meetings",
    ("meeting_id",),
    (
        "meeting_id",
        "call_id",
        "status",
        "scheduled_for",
        "venue",
        "ranking_event_id",
        "ranking_version",
        "ranking_content_hash",
        "quota",
        "composition_version",
        "time_zone",
        "reconsidered",
        "opened_at",
        "quorum_required",
        "quorum_met",
        "present_member_ids",
        "decided_at",
        "reserve",
        "approvals",
        "minutes_sha256",
        "published_at",
        "appeals_close_at",
        "appeal_window_closed_at",
        "last_changed_at",
        "stream_version",
        "last_event_id",
    ),
    frozenset({"approvals"}),
)
MEMBERS = Table(
    "commission_meeting_members",
    ("meeting_id", "member_id"),
    (
        "meeting_id",
        "member_id",
        "role",
        "position",
        "affiliation_bins",
        "ordinal",
        "present",
        "stream_version",
        "last_event_id",
    ),
)
CANDIDATES = Table(
    "commission_candidates",
    ("meeting_id", "application_id"),
    (
        "meeting_id",
        "application_id",
        "call_id",
        "registration_number",
        "rank",
        "fundable",
        "failed_thresholds",
        "overall",
        "cluster_name",
        "region_code",
        "participant_bins",
        "reconsidered",
        "vote",
        "tally",
        "carried",
        "outcome",
        "rationale",
        "reason",
        "reserve_position",
        "published",
        "from_reserve",
        "replaced_cause",
        "replaced_reason",
        "stream_version",
        "last_event_id",
    ),
    frozenset({"tally"}),
)


class UnknownMeeting(Exception):
    """An event of a meeting whose `MeetingScheduled` the read model never saw."""


def tally(t: pb.Tally) -> dict[str, Any]:
    """A tally as the read model stores it."""
    return {
        "votes_for": t.votes_for,
        "votes_against": t.votes_against,
        "abstentions": t.abstentions,
        "recused": t.recused,
        "not_voted": t.not_voted,
        "casting_vote_used": t.casting_vote_used,
    }


def _at(ts: Any) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)  # type: ignore[no-any-return]


class _Batch:
    """The three tables' rows of the batch's meetings, folded in memory."""

    def __init__(self, meetings: Fold, members: Fold, candidates: Fold) -> None:
        self.meetings = meetings
        self.members = members
        self.candidates = candidates

    def candidate(self, meeting_id: str, application_id: str) -> dict[str, Any]:
        found = self.candidates.rows.get((meeting_id, application_id))
        if found is None:
            raise UnknownMeeting(f"no candidate {application_id!r} in meeting {meeting_id!r}")
        return {**found}

    def apply(self, e: Envelope, msg: Any) -> None:
        key = (msg.meeting_id,)
        if not self.meetings.fresh(key, e):
            return
        if isinstance(msg, pb.MeetingScheduled):
            self._scheduled(e, msg)
            return
        found = self.meetings.rows.get(key)
        if found is None:
            raise UnknownMeeting(f"{e.event_type} for an unknown meeting {msg.meeting_id!r}")
        meeting = {**found, "last_changed_at": e.occurred_at}
        if isinstance(msg, pb.MeetingOpened):
            present = set(msg.present_member_ids)
            meeting.update(
                status=OPENED if msg.quorum_met else WITHOUT_QUORUM,
                opened_at=_at(msg.opened_at),
                quorum_required=msg.quorum_required,
                quorum_met=msg.quorum_met,
                present_member_ids=sorted(present),
            )
            for (meeting_id, member_id), row in list(self.members.rows.items()):
                if meeting_id == msg.meeting_id:
                    self.members.put({**row, "present": member_id in present}, e)
        elif isinstance(msg, pb.AttendanceChanged):
            present = set(meeting["present_member_ids"]) - {msg.member_id}
            if msg.present:
                present.add(msg.member_id)
            meeting.update(present_member_ids=sorted(present), quorum_met=msg.quorum_met)
            member = self.members.rows.get((msg.meeting_id, msg.member_id))
            if member is not None:
                self.members.put({**member, "present": msg.present}, e)
        elif isinstance(msg, pb.VoteOpened):
            row = self.candidate(msg.meeting_id, msg.application_id)
            self.candidates.put({**row, "vote": "open"}, e)
        elif isinstance(msg, pb.VoteClosed):
            row = self.candidate(msg.meeting_id, msg.application_id)
            self.candidates.put(
                {**row, "vote": "closed", "tally": tally(msg.tally), "carried": msg.carried}, e
            )
        elif isinstance(msg, (pb.DecisionTaken, pb.DecisionPublished)):
            self._decided(e, msg, meeting)
        elif isinstance(msg, pb.MinutesApproved):
            meeting["approvals"] = [
                *meeting["approvals"],
                {
                    "member_id": msg.member_id,
                    "role": role_name(msg.role),
                    "minutes_sha256": msg.minutes_sha256,
                    "approved_at": e.occurred_at.isoformat(),
                },
            ]
            meeting["minutes_sha256"] = msg.minutes_sha256
        elif isinstance(msg, pb.WinnerReplaced):
            self._replaced(e, msg, meeting)
        else:
            meeting["appeal_window_closed_at"] = _at(msg.closed_at)
        self.meetings.put(meeting, e)

    def _scheduled(self, e: Envelope, msg: pb.MeetingScheduled) -> None:
        reconsidered = set(msg.reconsidered)
        self.meetings.put(
            {
                "meeting_id": msg.meeting_id,
                "call_id": msg.call_id,
                "status": SCHEDULED,
                "scheduled_for": _at(msg.scheduled_for),
                "venue": msg.venue,
                "ranking_event_id": msg.ranking_event_id,
                "ranking_version": msg.ranking_version,
                "ranking_content_hash": msg.ranking_content_hash,
                "quota": msg.quota,
                "composition_version": msg.composition_version,
                "time_zone": msg.time_zone,
                "reconsidered": list(msg.reconsidered),
                "opened_at": None,
                "quorum_required": None,
                "quorum_met": None,
                "present_member_ids": [],
                "decided_at": None,
                "reserve": [],
                "approvals": [],
                "minutes_sha256": None,
                "published_at": None,
                "appeals_close_at": None,
                "appeal_window_closed_at": None,
                "last_changed_at": e.occurred_at,
            },
            e,
        )
        for ordinal, member in enumerate(msg.members, start=1):
            self.members.put(
                {
                    "meeting_id": msg.meeting_id,
                    "present": False,
                    **member_row(member, ordinal),
                },
                e,
            )
        for c in msg.candidates:
            self.candidates.put(
                {
                    "meeting_id": msg.meeting_id,
                    "application_id": c.application_id,
                    "call_id": msg.call_id,
                    "registration_number": c.registration_number,
                    "rank": c.rank,
                    "fundable": c.fundable,
                    "failed_thresholds": list(c.failed_thresholds),
                    "overall": c.overall,
                    "cluster_name": c.cluster_name,
                    "region_code": c.region_code,
                    "participant_bins": list(c.participant_bins),
                    "reconsidered": c.application_id in reconsidered,
                    "vote": "none",
                    "tally": None,
                    "carried": None,
                    "outcome": None,
                    "rationale": "",
                    "reason": "",
                    "reserve_position": None,
                    "published": False,
                    "from_reserve": False,
                    "replaced_cause": None,
                    "replaced_reason": None,
                },
                e,
            )

    def _decided(
        self, e: Envelope, msg: pb.DecisionTaken | pb.DecisionPublished, meeting: dict[str, Any]
    ) -> None:
        """The decision as taken, or as published (which repeats it and makes it public)."""
        published = isinstance(msg, pb.DecisionPublished)
        reserve = list(msg.reserve_application_ids)
        if isinstance(msg, pb.DecisionPublished):
            meeting.update(
                status=PUBLISHED,
                published_at=_at(msg.published_at),
                appeals_close_at=_at(msg.appeals_close_at),
                minutes_sha256=msg.minutes_sha256,
            )
        else:
            meeting.update(status=DECIDED, decided_at=_at(msg.decided_at))
        meeting["reserve"] = reserve
        for outcome, decided in ((SELECTED, msg.selected), (DECLINED, msg.declined)):
            for d in decided:
                row = self.candidate(msg.meeting_id, d.application_id)
                row.update(
                    outcome=outcome,
                    rationale=d.rationale,
                    reason=d.reason,
                    reserve_position=(
                        reserve.index(d.application_id) + 1 if d.application_id in reserve else None
                    ),
                    published=published,
                )
                if d.HasField("tally"):
                    row["tally"] = tally(d.tally)
                self.candidates.put(row, e)

    def _replaced(self, e: Envelope, msg: pb.WinnerReplaced, meeting: dict[str, Any]) -> None:
        """A winner leaves; the first on the reserve list, if any, takes the place."""
        leaving = self.candidate(msg.meeting_id, msg.withdrawn_application_id)
        leaving.update(replaced_cause=msg.cause, replaced_reason=msg.reason)
        self.candidates.put(leaving, e)
        if msg.replacement_application_id:
            reserve = [a for a in meeting["reserve"] if a != msg.replacement_application_id]
            meeting["reserve"] = reserve
            row = self.candidate(msg.meeting_id, msg.replacement_application_id)
            row.update(outcome=SELECTED, from_reserve=True, reserve_position=None)
            self.candidates.put(row, e)
            # The places of those still waiting move up with the list.
            for position, application_id in enumerate(reserve, start=1):
                waiting = self.candidate(msg.meeting_id, application_id)
                if waiting["reserve_position"] != position:
                    self.candidates.put({**waiting, "reserve_position": position}, e)


async def apply_batch(conn: Connection, schema: str, events: Sequence[Envelope]) -> None:
    """Fold the batch's meeting events onto their meetings, members and candidates."""
    decoded = [(e, decode_storable(_MESSAGES[e.event_type], e.payload)) for e in events]
    ids = [m.meeting_id for _, m in decoded]
    batch = _Batch(
        await MEETINGS.load(conn, schema, "meeting_id", ids),
        await MEMBERS.load(conn, schema, "meeting_id", ids),
        await CANDIDATES.load(conn, schema, "meeting_id", ids),
    )
    for e, msg in decoded:
        batch.apply(e, msg)
    for fold in (batch.meetings, batch.members, batch.candidates):
        await fold.save(conn, schema)
