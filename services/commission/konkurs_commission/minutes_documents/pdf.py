"""The minutes as a PDF document (A4, fpdf2), in DejaVu Sans, which this package ships with
its licence (fonts/): it covers Cyrillic with the Kazakh letters, which the PDF standard fonts
do not. The fonts are embedded as subsets, so the file is read the same anywhere.

The PDF is a function of the minutes: its dates are the meeting's, not the clock's, so the same
minutes give the same bytes.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import WrapMode, XPos, YPos

from konkurs_commission.minutes_documents.document import Block, Document, Facts, Paragraph, Table

FONTS = Path(__file__).parent / "fonts"
_FAMILY = "DejaVu"
_LINE = 5.0


def printable(value: str) -> str:
    """`value` without control and format characters (a NUL or a bidirectional override in a
    member's text would otherwise reach the page as a glyph that is not there, or reorder
    what follows it); line breaks and tabs become spaces within a cell."""
    return "".join(
        " " if ch in "\t\r\n" else ch
        for ch in value
        if ch in "\t\r\n" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )


class _Pdf(FPDF):
    def __init__(self, doc: Document) -> None:
        super().__init__(format="A4")
        self.doc = doc

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(_FAMILY, size=8)
        page = self.doc.page.format(page=self.page_no(), pages="{nb}")
        self.cell(0, 5, page, align="C")


def _facts(pdf: FPDF, block: Facts) -> None:
    for label, value in block.rows:
        pdf.set_font(_FAMILY, "B", 10)
        pdf.multi_cell(0, _LINE, printable(label), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(_FAMILY, "", 10)
        pdf.multi_cell(
            0,
            _LINE,
            printable(value) or " ",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
            wrapmode=WrapMode.CHAR,
        )
    pdf.ln(1)


def _table(pdf: FPDF, block: Table) -> None:
    pdf.set_font(_FAMILY, "", 9)
    with pdf.table(
        col_widths=block.widths,
        text_align="LEFT",
        line_height=4.5,
    ) as table:
        heading = table.row()
        for h in block.header:
            heading.cell(printable(h))
        for row in block.rows:
            cells = table.row()
            for value in row:
                cells.cell(printable(value))
    pdf.ln(1)


def _block(pdf: FPDF, block: Block) -> None:
    if isinstance(block, Paragraph):
        pdf.set_font(_FAMILY, "", 10)
        pdf.multi_cell(0, _LINE, printable(block.text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)
    elif isinstance(block, Facts):
        _facts(pdf, block)
    else:
        _table(pdf, block)


def to_pdf(doc: Document, *, dated: datetime) -> bytes:
    """The document as PDF bytes; `dated` is the creation date the file records."""
    pdf = _Pdf(doc)
    pdf.add_font(_FAMILY, "", FONTS / "DejaVuSans.ttf")
    pdf.add_font(_FAMILY, "B", FONTS / "DejaVuSans-Bold.ttf")
    pdf.set_title(printable(doc.title))
    pdf.set_lang(doc.lang)
    pdf.set_creator("konkurs")
    pdf.set_creation_date(dated)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font(_FAMILY, "B", 14)
    pdf.multi_cell(0, 7, printable(doc.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    for block in doc.preamble:
        _block(pdf, block)
    for section in doc.sections:
        pdf.set_font(_FAMILY, "B", 12 if section.level == 2 else 10)
        pdf.ln(2)
        pdf.multi_cell(0, 6, printable(section.heading), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        for block in section.blocks:
            _block(pdf, block)
    return bytes(pdf.output())
