"""The dashboard's languages, without servers: every word in all three, every region of the
reference table named in each, sectors from OKED codes, the language a request gets, and
numbers and dates written as each language writes them."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from konkurs_intake.domain import regions as intake_regions
from konkurs_readside.dashboard import i18n
from konkurs_readside.dashboard.i18n import LANGUAGES, MESSAGES, REGIONS, Words, choose

TEMPLATES = Path(i18n.__file__).parent / "templates"


def test_every_word_has_kazakh_russian_and_english_and_no_template_asks_for_a_missing_one() -> None:
    incomplete = [key for key, words in MESSAGES.items() if set(words) != set(LANGUAGES)]
    assert not incomplete
    asked = {
        key
        for template in TEMPLATES.glob("*.html")
        for key in re.findall(r"""\bt\("([a-z_]+)"\)""", template.read_text())
    }
    assert asked and asked <= MESSAGES.keys(), sorted(asked - MESSAGES.keys())


def test_every_region_of_2017_and_today_is_named_in_each_language_as_the_reference_names_it() -> (
    None
):
    # Intake's region list is the repository's copy of the reference data (regions.csv).
    reference = {r.code: r for r in intake_regions.REGIONS}
    assert REGIONS.keys() == reference.keys()
    for code, region in reference.items():
        assert (REGIONS[code]["en"], REGIONS[code]["ru"]) == (region.name_en, region.name_ru)
        assert REGIONS[code]["kk"]


@pytest.mark.parametrize(
    ("code", "section"),
    [
        ("01110", "A"),
        ("10110", "C"),
        ("16100", "C"),
        ("33120", "C"),
        ("35110", "D"),
        ("62010", "J"),
        ("72190", "M"),
        ("99000", "U"),
        ("04000", "?"),
        ("x1000", "?"),
    ],
)
def test_an_oked_code_belongs_to_the_section_of_its_division(code: str, section: str) -> None:
    assert i18n.section_of(code) == section


def test_the_query_wins_then_the_remembered_choice_then_the_browsers_then_russian() -> None:
    assert choose("kk", "en", "en-GB") == "kk"
    assert choose(None, "en", "kk") == "en"
    assert choose("de", "bogus", "en-GB,en;q=0.9") == "en"
    assert choose(None, None, "kk-KZ;q=0.8,ru;q=0.5") == "kk"
    assert choose(None, None, "de-DE,fr;q=0.7") == "ru"
    assert choose(None, None, None) == "ru"


def test_numbers_money_and_dates_are_written_as_each_language_writes_them() -> None:
    kk, ru, en = Words("kk"), Words("ru"), Words("en")
    assert (en.number(12345.5), ru.number(12345.5)) == ("12,345.5", "12\xa0345,5")
    assert en.percent(1, 3) == "33.3%" and ru.percent(1, 3) == "33,3\xa0%"
    assert kk.money(500_000, "KZT") == "5\xa0000,00\xa0₸"
    assert en.tenge(Decimal("1500000")) == "KZT1,500,000.00"
    moment = datetime(2017, 6, 14, 6, 0, tzinfo=UTC)  # noon in Almaty
    assert "12:00" in ru.moment(moment) and "июн" in ru.moment(moment)
    assert "Jun 14, 2017" in en.moment(moment)
    assert en.term("status", "closed") == "closed" and ru.term("status", "closed") == "закрыт"
    assert ru.term("status", "suspended") == "suspended"  # a word not known yet, as stored
