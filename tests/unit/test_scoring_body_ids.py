"""An expert id a scoring body names becomes a stream id or a lookup: a control character
in it is refused at the edge (a 422 naming the field), never handed to PostgreSQL (which
refuses a NUL with a 500; found by schemathesis on POST /v1/experts)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from konkurs_scoring.api.assignment import AssignBody
from konkurs_scoring.api.evaluations import RapporteurBody
from konkurs_scoring.api.experts import RegisterBody

PROFILE = {"name": "A. Expert", "region_codes": ["KZ-75"]}


@pytest.mark.parametrize(
    ("model", "extra"),
    [(RegisterBody, PROFILE), (AssignBody, {"reason": "by hand"}), (RapporteurBody, {})],
)
@pytest.mark.parametrize("bad", ["a\x00b", "tab\there", "c1\x85x", "del\x7f"])
def test_an_expert_id_with_a_control_character_is_refused_naming_the_field(
    model: type[BaseModel], extra: dict[str, object], bad: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        model.model_validate({"expert_id": bad, **extra})
    assert [e["loc"] for e in refused.value.errors()] == [("expert_id",)]
    assert model.model_validate({"expert_id": "expert-2017-01", **extra})
