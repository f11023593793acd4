"""docs/analytics.md's data dictionary is the one generated from the comments of the
analytics contract (scripts/analytics_dictionary.py): a comment, field or fact changed in
schemas/konkurs/analytics/v1 without regenerating the page fails here."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def dictionary() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "analytics_dictionary", ROOT / "scripts" / "analytics_dictionary.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_data_dictionary_in_docs_is_the_one_the_contract_generates() -> None:
    d = dictionary()
    doc = (ROOT / "docs" / "analytics.md").read_text(encoding="utf-8")
    assert d.section(doc) == d.render(d.parse()), "run: python scripts/analytics_dictionary.py"


def test_a_changed_field_comment_makes_the_dictionary_stale(tmp_path: Path) -> None:
    d = dictionary()
    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas" / "konkurs" / "analytics", schemas / "konkurs" / "analytics")
    proto = schemas / "konkurs" / "analytics" / "v1" / "facts.proto"
    text = proto.read_text(encoding="utf-8")
    old = "  // How many clusters may be selected.\n"
    assert old in text
    proto.write_text(text.replace(old, "  // How many clusters the call selects.\n"))
    doc = (ROOT / "docs" / "analytics.md").read_text(encoding="utf-8")
    changed = d.render(d.parse(schemas))
    assert d.section(doc) != changed
    assert "| `quota` | 5 | int32 | How many clusters the call selects. |" in changed


def test_every_fact_and_every_field_of_the_contract_is_in_the_dictionary() -> None:
    from konkurs.analytics.v1 import facts_pb2

    doc = (ROOT / "docs" / "analytics.md").read_text(encoding="utf-8")
    for message in facts_pb2.DESCRIPTOR.message_types_by_name.values():
        assert f"#### {message.name}\n" in doc
        for field in message.fields:
            assert f"| `{field.name}` | {field.number} |" in doc, f"{message.name}.{field.name}"
