"""A batch's answer is JSON lines that any line reader splits where the service meant."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from konkurs_intake.api.batch import answer_line


@given(st.text())
def test_an_echoed_value_never_splits_an_answer_line_and_reads_back_exactly(value: str) -> None:
    result = {"line": 1, "status": 422, "problem": {"errors": [{"value": value}]}}
    line = answer_line(result)
    assert line.endswith(b"\n")
    text = line.decode("utf-8")
    # str.splitlines breaks on U+0085, U+2028 and U+2029 as well as on the ASCII breaks.
    assert text.splitlines() == [text[:-1]]
    assert json.loads(text) == result
