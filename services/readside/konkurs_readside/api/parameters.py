"""The readside's path and query parameters, constrained where they are declared.

FastAPI checks these constraints before a route runs, so a value outside them is a 422
problem naming the parameter, never a failed query, and an export refuses it before its 200
starts streaming. Every value reaches PostgreSQL as a text parameter, and text cannot hold
U+0000: free text (ids) is limited to printable characters and a length no id comes near;
codes and enums are held to their exact form. The constraints are in the OpenAPI document
too, for clients and fuzzers.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import StringConstraints

from konkurs_platform.web import Identifier

# An id the read models store as given (a call id, an application id, a stream id): the
# platform's rule for every service.
__all__ = ["Cursor", "Identifier", "OkedCode", "RegionCode", "Status"]

RegionCode = Annotated[str, StringConstraints(pattern=r"^KZ-[0-9]{2}$")]
"""An ISO 3166-2:KZ region code, e.g. KZ-75."""
OkedCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{5}$")]
"""An OKED code of 5 digits, e.g. 62010."""
Status = Literal["submitted", "withdrawn"]
"""An application's status, as `projections.applications.STATUSES` writes it."""

# Cursors are URL-safe base64 of a small JSON array; the longest sort key (a cluster name of
# 300 characters, escaped) stays well below this.
Cursor = Annotated[str, StringConstraints(max_length=4096, pattern=r"^[A-Za-z0-9_-]+$")]

# Repeatable filters: more values than there are regions (or statuses) cannot mean more.
MAX_REPEATS = 32
