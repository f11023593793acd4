"""The call decider: given events, when a command, then events or a refusal."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from konkurs_intake.domain.calls import (
    AmendCall,
    AnnounceCall,
    CallAmended,
    CallAnnounced,
    CallClosed,
    CallDefinition,
    CloseCall,
    CloseReason,
    Criterion,
    CriterionKind,
    EligibilityRules,
    LocalizedText,
    Methodology,
    call_decider,
)
from konkurs_intake.domain.regions import RegionSet
from konkurs_platform.domain import Conflict, DomainError

ASTANA = timezone(timedelta(hours=6))
OPENS = datetime(2017, 4, 10, tzinfo=ASTANA)
CLOSES = datetime(2017, 6, 8, 18, tzinfo=ASTANA)
BEFORE = datetime(2017, 3, 1, tzinfo=ASTANA)


def criterion(id: str, weight: int, kind: CriterionKind = CriterionKind.EXPERT) -> Criterion:
    return Criterion(id, LocalizedText(en=id), weight, 0, 5, kind, 3)


DEFINITION = CallDefinition(
    title=LocalizedText(ru="Конкурсный отбор территориальных кластеров", kk="Аумақтық кластерлер"),
    description=LocalizedText(en="Pilot territorial clusters"),
    programme="SPIID cluster component",
    opens_at=OPENS,
    closes_at=CLOSES,
    timezone="Asia/Almaty",
    quota=6,
    region_set=RegionSet.Y2017,
    regions=("KZ-75", "KZ-51", "KZ-11"),
    eligibility=EligibilityRules(5, 50, True, ("strategy",)),
    methodology=Methodology(
        (criterion("cooperation", 40), criterion("market", 35), criterion("size", 25)), 60
    ),
)


def given(*events: object) -> object:
    return call_decider.fold(list(events))  # type: ignore[arg-type]


def refusal(command: object, state: object) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call_decider.decide(command, state)  # type: ignore[arg-type]
    return caught.value


def test_announcing_a_new_call_records_call_announced() -> None:
    events = call_decider.decide(AnnounceCall("kz-2017", DEFINITION, BEFORE), given())
    assert events == [CallAnnounced("kz-2017", DEFINITION)]


def test_announcing_the_same_call_twice_is_a_conflict() -> None:
    error = refusal(
        AnnounceCall("kz-2017", DEFINITION, BEFORE), given(CallAnnounced("kz-2017", DEFINITION))
    )
    assert (error.code, type(error)) == ("call_exists", Conflict)


def test_weights_must_sum_to_100() -> None:
    bad = replace(DEFINITION, methodology=Methodology((criterion("a", 50), criterion("b", 40)), 60))
    error = refusal(AnnounceCall("kz", bad, BEFORE), given())
    assert [(i.pointer, i.reason) for i in error.errors] == [
        ("/methodology/criteria", "weights must sum to 100, they sum to 90")
    ]


def test_window_must_be_ordered_and_in_the_future() -> None:
    bad = replace(DEFINITION, opens_at=CLOSES, closes_at=OPENS)
    error = refusal(AnnounceCall("kz", bad, BEFORE + timedelta(days=60)), given())
    pointers = [i.pointer for i in error.errors]
    assert pointers == ["/closes_at", "/closes_at"]


def test_a_2017_call_refuses_regions_created_later() -> None:
    bad = replace(DEFINITION, regions=("KZ-75", "KZ-79"))
    error = refusal(AnnounceCall("kz", bad, BEFORE), given())
    assert [i.pointer for i in error.errors] == ["/regions/1"]
    assert "KZ-79" in error.errors[0].reason


def test_a_current_call_refuses_south_kazakhstan() -> None:
    bad = replace(DEFINITION, region_set=RegionSet.CURRENT, regions=("KZ-51",))
    error = refusal(AnnounceCall("kz", bad, BEFORE), given())
    assert [i.pointer for i in error.errors] == ["/regions/0"]


def test_threshold_outside_the_scale_and_duplicate_criteria_are_named() -> None:
    c = Criterion("a", LocalizedText(en="a"), 50, 0, 5, CriterionKind.EXPERT, 9)
    bad = replace(DEFINITION, methodology=Methodology((c, replace(c, threshold=3)), 60))
    error = refusal(AnnounceCall("kz", bad, BEFORE), given())
    assert [i.pointer for i in error.errors] == [
        "/methodology/criteria/0/threshold",
        "/methodology/criteria/1/id",
    ]


def test_amend_is_accepted_before_the_call_opens() -> None:
    amended = replace(DEFINITION, quota=7)
    events = call_decider.decide(
        AmendCall("kz", amended, BEFORE), given(CallAnnounced("kz", DEFINITION))
    )
    assert events == [CallAmended("kz", amended)]


def test_amend_is_refused_once_the_call_has_opened() -> None:
    error = refusal(
        AmendCall("kz", replace(DEFINITION, quota=7), OPENS), given(CallAnnounced("kz", DEFINITION))
    )
    assert (error.code, type(error)) == ("call_already_open", Conflict)


def test_scheduled_close_is_refused_before_closes_at() -> None:
    error = refusal(
        CloseCall("kz", CLOSES - timedelta(seconds=1)), given(CallAnnounced("kz", DEFINITION))
    )
    assert error.code == "call_not_due"


def test_closing_twice_records_one_close() -> None:
    closed = CallClosed("kz", CLOSES, CloseReason.SCHEDULED)
    assert call_decider.decide(CloseCall("kz", CLOSES), given(CallAnnounced("kz", DEFINITION))) == [
        closed
    ]
    assert (
        call_decider.decide(CloseCall("kz", CLOSES), given(CallAnnounced("kz", DEFINITION), closed))
        == []
    )
