"""Regions of Kazakhstan, in 2017 and today (from the reference data `regions.csv`).

A 2017 call accepts the 2017 regions, a new call today's: the region set is part of a call.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RegionSet(StrEnum):
    Y2017 = "2017"
    CURRENT = "current"


@dataclass(frozen=True)
class Region:
    code: str
    name_en: str
    name_ru: str
    exists_2017: bool
    exists_now: bool


REGIONS: tuple[Region, ...] = (
    Region("KZ-11", "Akmola Region", "Акмолинская область", True, True),
    Region("KZ-15", "Aktobe Region", "Актюбинская область", True, True),
    Region("KZ-19", "Almaty Region", "Алматинская область", True, True),
    Region("KZ-23", "Atyrau Region", "Атырауская область", True, True),
    Region("KZ-27", "West Kazakhstan Region", "Западно-Казахстанская область", True, True),
    Region("KZ-31", "Zhambyl Region", "Жамбылская область", True, True),
    Region("KZ-35", "Karaganda Region", "Карагандинская область", True, True),
    Region("KZ-39", "Kostanay Region", "Костанайская область", True, True),
    Region("KZ-43", "Kyzylorda Region", "Кызылординская область", True, True),
    Region("KZ-47", "Mangystau Region", "Мангистауская область", True, True),
    Region("KZ-51", "South Kazakhstan Region", "Южно-Казахстанская область", True, False),
    Region("KZ-55", "Pavlodar Region", "Павлодарская область", True, True),
    Region("KZ-59", "North Kazakhstan Region", "Северо-Казахстанская область", True, True),
    Region("KZ-63", "East Kazakhstan Region", "Восточно-Казахстанская область", True, True),
    Region("KZ-71", "Astana", "город Астана", True, True),
    Region("KZ-75", "Almaty", "город Алматы", True, True),
    Region("KZ-10", "Abai Region", "область Абай", False, True),
    Region("KZ-33", "Zhetisu Region", "область Жетісу", False, True),
    Region("KZ-62", "Ulytau Region", "область Ұлытау", False, True),
    Region("KZ-61", "Turkistan Region", "Туркестанская область", False, True),
    Region("KZ-79", "Shymkent", "город Шымкент", False, True),
)

BY_CODE = {r.code: r for r in REGIONS}


def region_codes(region_set: RegionSet) -> frozenset[str]:
    """The codes of the regions that exist in `region_set`."""
    if region_set is RegionSet.Y2017:
        return frozenset(r.code for r in REGIONS if r.exists_2017)
    return frozenset(r.code for r in REGIONS if r.exists_now)
