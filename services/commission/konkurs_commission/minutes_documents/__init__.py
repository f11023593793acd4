"""The minutes of a meeting as documents: HTML and PDF, in Russian, Kazakh and English.

Both are renderings of the one `Minutes` value (`domain/minutes.py`) laid out once
(`document.py`) with the fixed text of `texts.py`; neither adds a fact of its own.
"""

from __future__ import annotations

from konkurs_commission.domain.minutes import Minutes
from konkurs_commission.minutes_documents.document import UnknownLanguage, layout
from konkurs_commission.minutes_documents.html import to_html
from konkurs_commission.minutes_documents.pdf import to_pdf
from konkurs_commission.minutes_documents.texts import LANGUAGES

__all__ = ["LANGUAGES", "UnknownLanguage", "render_html", "render_pdf"]


def render_html(m: Minutes, lang: str, *, redacted_for: str | None = None) -> str:
    """The minutes as an HTML page in `lang` (ru, kk or en); `redacted_for` names the
    application an applicant's extract is for, which the page then says."""
    return to_html(layout(m, lang, redacted_for=redacted_for))


def render_pdf(m: Minutes, lang: str, *, redacted_for: str | None = None) -> bytes:
    """The minutes as a PDF document in `lang`, dated the meeting's last recorded moment
    (so the same minutes give the same bytes)."""
    dated = max(
        t
        for t in (m.scheduled_for, m.opened_at, m.decision.decided_at if m.decision else None)
        if t is not None
    )
    return to_pdf(layout(m, lang, redacted_for=redacted_for), dated=dated)
