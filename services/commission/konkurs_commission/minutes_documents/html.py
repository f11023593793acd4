"""The minutes as an HTML document: one self-contained page (no script, no external style or
font), every value escaped, so a name or an opinion holding markup prints as text."""

from __future__ import annotations

from html import escape

from konkurs_commission.minutes_documents.document import Block, Document, Facts, Paragraph, Table

_STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 11pt; margin: 2em auto;
       max-width: 60em; color: #111; }
h1 { font-size: 16pt; } h2 { font-size: 13pt; margin-top: 1.5em; } h3 { font-size: 11pt; }
table { border-collapse: collapse; width: 100%; margin: 0.5em 0; }
th, td { border: 1px solid #888; padding: 0.25em 0.5em; text-align: left;
         vertical-align: top; overflow-wrap: anywhere; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dt { font-weight: bold; } dd { margin: 0; overflow-wrap: anywhere; }
"""


def _text(value: str) -> str:
    return escape(value, quote=True)


def _block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return f"<p>{_text(block.text)}</p>"
    if isinstance(block, Facts):
        rows = "".join(f"<dt>{_text(k)}</dt><dd>{_text(v)}</dd>" for k, v in block.rows)
        return f"<dl>{rows}</dl>"
    assert isinstance(block, Table)
    columns = "".join(f'<col style="width:{w}%">' for w in block.widths)
    head = "".join(f"<th>{_text(h)}</th>" for h in block.header)
    body = "".join(
        "<tr>" + "".join(f"<td>{_text(c)}</td>" for c in row) + "</tr>" for row in block.rows
    )
    return (
        f"<table><colgroup>{columns}</colgroup>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def to_html(doc: Document) -> str:
    """The document as a complete HTML page."""
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{_text(doc.lang)}">',
        '<head><meta charset="utf-8">',
        f"<title>{_text(doc.title)}</title>",
        f"<style>{_STYLE}</style></head>",
        "<body>",
        f"<h1>{_text(doc.title)}</h1>",
        *(_block(b) for b in doc.preamble),
    ]
    for section in doc.sections:
        level = section.level
        parts.append(f"<h{level}>{_text(section.heading)}</h{level}>")
        parts.extend(_block(b) for b in section.blocks)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
