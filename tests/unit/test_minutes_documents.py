"""The minutes as documents: HTML and PDF in Russian, Kazakh and English print every fact of
the minutes (attendance, quorum, recusals, each vote with the replaced ones, tallies, the
casting vote, dissenting opinions, the decision with rationales and reasons, the reserve
list, approvals) from the one `Minutes` value; hostile strings are escaped in the HTML and
harmless in the PDF; the same minutes give the same bytes; an applicant's extract says so and
holds no other applicant's confidential content."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from html import escape

import pytest
from pypdf import PdfReader

from konkurs_commission.domain.events import (
    AttendanceChanged,
    Candidate,
    DecidedCandidate,
    DecisionTaken,
    DissentingOpinionAttached,
    MeetingOpened,
    MeetingScheduled,
    Member,
    MemberRecused,
    MemberRole,
    MinutesApproved,
    Rules,
    Tally,
    VoteCast,
    VoteChoice,
    VoteClosed,
)
from konkurs_commission.domain.minutes import Minutes, build_minutes, redacted_for
from konkurs_commission.minutes_documents import (
    LANGUAGES,
    UnknownLanguage,
    render_html,
    render_pdf,
)
from konkurs_commission.minutes_documents.texts import TEXTS

AT = datetime(2017, 7, 12, 4, 0, tzinfo=UTC)  # 10:00 in Astana (+06:00)
MEETING = "meeting-2017-1"
HOSTILE = '<script>alert("x")</script> & <b onmouseover=1>'
# Kazakh letters Russian does not have: the Kazakh text must use them.
KAZAKH_LETTERS = set("әғқңөұүһі")
NAMES = {
    "chair": "Асет Исекешев",
    "sec": "Дана Нурпеисова",
    "m1": "Ерлан Сагадиев",
    "m2": HOSTILE,
    "m3": "Гүлнар Әбдіқалықова",
}
BIN_OF_A2 = "990540000014"


def member(member_id: str, role: MemberRole, bins: tuple[str, ...] = ()) -> Member:
    return Member(member_id, role, f"Position of {member_id}", bins)


def candidate(rank: int, bins: tuple[str, ...]) -> Candidate:
    return Candidate(
        application_id=f"app-{rank}",
        registration_number=f"KZ-75-2017-{rank:04d}",
        rank=rank,
        fundable=rank != 3,
        failed_thresholds=("overall",) if rank == 3 else (),
        overall=f"{90 - rank}/1",
        cluster_name=f"Кластер {rank}",
        region_code="KZ-75",
        participant_bins=bins,
        coordinator_bin=bins[0],
    )


def cast(app: str, who: str, choice: VoteChoice, replaces: VoteChoice | None = None) -> VoteCast:
    return VoteCast(MEETING, app, who, choice, replaces)


def minutes(names: dict[str, str] = NAMES) -> Minutes:
    """Three candidates, quota 2: app-1 carried (m1 changed their vote), app-2 carried by the
    chair's casting vote with m3 recused, app-3 (below a threshold) not carried; a dissent on
    app-2 with a hostile text; both approvals."""
    members = (
        member("chair", MemberRole.CHAIR),
        member("sec", MemberRole.SECRETARY),
        member("m1", MemberRole.MEMBER),
        member("m2", MemberRole.MEMBER),
        member("m3", MemberRole.MEMBER, (BIN_OF_A2,)),
    )
    t1 = Tally(votes_for=4)
    t2 = Tally(votes_for=1, votes_against=1, abstentions=1, recused=1, casting_vote_used=True)
    t3 = Tally(votes_for=1, votes_against=3)
    events: list[object] = [
        MeetingScheduled(
            meeting_id=MEETING,
            call_id="kz-clusters-2017",
            scheduled_for=AT,
            venue=f"Astana, room 1204 {HOSTILE}",
            ranking_event_id="8f1c0a52-ranking",
            ranking_version=1,
            ranking_content_hash="c0ffee" * 10 + "abcd",
            candidates=(
                candidate(1, ("990140000001",)),
                candidate(2, ("990240000002", BIN_OF_A2)),
                candidate(3, ("990340000003",)),
            ),
            quota=2,
            composition_version=1,
            members=members,
            reconsidered=(),
            time_zone="Asia/Almaty",
            rules=Rules(),
        ),
        MeetingOpened(MEETING, ("chair", "sec", "m1", "m3"), 4, True, AT + timedelta(minutes=5)),
        AttendanceChanged(MEETING, "m2", True, True),
        MemberRecused(MEETING, "m3", "app-2", True, (BIN_OF_A2,), "An affiliation takes part."),
        cast("app-1", "m1", VoteChoice.AGAINST),
        cast("app-1", "chair", VoteChoice.FOR),
        cast("app-1", "m2", VoteChoice.FOR),
        cast("app-1", "m3", VoteChoice.FOR),
        cast("app-1", "m1", VoteChoice.FOR, VoteChoice.AGAINST),
        VoteClosed(MEETING, "app-1", t1, True),
        cast("app-2", "chair", VoteChoice.FOR),
        cast("app-2", "m1", VoteChoice.AGAINST),
        cast("app-2", "m2", VoteChoice.ABSTAIN),
        VoteClosed(MEETING, "app-2", t2, True),
        DissentingOpinionAttached(MEETING, "m1", "app-2", f"Not convinced {HOSTILE}"),
        cast("app-3", "chair", VoteChoice.AGAINST),
        cast("app-3", "m1", VoteChoice.AGAINST),
        cast("app-3", "m2", VoteChoice.AGAINST),
        cast("app-3", "m3", VoteChoice.FOR),
        VoteClosed(MEETING, "app-3", t3, False),
        DecisionTaken(
            MEETING,
            "kz-clusters-2017",
            selected=(
                DecidedCandidate("app-1", "KZ-75-2017-0001", 1, t1),
                DecidedCandidate("app-2", "KZ-75-2017-0002", 2, t2),
            ),
            declined=(DecidedCandidate("app-3", "KZ-75-2017-0003", 3, t3, reason="not carried"),),
            reserve_application_ids=("app-3",),
            decided_at=AT + timedelta(hours=2),
        ),
        MinutesApproved(MEETING, "chair", MemberRole.CHAIR, "ab" * 32),
        MinutesApproved(MEETING, "sec", MemberRole.SECRETARY, "ab" * 32),
    ]
    return build_minutes(events, names=names)


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def squeezed(text: str) -> str:
    """Text without whitespace: a PDF's extracted text breaks lines where the page did."""
    return re.sub(r"\s+", "", text)


def test_every_language_has_the_same_fixed_texts_and_the_kazakh_is_kazakh() -> None:
    keys = set(TEXTS["ru"])
    assert all(set(TEXTS[lang]) == keys for lang in LANGUAGES)
    kazakh = " ".join(TEXTS["kk"].values())
    assert KAZAKH_LETTERS & set(kazakh.lower()) == KAZAKH_LETTERS - {"һ"}
    # Transliterated Russian would share the sentences; Kazakh shares almost none.
    shared = [
        k
        for k in keys
        if TEXTS["kk"][k] == TEXTS["ru"][k] and len(re.findall("[а-яё]", TEXTS["ru"][k])) > 6
    ]
    assert shared == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_html_prints_every_fact_of_the_minutes(lang: str) -> None:
    t = TEXTS[lang]
    page = render_html(minutes(), lang)
    assert page.startswith("<!DOCTYPE html>") and f'<html lang="{lang}">' in page
    for fixed in ("title", "section_recusals", "section_dissents", "casting_vote", "reserve"):
        assert escape(t[fixed]) in page
    for name in ("Асет Исекешев", "Ерлан Сагадиев", "Гүлнар Әбдіқалықова"):
        assert name in page
    # Times in the call's time zone: 10:00 in Astana.
    assert "10:00 (UTC+06:00)" in page
    assert "c0ffee" * 10 + "abcd" in page
    assert (
        t["tally"].format(votes_for=1, votes_against=1, abstentions=1, recused=1, not_voted=0)
        in page
    )
    # m1's first vote, replaced: printed in the row of the vote that counted.
    assert f"<td>{t['choice_for']}</td><td>{t['choice_against']}</td>" in page
    assert "990540000014" in page and "not carried" in page and "ab" * 32 in page


@pytest.mark.parametrize("lang", LANGUAGES)
def test_hostile_strings_are_escaped_in_the_html(lang: str) -> None:
    page = render_html(minutes(), lang)
    assert "<script>" not in page and "<b onmouseover" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b onmouseover=1&gt;" in page
    # The only tags are the page's own.
    tags = set(re.findall(r"</?([a-z0-9]+)", page))
    assert tags <= {
        "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p",
        "dl", "dt", "dd", "table", "colgroup", "col", "thead", "tbody", "tr", "th", "td",
    }  # fmt: skip


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_pdf_holds_the_minutes_text_in_its_language(lang: str) -> None:
    t = TEXTS[lang]
    data = render_pdf(minutes(), lang)
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    assert reader.metadata is not None and reader.metadata.title == t["title"]
    text = squeezed(pdf_text(data))
    for fixed in (t["title"], t["section_recusals"], t["casting_vote"], t["section_approvals"]):
        assert squeezed(fixed) in text
    for value in ("АсетИсекешев", "ГүлнарӘбдіқалықова", "KZ-75-2017-0002", "990540000014"):
        assert value in text
    assert squeezed(HOSTILE) in text
    assert "10:00(UTC+06:00)" in text


def test_the_pdf_drops_control_and_direction_characters_and_still_renders() -> None:
    names = {**NAMES, "m1": "Ерлан\x00 \u202eСагадиев\x07"}
    text = squeezed(pdf_text(render_pdf(minutes(names), "kk")))
    assert "ЕрланСагадиев" in text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_same_minutes_give_the_same_bytes(lang: str) -> None:
    assert render_pdf(minutes(), lang) == render_pdf(minutes(), lang)
    assert render_html(minutes(), lang) == render_html(minutes(), lang)


def test_an_applicants_extract_says_so_and_holds_no_other_applicants_confidential_content() -> None:
    extract = redacted_for(minutes(), "app-1")
    page = render_html(extract, "ru", redacted_for="app-1")
    assert TEXTS["ru"]["redacted"].format(application="KZ-75-2017-0001") in page
    assert BIN_OF_A2 not in page and "Not convinced" not in page
    assert "990140000001" in page
    text = squeezed(pdf_text(render_pdf(extract, "en", redacted_for="app-1")))
    assert BIN_OF_A2 not in text and "Notconvinced" not in text


def test_a_language_the_minutes_are_not_kept_in_is_refused() -> None:
    with pytest.raises(UnknownLanguage):
        render_html(minutes(), "de")
