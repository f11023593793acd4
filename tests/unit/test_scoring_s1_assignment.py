"""Scoring's screening, registry and assignment deciders: given events / when command / then
events or a refusal; and the automatic assignment under hypothesis over random registries."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from konkurs_platform.domain import Conflict, DomainError, Forbidden, NotFound
from konkurs_scoring.domain.applications import KnownApplication, ParticipantKind, oked_section
from konkurs_scoring.domain.assignment import (
    AssignExpert,
    AssignmentMode,
    AssignmentOverdue,
    ConflictDeclared,
    DeclareInterest,
    ExpertAssigned,
    ExpertUnassigned,
    FlagOverdue,
    NoConflictDeclared,
    Panel,
    ReleasePanel,
    UnassignmentCause,
    assignment_decider,
    check_may_read_content,
    hard_rule_breaches,
    plan_assignment,
)
from konkurs_scoring.domain.calls import AssignmentTerms, CallTerms, EligibilityRules
from konkurs_scoring.domain.experts import (
    DeactivateExpert,
    ExpertCard,
    ExpertDeactivated,
    ExpertProfile,
    ExpertRegistered,
    RegisterExpert,
    UpdateExpert,
    expert_decider,
)
from konkurs_scoring.domain.screening import (
    AssessEligibility,
    EligibilityAssessed,
    EligibilityOverridden,
    OverrideEligibility,
    screening_decider,
)

NOW = datetime(2017, 6, 1, 9, tzinfo=UTC)
TERMS = AssignmentTerms(experts_per_application=3, evaluation_days=14)
SME, UNI, LARGE = ParticipantKind.SME, ParticipantKind.UNIVERSITY, ParticipantKind.LARGE_ENTERPRISE


def application(
    n: int = 1,
    *,
    region: str = "KZ-63",
    bins: tuple[str, ...] = ("100000000001", "100000000002", "100000000003"),
    kinds: tuple[ParticipantKind, ...] = (SME, SME, UNI),
    documents: tuple[str, ...] = ("charter", "strategy"),
    oked: str = "31090",
    version: int = 1,
    withdrawn: bool = False,
) -> KnownApplication:
    return KnownApplication(
        application_id=f"app-{n}",
        call_id="call-1",
        registration_number=f"TC-2017-{n:03d}",
        region_code=region,
        coordinator_bin="900000000009",
        participant_bins=bins,
        content=b"",
        withdrawn=withdrawn,
        submitted_at=NOW,
        version=version,
        participant_kinds=kinds,
        document_kinds=documents,
        primary_oked_code=oked,
    )


def call_terms(version: int = 1, **rules: object) -> CallTerms:
    return CallTerms(
        call_id="call-1",
        version=version,
        closes_at=NOW,
        quota=6,
        methodology={},
        definition=b"",
        regions=("KZ-63", "KZ-75"),
        eligibility=EligibilityRules(
            **{  # type: ignore[arg-type]
                "min_participants": 3,
                "min_sme_share_percent": 50,
                "require_university_or_research": True,
                "required_document_kinds": ("charter",),
                **rules,
            }
        ),
    )


def card(expert_id: str, *, bins: tuple[str, ...] = (), regions: tuple[str, ...] = (),
         sections: tuple[str, ...] = (), active: bool = True) -> ExpertCard:  # fmt: skip
    return ExpertCard(expert_id, frozenset(bins), frozenset(regions), frozenset(sections), active)


# Screening ----------------------------------------------------------------------------------


def test_an_application_passing_every_rule_is_assessed_eligible() -> None:
    [event] = screening_decider.decide(
        AssessEligibility(application(), call_terms(), NOW), screening_decider.initial
    )
    assert isinstance(event, EligibilityAssessed) and event.eligible
    assert [r.rule for r in event.results] == [
        "region",
        "min_participants",
        "min_sme_share_percent",
        "university_or_research",
        "required_documents",
    ]


def test_a_failed_rule_names_the_values_that_failed_it() -> None:
    app = application(region="KZ-11", kinds=(LARGE, LARGE, UNI), documents=("strategy",))
    [event] = screening_decider.decide(
        AssessEligibility(app, call_terms(), NOW), screening_decider.initial
    )
    assert isinstance(event, EligibilityAssessed) and not event.eligible
    failed = {r.rule: (r.required, r.found) for r in event.results if not r.passed}
    assert failed == {
        "region": ("KZ-63, KZ-75", "KZ-11"),
        "min_sme_share_percent": ("50", "0"),
        "required_documents": ("charter", "missing: charter"),
    }


def test_the_same_version_is_never_assessed_twice_but_a_later_one_is() -> None:
    first = screening_decider.decide(
        AssessEligibility(application(), call_terms(), NOW), screening_decider.initial
    )
    state = screening_decider.fold(first)
    assert (
        screening_decider.decide(AssessEligibility(application(), call_terms(), NOW), state) == []
    )
    later = application(version=2, documents=())
    [event] = screening_decider.decide(AssessEligibility(later, call_terms(), NOW), state)
    assert isinstance(event, EligibilityAssessed) and not event.eligible


def test_an_override_needs_a_sentence_of_justification_and_keeps_the_assessment() -> None:
    state = screening_decider.fold(
        screening_decider.decide(
            AssessEligibility(application(documents=()), call_terms(), NOW),
            screening_decider.initial,
        )
    )
    with pytest.raises(DomainError) as refused:
        screening_decider.decide(OverrideEligibility("app-1", True, "ok", NOW), state)
    assert refused.value.errors[0].pointer == "/justification"
    why = "The charter was filed on paper before the deadline, see letter 17-4."
    [event] = screening_decider.decide(OverrideEligibility("app-1", True, why, NOW), state)
    assert event == EligibilityOverridden("app-1", "call-1", True, why, 1)
    after = screening_decider.fold([event], state)
    assert after.eligible and after.overridden and after.results == state.results


def test_an_override_that_changes_nothing_or_comes_before_screening_is_refused() -> None:
    why = "The operator checked the file and found it complete in every part."
    with pytest.raises(NotFound):
        screening_decider.decide(
            OverrideEligibility("app-1", True, why, NOW), screening_decider.initial
        )
    state = screening_decider.fold(
        screening_decider.decide(
            AssessEligibility(application(), call_terms(), NOW), screening_decider.initial
        )
    )
    with pytest.raises(Conflict):
        screening_decider.decide(OverrideEligibility("app-1", True, why, NOW), state)


# Registry -----------------------------------------------------------------------------------


def test_an_expert_is_registered_once_and_a_retry_changes_nothing() -> None:
    profile = ExpertProfile("Айгуль Сапарова", ("100000000001",), ("KZ-75",), ("C",), ("kk",))
    [event] = expert_decider.decide(RegisterExpert("e-1", profile, NOW), expert_decider.initial)
    state = expert_decider.fold([event])
    assert expert_decider.decide(RegisterExpert("e-1", profile, NOW), state) == []
    with pytest.raises(Conflict):
        expert_decider.decide(RegisterExpert("e-1", replace(profile, name="Другой"), NOW), state)


def test_an_expert_profile_with_a_malformed_bin_or_section_is_refused_by_field() -> None:
    profile = ExpertProfile("Name", ("12345",), ("KZ-75",), ("Z",), ("kk",))
    with pytest.raises(DomainError) as refused:
        expert_decider.decide(RegisterExpert("e-1", profile, NOW), expert_decider.initial)
    assert {i.pointer for i in refused.value.errors} == {"/affiliation_bins/0", "/oked_sections/0"}


def test_a_deactivated_expert_cannot_be_updated_and_an_unknown_one_is_not_found() -> None:
    profile = ExpertProfile("Name")
    state = expert_decider.fold(
        [ExpertRegistered("e-1", profile), ExpertDeactivated("e-1", "retired")]
    )
    with pytest.raises(Conflict):
        expert_decider.decide(UpdateExpert("e-1", ExpertProfile("New"), NOW), state)
    with pytest.raises(NotFound):
        expert_decider.decide(DeactivateExpert("e-2", "why", NOW), expert_decider.initial)


# Assignment ---------------------------------------------------------------------------------


def assigned(*experts: str) -> Panel:
    return assignment_decider.fold(
        [
            ExpertAssigned(
                "app-1",
                "call-1",
                e,
                AssignmentMode.AUTOMATIC,
                "automatic: test",
                NOW,
                NOW + timedelta(days=14),
            )
            for e in experts
        ]
    )


@pytest.mark.parametrize(
    ("expert", "terms", "why"),
    [
        (card("e", bins=("100000000002",)), TERMS, "affiliated with 100000000002"),
        (card("e", bins=("900000000009",)), TERMS, "affiliated with 900000000009"),
        (
            card("e", regions=("KZ-63",)),
            replace(TERMS, exclude_same_region_experts=True),
            "region KZ-63",
        ),
        (card("e", active=False), TERMS, "deactivated"),
    ],
)
def test_an_assignment_against_a_hard_rule_is_refused_even_by_hand(
    expert: ExpertCard, terms: AssignmentTerms, why: str
) -> None:
    command = AssignExpert(application(), expert, terms, AssignmentMode.MANUAL, "by hand, why", NOW)
    with pytest.raises(Conflict) as refused:
        assignment_decider.decide(command, Panel())
    assert why in refused.value.detail


def test_an_expert_from_the_region_may_be_assigned_when_the_call_allows_it() -> None:
    assert hard_rule_breaches(card("e", regions=("KZ-63",)), application(), TERMS) == []


def test_no_content_before_a_declaration_and_none_after_a_conflict() -> None:
    panel = assigned("e-1")
    with pytest.raises(Forbidden) as refused:
        check_may_read_content(panel, "e-1")
    assert refused.value.code == "declaration_required"
    with pytest.raises(Forbidden):
        check_may_read_content(panel, "e-2")
    declared = assignment_decider.fold(
        assignment_decider.decide(DeclareInterest("app-1", "e-1", False, "", NOW), panel), panel
    )
    check_may_read_content(declared, "e-1")
    events = assignment_decider.decide(
        DeclareInterest("app-1", "e-1", True, "I advised the coordinator in 2016.", NOW), panel
    )
    assert [type(e) for e in events] == [ConflictDeclared, ExpertUnassigned]
    conflicted = assignment_decider.fold(events, panel)
    with pytest.raises(Forbidden):
        check_may_read_content(conflicted, "e-1")
    # Never assigned to it again, not even by hand.
    again = AssignExpert(application(), card("e-1"), TERMS, AssignmentMode.MANUAL, "by hand!!", NOW)
    with pytest.raises(Conflict):
        assignment_decider.decide(again, conflicted)


def test_only_an_assigned_expert_declares() -> None:
    with pytest.raises(Forbidden):
        assignment_decider.decide(DeclareInterest("app-1", "e-9", False, "", NOW), assigned("e-1"))
    assert isinstance(
        assignment_decider.decide(DeclareInterest("app-1", "e-1", False, "", NOW), assigned("e-1"))[
            0
        ],
        NoConflictDeclared,
    )


def test_a_full_panel_refuses_another_expert_and_a_repeat_changes_nothing() -> None:
    panel = assigned("e-1", "e-2", "e-3")
    command = AssignExpert(
        application(), card("e-4"), TERMS, AssignmentMode.MANUAL, "by hand!!", NOW
    )
    with pytest.raises(Conflict):
        assignment_decider.decide(command, panel)
    repeat = replace(command, expert=card("e-1"))
    assert assignment_decider.decide(repeat, panel) == []


def test_overdue_is_flagged_once_after_the_due_time_and_release_unassigns_everyone() -> None:
    panel = assigned("e-1", "e-2")
    assert assignment_decider.decide(FlagOverdue("app-1", NOW + timedelta(days=13)), panel) == []
    events = assignment_decider.decide(FlagOverdue("app-1", NOW + timedelta(days=14)), panel)
    assert [e.expert_id for e in events if isinstance(e, AssignmentOverdue)] == ["e-1", "e-2"]
    flagged = assignment_decider.fold(events, panel)
    assert assignment_decider.decide(FlagOverdue("app-1", NOW + timedelta(days=20)), flagged) == []
    released = assignment_decider.decide(ReleasePanel("app-1", "withdrawn", NOW), flagged)
    assert {(e.expert_id, e.cause) for e in released if isinstance(e, ExpertUnassigned)} == {
        ("e-1", UnassignmentCause.APPLICATION_OUT),
        ("e-2", UnassignmentCause.APPLICATION_OUT),
    }


def test_sector_match_is_preferred_and_the_plan_is_deterministic() -> None:
    experts = [card("a"), card("b"), card("c", sections=("C",)), card("d", sections=("C",))]
    apps = [application(1)]
    plan = plan_assignment(apps, {}, experts, TERMS, {})
    assert [p.expert_id for p in plan.picks] == ["c", "d", "a"]
    # Load comes first: the next application gets the two unloaded experts, then a match.
    two = plan_assignment([*apps, application(2)], {}, experts, TERMS, {})
    assert [p.expert_id for p in two.picks][3:] == ["b", "c", "d"]
    assert plan == plan_assignment(apps, {}, list(reversed(experts)), TERMS, {})
    assert oked_section("31090") == "C" and oked_section("01110") == "A"


# The automatic assignment under hypothesis -----------------------------------------------------

BINS = [f"1000000000{n:02d}" for n in range(12)]
REGIONS = ["KZ-63", "KZ-75", "KZ-11", "KZ-35"]


@st.composite
def registries(draw: st.DrawFn) -> tuple[list[KnownApplication], list[ExpertCard], AssignmentTerms]:
    apps = [
        application(
            n,
            region=draw(st.sampled_from(REGIONS)),
            bins=tuple(draw(st.lists(st.sampled_from(BINS), min_size=1, max_size=4, unique=True))),
            kinds=(),
            oked=draw(st.sampled_from(["31090", "01110", "62010", "10110"])),
        )
        for n in range(draw(st.integers(1, 8)))
    ]
    experts = [
        card(
            f"e-{n:02d}",
            bins=tuple(draw(st.lists(st.sampled_from(BINS), max_size=2, unique=True))),
            regions=tuple(draw(st.lists(st.sampled_from(REGIONS), max_size=2, unique=True))),
            sections=tuple(draw(st.lists(st.sampled_from("ACJ"), max_size=2, unique=True))),
            active=draw(st.booleans()) or n == 0,
        )
        for n in range(draw(st.integers(1, 10)))
    ]
    terms = AssignmentTerms(
        experts_per_application=draw(st.integers(1, 4)),
        exclude_same_region_experts=draw(st.booleans()),
    )
    return apps, experts, terms


@settings(max_examples=300, deadline=None)
@given(registries())
def test_no_expert_is_ever_assigned_against_a_hard_rule(
    registry: tuple[list[KnownApplication], list[ExpertCard], AssignmentTerms],
) -> None:
    apps, experts, terms = registry
    plan = plan_assignment(apps, {}, experts, terms, {})
    by_app = {a.application_id: a for a in apps}
    by_expert = {e.expert_id: e for e in experts}
    seats = Counter(p.application_id for p in plan.picks)
    for pick in plan.picks:
        assert (
            hard_rule_breaches(by_expert[pick.expert_id], by_app[pick.application_id], terms) == []
        )
    # Never the same expert twice on one application, never more seats than asked, and a
    # shortfall only where no permitted expert was left.
    assert len({(p.application_id, p.expert_id) for p in plan.picks}) == len(plan.picks)
    assert all(n <= terms.experts_per_application for n in seats.values())
    for short in plan.shortfalls:
        app = by_app[short.application_id]
        taken = {p.expert_id for p in plan.picks if p.application_id == app.application_id}
        assert all(hard_rule_breaches(e, app, terms) for e in experts if e.expert_id not in taken)
    # Every pick is a command the decider accepts.
    panels: dict[str, Panel] = {}
    for pick in plan.picks:
        panel = panels.get(pick.application_id, Panel())
        command = AssignExpert(by_app[pick.application_id], by_expert[pick.expert_id], terms,
                               AssignmentMode.AUTOMATIC, pick.reason, NOW)  # fmt: skip
        panels[pick.application_id] = assignment_decider.fold(
            assignment_decider.decide(command, panel), panel
        )


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.integers(1, 4), st.data())
def test_without_hard_constraints_no_expert_has_more_than_one_application_above_the_average(
    n_apps: int, n_experts: int, per_application: int, data: st.DataObject
) -> None:
    per_application = min(per_application, n_experts)
    apps = [
        application(n, oked=data.draw(st.sampled_from(["31090", "01110"]))) for n in range(n_apps)
    ]
    experts = [
        card(f"e-{n:02d}", sections=tuple(data.draw(st.lists(st.sampled_from("AC"), max_size=1))))
        for n in range(n_experts)
    ]
    terms = AssignmentTerms(experts_per_application=per_application)
    plan = plan_assignment(apps, {}, experts, terms, {})
    assert plan.shortfalls == ()
    loads = Counter(p.expert_id for p in plan.picks)
    average = len(plan.picks) / n_experts
    assert max(loads.values()) <= math.floor(average) + 1
