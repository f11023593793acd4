"""Text fields as the intake edge accepts them: what a person can write, nothing more.

Control characters are refused at the edge with a 422 naming the field. No human text needs
them, and some cannot be stored downstream at all: PostgreSQL's `text` refuses NUL, so an
event carrying one would be recorded here and then fail in every consumer that keeps it in
a table (the read side sent such events to the dead-letter topic, and its read model
silently diverged from the event store). Long free text (descriptions, summaries, reasons)
may keep its layout: tabs and line breaks.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

# C0 controls, DEL and C1 controls (Unicode category Cc).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# The same, less tab, line feed and carriage return.
_CONTROL_BUT_LAYOUT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def control_character_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why `value` is refused, naming the first control character it holds; None if it
    holds none (`multiline` text may hold tabs and line breaks)."""
    found = (_CONTROL_BUT_LAYOUT if multiline else _CONTROL).search(value)
    if found is None:
        return None
    return (
        f"contains the control character U+{ord(found.group()):04X} at position "
        f"{found.start()}; remove it"
    )


def _line(value: str) -> str:
    if problem := control_character_problem(value):
        raise ValueError(problem)
    return value


def _prose(value: str) -> str:
    if problem := control_character_problem(value, multiline=True):
        raise ValueError(problem)
    return value


# One line of text: a name, a title, a filename, an e-mail address.
Line = Annotated[str, AfterValidator(_line)]
# Free text that may run over several lines: a description, a summary, a reason.
Prose = Annotated[str, AfterValidator(_prose)]
