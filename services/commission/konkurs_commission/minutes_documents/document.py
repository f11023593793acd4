"""The minutes laid out once, in one language, as sections of facts, paragraphs and tables:
what the HTML and the PDF renderings print, each in its own way.

Times are printed in the call's time zone, where the meeting was held; every value comes from
the minutes (`domain/minutes.py`), every fixed word from `texts.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from konkurs_commission.domain.events import DecidedCandidate, Tally
from konkurs_commission.domain.minutes import CandidateRecord, Minutes
from konkurs_commission.minutes_documents.texts import LANGUAGES, TEXTS


@dataclass(frozen=True)
class Facts:
    """Labelled values, one a line."""

    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    """A table with a header row; `widths` are the columns' shares of the page, in percent."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[int, ...]


Block = Facts | Paragraph | Table


@dataclass(frozen=True)
class Section:
    """A heading (level 2 for a part of the minutes, 3 within one) and what follows it."""

    heading: str
    blocks: tuple[Block, ...]
    level: int = 2


@dataclass(frozen=True)
class Document:
    lang: str
    title: str
    # The meeting's identity, and for an applicant's extract what was removed.
    preamble: tuple[Block, ...]
    sections: tuple[Section, ...]
    # The footer's "page {page} of {pages}", placeholders left for the renderer.
    page: str


class UnknownLanguage(ValueError):
    """A language the minutes are not kept in."""


def _zone(name: str) -> ZoneInfo:
    # The call's time zone was checked when the call was announced; a name this machine's
    # time zone database no longer knows still prints the minutes, in UTC.
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


class _Layout:
    """Builds the document of `m` in `lang`."""

    def __init__(self, m: Minutes, lang: str, redacted_for: str | None) -> None:
        if lang not in LANGUAGES:
            raise UnknownLanguage(f"minutes are kept in {', '.join(LANGUAGES)}, not {lang!r}")
        self.m = m
        self.lang = lang
        self.t = TEXTS[lang]
        self.zone = _zone(m.time_zone)
        self.redacted_for = redacted_for
        self.names = {x.member_id: x.name for x in m.members}
        self.registrations = {c.application_id: c.registration_number for c in m.candidates}

    def when(self, at: datetime) -> str:
        local = at.astimezone(self.zone)
        offset = local.strftime("%z")
        shown = local.strftime("%Y-%m-%d %H:%M" if self.lang == "en" else "%d.%m.%Y %H:%M")
        return f"{shown} (UTC{offset[:3]}:{offset[3:]})"

    def yes_no(self, value: bool) -> str:
        return self.t["yes"] if value else self.t["no"]

    def listed(self, values: tuple[str, ...] | list[str]) -> str:
        return ", ".join(values) if values else self.t["none"]

    def member(self, member_id: str) -> str:
        return self.names.get(member_id, member_id)

    def role(self, role: str) -> str:
        return self.t.get(f"role_{role}", role)

    def choice(self, choice: str) -> str:
        return self.t.get(f"choice_{choice}", choice)

    def registration(self, application_id: str) -> str:
        return self.registrations.get(application_id, application_id)

    def document(self) -> Document:
        m, t = self.m, self.t
        preamble: list[Block] = [
            Facts(((t["meeting_id"], m.meeting_id), (t["call"], m.call_id))),
        ]
        if self.redacted_for is not None:
            registration = self.registration(self.redacted_for)
            preamble.append(Paragraph(t["redacted"].format(application=registration)))
        return Document(
            lang=self.lang,
            title=t["title"],
            preamble=tuple(preamble),
            sections=(
                self.meeting(),
                self.agenda(),
                self.composition(),
                self.attendance(),
                self.recusals(),
                Section(t["section_votes"], ()),
                *(self.candidate(c) for c in m.candidates),
                self.dissents(),
                self.decision(),
                self.approvals(),
            ),
            page=t["page"],
        )

    def meeting(self) -> Section:
        m, t = self.m, self.t
        opened = self.when(m.opened_at) if m.opened_at is not None else t["not_opened"]
        return Section(
            t["section_meeting"],
            (
                Facts(
                    (
                        (t["scheduled_for"], self.when(m.scheduled_for)),
                        (t["venue"], m.venue),
                        (t["time_zone"], m.time_zone),
                        (t["opened_at"], opened),
                    )
                ),
            ),
        )

    def agenda(self) -> Section:
        m, t = self.m, self.t
        facts = [
            (t["ranking_event"], m.ranking_event_id),
            (t["ranking_hash"], m.ranking_content_hash),
        ]
        reconsidered = [c.registration_number for c in m.candidates if c.reconsidered]
        if reconsidered:
            facts.append((t["reconsidered"], self.listed(reconsidered)))
        return Section(
            t["section_agenda"],
            (
                Paragraph(t["agenda_text"].format(version=m.ranking_version, quota=m.quota)),
                Facts(tuple(facts)),
            ),
        )

    def composition(self) -> Section:
        m, t = self.m, self.t
        present = set(m.attendance.present_at_end) if m.attendance is not None else set()
        rows = tuple(
            (str(i), x.name, x.position, self.role(x.role), self.yes_no(x.member_id in present))
            for i, x in enumerate(m.members, start=1)
        )
        return Section(
            t["section_members"].format(version=m.composition_version),
            (
                Table(
                    ("№", t["name"], t["position"], t["role"], t["present"]),
                    rows,
                    (6, 28, 38, 16, 12),
                ),
            ),
        )

    def attendance(self) -> Section:
        m, t = self.m, self.t
        a = m.attendance
        if a is None:
            return Section(t["section_attendance"], (Paragraph(t["not_opened"]),))
        total = len(m.members)
        blocks: list[Block] = [
            Facts(
                (
                    (
                        t["present_at_opening"],
                        t["of_members"].format(present=len(a.present_at_opening), total=total),
                    ),
                    (
                        t["present_at_end"],
                        t["of_members"].format(present=len(a.present_at_end), total=total),
                    ),
                    (t["quorum_required"], str(a.quorum_required)),
                    (t["quorum_met"], self.yes_no(a.quorum_met)),
                )
            )
        ]
        for member_id, change, quorum in a.changes:
            blocks.append(
                Paragraph(
                    t["arrived" if change == "arrived" else "left"].format(
                        member=self.member(member_id), quorum=self.yes_no(quorum)
                    )
                )
            )
        return Section(t["section_attendance"], tuple(blocks))

    def recusals(self) -> Section:
        m, t = self.m, self.t
        if not m.recusals:
            return Section(t["section_recusals"], (Paragraph(t["no_recusals"]),))
        rows = tuple(
            (
                r.member_name,
                r.registration_number or self.registration(r.application_id),
                t["automatic"] if r.automatic else t["declared"],
                self.listed(r.matching_bins),
                r.reason or t["none"],
            )
            for r in m.recusals
        )
        header = (t["member"], t["candidate"], t["kind"], t["matching_bins"], t["reason"])
        return Section(t["section_recusals"], (Table(header, rows, (20, 16, 18, 16, 30)),))

    def tally(self, tally: Tally) -> str:
        return self.t["tally"].format(
            votes_for=tally.votes_for,
            votes_against=tally.votes_against,
            abstentions=tally.abstentions,
            recused=tally.recused,
            not_voted=tally.not_voted,
        )

    def candidate(self, c: CandidateRecord) -> Section:
        t = self.t
        heading = t["candidate_heading"].format(
            rank=c.rank,
            registration=c.registration_number,
            cluster=c.cluster_name,
            region=c.region_code,
        )
        facts = [(t["overall"], c.overall), (t["fundable"], self.yes_no(c.fundable))]
        if c.failed_thresholds:
            facts.append((t["failed_thresholds"], self.listed(c.failed_thresholds)))
        if c.participant_bins:
            facts.append((t["participant_bins"], self.listed(c.participant_bins)))
        if c.reconsidered:
            facts.append((t["reconsidered_mark"], t["yes"]))
        blocks: list[Block] = [Facts(tuple(facts))]
        if not c.vote_held:
            blocks.append(Paragraph(t["no_vote"]))
            return Section(heading, tuple(blocks), level=3)
        if c.votes:
            rows = tuple(
                (
                    v.member_name,
                    self.choice(v.choice),
                    self.listed([self.choice(x) for x in v.replaced]),
                )
                for v in c.votes
            )
            blocks.append(Table((t["member"], t["vote"], t["replaced"]), rows, (45, 20, 35)))
        if c.tally is not None:
            blocks.append(Paragraph(self.tally(c.tally)))
            if c.tally.casting_vote_used:
                blocks.append(Paragraph(t["casting_vote"]))
        if c.carried is not None:
            blocks.append(Facts(((t["carried"], self.yes_no(c.carried)),)))
        return Section(heading, tuple(blocks), level=3)

    def dissents(self) -> Section:
        m, t = self.m, self.t
        if not m.dissenting_opinions:
            return Section(t["section_dissents"], (Paragraph(t["no_dissents"]),))
        blocks: list[Block] = []
        for d in m.dissenting_opinions:
            about = (
                t["on_candidate"].format(registration=self.registration(d.application_id))
                if d.application_id
                else t["on_decision"]
            )
            blocks.append(Facts(((f"{d.member_name}, {about}", d.text),)))
        return Section(t["section_dissents"], tuple(blocks))

    def decided(self, d: DecidedCandidate, text: str) -> tuple[str, ...]:
        tally = self.tally(d.tally) if d.tally is not None else self.t["no_vote"]
        return (str(d.rank), d.registration_number, tally, text or self.t["none"])

    def decision(self) -> Section:
        m, t = self.m, self.t
        d = m.decision
        if d is None:
            return Section(t["section_decision"], (Paragraph(t["not_decided"]),))
        header = (t["rank"], t["registration"])
        return Section(
            t["section_decision"],
            (
                Facts(((t["decided_at"], self.when(d.decided_at)),)),
                Paragraph(t["selected"]),
                Table(
                    (*header, t["result"], t["rationale"]),
                    tuple(self.decided(x, x.rationale) for x in d.selected),
                    (16, 20, 32, 32),
                ),
                Paragraph(t["declined"]),
                Table(
                    (*header, t["result"], t["reason"]),
                    tuple(self.decided(x, x.reason) for x in d.declined),
                    (16, 20, 32, 32),
                ),
                Facts(
                    (
                        (
                            t["reserve"],
                            self.listed([self.registration(a) for a in d.reserve_application_ids]),
                        ),
                    )
                ),
            ),
        )

    def approvals(self) -> Section:
        m, t = self.m, self.t
        if not m.approvals:
            return Section(t["section_approvals"], (Paragraph(t["no_approvals"]),))
        rows = tuple((a.member_name, self.role(a.role), a.minutes_sha256) for a in m.approvals)
        return Section(
            t["section_approvals"],
            (Table((t["member"], t["role"], t["minutes_sha256"]), rows, (30, 18, 52)),),
        )


def layout(m: Minutes, lang: str, *, redacted_for: str | None = None) -> Document:
    """The minutes `m` laid out in `lang` (ru, kk or en); `redacted_for` names the
    application an applicant's extract was redacted for (`redacted_for` in the domain), so
    the document says so."""
    return _Layout(m, lang, redacted_for).document()
