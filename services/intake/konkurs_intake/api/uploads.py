"""Filed documents at the edge: what may be filed, whether the bytes are what they claim, and
how they are served back.

A document is served to other people (operators, experts) with the type it was filed
under, so a type the bytes do not bear out is refused when it is filed: HTML declared as
`image/png` would otherwise be stored as a picture and handed to a reader's browser. The
bytes are sniffed from their magic numbers (`filetype`); downloads go out as attachments,
with `nosniff`, so no browser renders or re-types them either.
"""

from __future__ import annotations

from urllib.parse import quote

import filetype

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
DOC = "application/msword"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLS = "application/vnd.ms-excel"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCUMENT_MEDIA_TYPES = (PDF, JPEG, PNG, DOC, DOCX, XLS, XLSX)
MAX_DOCUMENT_BYTES = 20 << 20

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = b"PK\x03\x04"
# Office files are containers (OLE2 for Word and Excel 97-2003, ZIP for their successors).
# The sniffer names one only when it finds the tell-tale entry near the start, which not
# every writer puts there; a container of the declared kind that it cannot place further is
# accepted, while one it recognises as something else is not.
_CONTAINERS = {DOC: _OLE2, XLS: _OLE2, DOCX: _ZIP, XLSX: _ZIP}
_UNPLACED = {_OLE2: (None,), _ZIP: (None, "application/zip")}


def content_mismatch(content: bytes, declared: str) -> str | None:
    """Why `content` is not a `declared` document (one of `DOCUMENT_MEDIA_TYPES`); None if
    its bytes bear the type out."""
    sniffed = filetype.guess_mime(content)
    if sniffed == declared:
        return None
    container = _CONTAINERS.get(declared)
    if container is not None and content.startswith(container) and sniffed in _UNPLACED[container]:
        return None
    found = f"{sniffed} content" if sniffed else "content of no type a document may have"
    return f"is {declared}, but the body is {found}"


def attachment(filename: str) -> str:
    """A `Content-Disposition` that downloads the file under `filename` (RFC 6266): the
    UTF-8 name in `filename*`, and an ASCII stand-in for clients that do not read it."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
