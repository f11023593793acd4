"""Scoring's and privacy's deciders under hypothesis, as test_fuzz_deciders.py does intake's:
random sequences of commands, valid, nearly valid and absurd, at times that move forward.

Whatever the sequence, nothing but a `DomainError` (or one of its kinds) escapes `decide`,
the same command on the same state gets the same answer, `evolve` takes every event `decide`
returns and a fold of the history rebuilds the state. Besides, the rules the issue names
hold: a screening never assesses the same content twice and an override flips the result;
a deactivated expert never changes and every recorded profile is one the registry accepts;
no assignment against a hard rule, never a panel above its size, and an expert who declared
a conflict never sits on the panel again; a submitted evaluation never changes within its
round, consensus only when the panel's spread requires it, and a final score inside the
scale; a ranking's content hash recomputes from its bytes, and a version follows only a
change; an erased subject stays erased, by one event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from test_fuzz_deciders import EPOCH, FUZZ, STEP, TEXT, VALID_BINS, _decided, _mostly_valid

from konkurs_platform.domain import DomainError
from konkurs_privacy.domain.subjects import DECIDER as subject_decider
from konkurs_privacy.domain.subjects import EraseSubject, Subject, SubjectErased
from konkurs_scoring.domain.aggregation import (
    Aggregation,
    Band,
    CriterionKind,
    CriterionRule,
    CriterionScore,
    ScoringRules,
    diverges,
)
from konkurs_scoring.domain.applications import KnownApplication, ParticipantKind
from konkurs_scoring.domain.assignment import (
    AssignExpert,
    AssignmentCompleted,
    AssignmentMode,
    AssignmentOverdue,
    CompleteAssignment,
    ConflictDeclared,
    DeclareInterest,
    ExpertAssigned,
    ExpertUnassigned,
    FlagOverdue,
    NoConflictDeclared,
    Panel,
    ReleasePanel,
    RenewPanel,
    UnassignExpert,
    UnassignmentCause,
    assignment_decider,
    hard_rule_breaches,
)
from konkurs_scoring.domain.calls import AssignmentTerms, CallTerms, EligibilityRules
from konkurs_scoring.domain.evaluation import (
    Basis,
    ConsensusRecorded,
    ConsensusRequired,
    Evaluation,
    EvaluationDraftSaved,
    EvaluationFinalised,
    EvaluationReopened,
    EvaluationSubmitted,
    NameRapporteur,
    PanelMember,
    RapporteurNamed,
    RecordConsensus,
    ReopenEvaluation,
    SaveDraft,
    SubmitEvaluation,
    evaluation_decider,
)
from konkurs_scoring.domain.experts import (
    DeactivateExpert,
    Expert,
    ExpertCard,
    ExpertDeactivated,
    ExpertProfile,
    ExpertRegistered,
    ExpertUpdated,
    NoExpert,
    RegisterExpert,
    UpdateExpert,
    expert_decider,
)
from konkurs_scoring.domain.ranking import (
    PublishRanking,
    Ranking,
    RankingInput,
    RankingPublished,
    canonical_bytes,
    rank,
    ranking_decider,
)
from konkurs_scoring.domain.screening import (
    AssessEligibility,
    EligibilityAssessed,
    EligibilityOverridden,
    OverrideEligibility,
    Screening,
    screening_decider,
)

APP = "7d0c2d1e-8b7a-4c3d-9e2f-1a6b4c8d7e90"
CALL = "kz-2017"
# A written reason: long enough for every rule that asks for one.
SENTENCE = "The panel agreed after reading the annexes again."
# Reasons and justifications, from nothing to a sentence (half the time, so that the rules
# that ask for one are passed often enough to reach the states behind them).
REASONS = st.one_of(
    st.just(SENTENCE),
    st.sampled_from(["", " ", "short", "\x00" * 10, "two words", SENTENCE + "\x00"]),
    TEXT,
    st.just(SENTENCE),
)


def _replay(
    decider: Any, commands: Sequence[Any], state: Any = None
) -> list[tuple[Any, Any, Any, Any]]:
    """Each command decided on the state so far: (command, state before, outcome, state
    after), where the outcome is the events or the refusal. Checks what every decider owes:
    the same answer twice, and a fold of the history equal to the state."""
    state = decider.initial if state is None else state
    history: list[Any] = []
    steps = []
    for command in commands:
        outcome = _decided(decider.decide, command, state)
        assert repr(_decided(decider.decide, command, state)) == repr(outcome)
        before = state
        if not isinstance(outcome, DomainError):
            for event in outcome:
                state = decider.evolve(state, event)
            history += outcome
            assert decider.fold(history) == state
        steps.append((command, before, outcome, state))
    return steps


def _times(draw: st.DrawFn, count: int) -> list[datetime]:
    now = EPOCH + draw(STEP)
    times = []
    for _ in range(count):
        now += draw(STEP)
        times.append(now)
    return times


# Screening ----------------------------------------------------------------------------------

KINDS = st.sampled_from(ParticipantKind)
DOCUMENT_KINDS = ["charter", "strategy", "letters"]


@st.composite
def known_applications(draw: st.DrawFn, version: int) -> KnownApplication:
    bins = tuple(draw(st.lists(st.sampled_from(VALID_BINS), max_size=5)))
    return KnownApplication(
        application_id=APP,
        call_id=CALL,
        registration_number="KZ-75-2017-0001",
        region_code=draw(st.sampled_from(["KZ-75", "KZ-11", "", "KZ-75\x00"])),
        coordinator_bin=draw(st.sampled_from([*VALID_BINS[:2], ""])),
        participant_bins=bins,
        content=draw(st.binary(max_size=8)),
        withdrawn=draw(st.integers(0, 5).map(lambda n: n == 0)),
        submitted_at=EPOCH,
        version=version,
        # Sometimes fewer kinds than participants, as an older copy may hold.
        participant_kinds=tuple(draw(st.lists(KINDS, max_size=len(bins)))),
        document_kinds=tuple(draw(st.lists(st.sampled_from(DOCUMENT_KINDS), max_size=3))),
        primary_oked_code=draw(st.sampled_from(["31090", "62010", "9", "", "xx"])),
    )


@st.composite
def call_terms(draw: st.DrawFn, version: int) -> CallTerms:
    return CallTerms(
        CALL,
        version,
        EPOCH,
        6,
        {},
        b"",
        regions=tuple(draw(st.lists(st.sampled_from(["KZ-75", "KZ-11", "KZ-51"]), max_size=2))),
        eligibility=EligibilityRules(
            draw(st.integers(0, 6)),
            draw(st.integers(0, 100)),
            draw(st.booleans()),
            tuple(draw(st.lists(st.sampled_from(DOCUMENT_KINDS), max_size=2))),
        ),
    )


@st.composite
def screening_histories(draw: st.DrawFn) -> list[AssessEligibility | OverrideEligibility]:
    count = draw(st.integers(1, 10))
    commands: list[AssessEligibility | OverrideEligibility] = []
    # Versions move back as well as forward: a redelivered or late event is an older one.
    for now in _times(draw, count):
        if draw(st.integers(0, 2)):
            app = draw(known_applications(draw(st.integers(1, 4))))
            commands.append(AssessEligibility(app, draw(call_terms(draw(st.integers(1, 3)))), now))
        else:
            commands.append(OverrideEligibility(APP, draw(st.booleans()), draw(REASONS), now))
    return commands


@FUZZ
@given(screening_histories())
def test_a_screening_answers_any_commands_and_never_assesses_the_same_content_twice(
    commands: list[AssessEligibility | OverrideEligibility],
) -> None:
    assessed: set[tuple[int, int]] = set()
    for _command, before, outcome, after in _replay(screening_decider, commands):
        if isinstance(outcome, DomainError):
            continue
        assert isinstance(before, Screening) and isinstance(after, Screening)
        for event in outcome:
            if isinstance(event, EligibilityAssessed):
                versions = (event.application_version, event.call_version)
                assert versions not in assessed, "the same content is never assessed twice"
                assert versions > (before.application_version, before.call_version)
                assessed.add(versions)
                assert event.eligible == all(r.passed for r in event.results)
                assert after.eligible == event.eligible and not after.overridden
            if isinstance(event, EligibilityOverridden):
                assert before.eligible is not None and event.eligible != before.eligible
                assert event.overrides_version == before.version
                assert len(event.justification.split()) >= 4, "overridden only with a sentence"
                assert after.overridden and after.results == before.results
        assert after.version == before.version + len(outcome)


# Experts ------------------------------------------------------------------------------------

EXPERT_IDS = st.sampled_from(["exp-1", "exp-1", "Exp 1", ""])


@st.composite
def profiles(draw: st.DrawFn) -> ExpertProfile:
    profile = ExpertProfile(
        draw(st.sampled_from(["Айгуль Сапарова", "A. Expert"])),
        tuple(draw(st.lists(st.sampled_from(VALID_BINS[:3]), max_size=2, unique=True))),
        tuple(draw(st.lists(st.sampled_from(["KZ-75", "KZ-11"]), max_size=2, unique=True))),
        tuple(draw(st.lists(st.sampled_from("ACJ"), max_size=2, unique=True))),
        ("kk", "ru"),
    )
    return _mostly_valid(
        draw,
        profile,
        [
            lambda p: ExpertProfile(draw(st.sampled_from(["", " \t"])), p.affiliation_bins),
            lambda p: ExpertProfile(p.name, (draw(TEXT),)),
            lambda p: ExpertProfile(p.name, (), ("KZ-75", "KZ-75")),
            lambda p: ExpertProfile(p.name, (), (), (draw(TEXT),)),
            lambda p: ExpertProfile(p.name, (), (), (), ("kaz",)),
        ],
    )


@st.composite
def expert_histories(draw: st.DrawFn) -> list[Any]:
    commands: list[Any] = []
    for n, now in enumerate(_times(draw, draw(st.integers(1, 10)))):
        expert_id = draw(EXPERT_IDS)
        match 0 if n == 0 and draw(st.integers(0, 3)) else draw(st.integers(0, 2)):
            case 0:
                commands.append(RegisterExpert(expert_id, draw(profiles()), now))
            case 1:
                commands.append(UpdateExpert(expert_id, draw(profiles()), now))
            case _:
                commands.append(DeactivateExpert(expert_id, draw(REASONS), now))
    return commands


@FUZZ
@given(expert_histories())
def test_an_expert_answers_any_commands_and_a_deactivated_expert_never_changes(
    commands: list[Any],
) -> None:
    # One stream, as the handler keeps one per expert id: the first id named is this one's.
    stream = [c for c in commands if c.expert_id == commands[0].expert_id]
    for command, before, outcome, after in _replay(expert_decider, stream):
        if isinstance(outcome, DomainError):
            continue
        if isinstance(before, Expert) and not before.active:
            assert outcome == [] and after == before, "a deactivated expert never changes"
        for event in outcome:
            assert event.expert_id == command.expert_id
            if isinstance(event, ExpertRegistered | ExpertUpdated):
                # Only a profile the registry accepts is ever recorded.
                fresh = RegisterExpert(event.expert_id, event.profile, command.now)
                assert expert_decider.decide(fresh, NoExpert())
            if isinstance(event, ExpertRegistered):
                assert isinstance(before, NoExpert)
            if isinstance(event, ExpertDeactivated):
                assert event.reason and event.reason == event.reason.strip()


# Assignment ---------------------------------------------------------------------------------

ASSIGNMENT_EXPERTS = ["exp-1", "exp-2", "exp-3", "exp-4"]


@st.composite
def cards(draw: st.DrawFn, expert_id: str) -> ExpertCard:
    """An expert of the pool: now and then affiliated with the application's coordinator,
    from its region, or deactivated."""
    return ExpertCard(
        expert_id,
        frozenset(draw(st.sampled_from([(), (), (), (VALID_BINS[0],), (VALID_BINS[5],)]))),
        frozenset(draw(st.lists(st.sampled_from(["KZ-75", "KZ-11"]), max_size=1))),
        frozenset(draw(st.lists(st.sampled_from("CJ"), max_size=1))),
        draw(st.integers(0, 5).map(bool)),
    )


@st.composite
def assignment_histories(draw: st.DrawFn) -> tuple[AssignmentTerms, list[Any]]:
    terms = AssignmentTerms(
        draw(st.integers(1, 3)), draw(st.booleans()), draw(st.booleans()), draw(st.integers(1, 20))
    )
    commands: list[Any] = []
    for now in _times(draw, draw(st.integers(1, 14))):
        # The commands other than an assignment name an expert of the panel most of the time.
        expert = draw(st.sampled_from(ASSIGNMENT_EXPERTS[:2]) | st.sampled_from(ASSIGNMENT_EXPERTS))
        reason = draw(REASONS)
        # Assignments first and most often: the other commands need a panel.
        match draw(st.integers(0, 9)):
            case 0 | 1 | 2 | 3:
                app = draw(known_applications(1))
                mode = draw(st.sampled_from(AssignmentMode))
                commands.append(AssignExpert(app, draw(cards(expert)), terms, mode, reason, now))
            case 4:
                cause = draw(st.sampled_from(UnassignmentCause))
                commands.append(UnassignExpert(APP, expert, cause, reason, now))
            case 5 | 6:
                conflict = draw(st.booleans())
                commands.append(DeclareInterest(APP, expert, conflict, reason, now))
            case 7:
                commands.append(
                    draw(
                        st.sampled_from(
                            [ReleasePanel(APP, "withdrawn", now), FlagOverdue(APP, now)]
                        )
                    )
                )
            case 8:
                commands.append(RenewPanel(APP, terms, draw(st.integers(2, 4)), SENTENCE, now))
            case _:
                commands.append(CompleteAssignment(APP, expert, draw(st.integers(1, 3)), now))
    return terms, commands


@FUZZ
@given(assignment_histories())
def test_a_panel_answers_any_commands_and_never_seats_an_expert_against_a_hard_rule(
    case: tuple[AssignmentTerms, list[Any]],
) -> None:
    terms, commands = case
    for command, before, outcome, after in _replay(assignment_decider, commands):
        if isinstance(outcome, DomainError):
            continue
        assert isinstance(before, Panel) and isinstance(after, Panel)
        assert len(after.active) <= terms.experts_per_application, "never above its size"
        assert not {a.expert_id for a in after.active} & after.conflicted, (
            "an expert who declared a conflict never sits on the panel"
        )
        for event in outcome:
            if isinstance(event, ExpertAssigned) and not before.is_active(event.expert_id):
                assert isinstance(command, AssignExpert), "only an assignment seats an expert"
                assert hard_rule_breaches(command.expert, command.application, terms) == []
                assert not command.application.withdrawn
                assert event.due_at == command.now + timedelta(days=terms.evaluation_days)
            if isinstance(event, ExpertAssigned) and before.is_active(event.expert_id):
                # A renewal: the declaration and the time of assignment stand.
                assert isinstance(command, RenewPanel)
                was, now = before.members[event.expert_id], after.members[event.expert_id]
                assert (now.declared, now.assigned_at) == (was.declared, was.assigned_at)
            if isinstance(event, ConflictDeclared | NoConflictDeclared):
                member = before.members[event.expert_id]
                assert member.active and member.declared == "none", "declared once, if seated"
            if isinstance(event, ExpertUnassigned):
                assert before.is_active(event.expert_id)
            if isinstance(event, AssignmentOverdue):
                member = before.members[event.expert_id]
                assert member.due_at <= command.now and not member.completed
            if isinstance(event, AssignmentCompleted):
                assert before.is_active(event.expert_id)


# Evaluation ---------------------------------------------------------------------------------

COMMENT = "A credible plan with named markets and partners for each step."
PANEL_EXPERTS = ["exp-1", "exp-2", "exp-3"]


@st.composite
def scoring_rules(draw: st.DrawFn) -> ScoringRules:
    experts = [
        CriterionRule(f"c{i}", CriterionKind.EXPERT, 0, 0, draw(st.integers(0, 5)), 0)
        for i in range(draw(st.integers(1, 3)))
    ]
    automatic = [
        CriterionRule(
            "partners",
            CriterionKind.AUTOMATIC,
            0,
            0,
            5,
            draw(st.integers(0, 3)),
            "participant_count",
            (Band(3, 2), Band(5, 5)),
        )
    ][: draw(st.integers(0, 1))]
    criteria = [*experts, *automatic]
    weights = [100 // len(criteria)] * len(criteria)
    weights[0] += 100 - sum(weights)
    return ScoringRules(
        tuple(
            CriterionRule(
                c.id, c.kind, w, c.scale_min, c.scale_max, c.threshold, c.measure, c.bands
            )
            for c, w in zip(criteria, weights, strict=True)
        ),
        draw(st.integers(0, 100)),
        # Mostly a small limit: a panel's spread then often requires consensus.
        divergence_threshold=draw(st.sampled_from([0, 0, 1, 3])),
        aggregation=draw(st.sampled_from(Aggregation)),
        min_comment_chars=draw(st.integers(0, 40)),
        step_half_points=draw(st.integers(1, 2)),
    )


@st.composite
def expert_scores(draw: st.DrawFn, rules: ScoringRules) -> tuple[CriterionScore, ...]:
    """Mostly one valid score per expert criterion; now and then one missing, doubled, with
    a short comment, off the scale or its step, or not a criterion."""
    scores = tuple(
        CriterionScore(c.id, draw(st.integers(c.scale_min, c.scale_max)) * 2, COMMENT)
        for c in rules.expert_criteria
    )
    return _mostly_valid(
        draw,
        scores,
        [
            lambda s: s[1:],
            lambda s: (CriterionScore(s[0].criterion_id, s[0].half_points, "ok"), *s[1:]),
            lambda s: (CriterionScore(s[0].criterion_id, s[0].half_points + 1, COMMENT), *s[1:]),
            lambda s: (*s, s[0]),
            lambda s: (CriterionScore(s[0].criterion_id, draw(st.integers(-3, 13)), COMMENT),),
            lambda s: (*s, CriterionScore("partners", 4, COMMENT)),
            lambda s: (*s, CriterionScore(draw(TEXT), 2, COMMENT)),
        ],
    )


@st.composite
def panels(draw: st.DrawFn) -> tuple[PanelMember, ...]:
    """The experts on the panel when a command comes: most have declared no conflict."""
    ids = draw(st.lists(st.sampled_from(PANEL_EXPERTS), min_size=1, max_size=3, unique=True))
    if len(ids) == 1 and draw(st.integers(0, 3)):
        ids.append(next(e for e in PANEL_EXPERTS if e not in ids))  # mostly more than one
    return tuple(
        PanelMember(
            expert_id,
            EPOCH + timedelta(hours=PANEL_EXPERTS.index(expert_id)),
            draw(st.sampled_from(["no_conflict", "no_conflict", "no_conflict", "none"])),
        )
        for expert_id in ids
    )


@st.composite
def evaluation_histories(draw: st.DrawFn) -> tuple[ScoringRules, list[Any]]:
    # One methodology for a history: the call's terms are fixed once it has closed.
    rules = draw(scoring_rules())
    panel = draw(panels())
    measures = draw(st.sampled_from([{"participant_count": 4}, {}, {"participant_count": -1}]))
    commands: list[Any] = []
    for now in _times(draw, draw(st.integers(1, 20))):
        if not draw(st.integers(0, 5)):
            panel = draw(panels())  # an expert unassigned, another assigned
        # Mostly an expert of the panel: the others are refused.
        expert = draw(
            st.sampled_from([m.expert_id for m in panel]) | st.sampled_from(PANEL_EXPERTS)
        )
        match draw(st.integers(0, 9)):
            case 0 | 1:
                commands.append(
                    SaveDraft(APP, CALL, expert, draw(expert_scores(rules)), rules, panel, now)
                )
            case 2 | 3 | 4 | 5:
                scores = draw(expert_scores(rules))
                commands.append(
                    SubmitEvaluation(APP, CALL, expert, scores, rules, panel, measures, now)
                )
            case 6:
                commands.append(NameRapporteur(APP, expert, panel, now))
            case 7 | 8:
                # Mostly the first assigned, whom the rule names rapporteur.
                expert = draw(st.sampled_from([min(m.expert_id for m in panel), expert]))
                justification = draw(st.sampled_from([COMMENT, COMMENT, "", "too short"]))
                scores = draw(expert_scores(rules))
                commands.append(RecordConsensus(APP, expert, scores, justification, rules, now))
            case _:
                appeal = draw(st.sampled_from(["", "appeal-1", "appeal-2"]))
                commands.append(ReopenEvaluation(APP, draw(REASONS), appeal, now))
    return rules, commands


# Twice the examples: consensus needs a diverging panel, then its rapporteur's report.
@hsettings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(evaluation_histories())
def test_an_evaluation_answers_any_commands_keeps_submissions_and_asks_consensus_only_if_needed(
    case: tuple[ScoringRules, list[Any]],
) -> None:
    rules, commands = case
    for command, before, outcome, after in _replay(evaluation_decider, commands):
        if isinstance(outcome, DomainError):
            continue
        assert isinstance(before, Evaluation) and isinstance(after, Evaluation)
        if not any(isinstance(e, EvaluationReopened) for e in outcome):
            assert after.round == before.round
            for expert_id, scores in before.submitted.items():
                assert after.submitted[expert_id] == scores, "a submission never changes"
        for event in outcome:
            if isinstance(event, EvaluationDraftSaved | EvaluationSubmitted):
                assert event.expert_id not in before.submitted and before.final is None
            if isinstance(event, ConsensusRequired):
                assert isinstance(command, SubmitEvaluation)
                assert event.divergences
                panel = {m.expert_id for m in command.panel}
                for d in event.divergences:
                    halves = [
                        s.half_points
                        for expert_id, scores in after.submitted.items()
                        if expert_id in panel
                        for s in scores
                        if s.criterion_id == d.criterion_id
                    ]
                    assert (d.lowest, d.highest) == (min(halves), max(halves))
                    assert diverges(halves, rules.divergence_threshold)
            if isinstance(event, RapporteurNamed):
                assert event.expert_id in after.submitted
            if isinstance(event, ConsensusRecorded):
                assert before.divergences and before.final is None, "consensus only if required"
                assert event.expert_id == before.rapporteur
            if isinstance(event, EvaluationFinalised):
                assert before.final is None
                assert [s.criterion_id for s in event.scores] == [c.id for c in rules.criteria]
                consensus = any(isinstance(e, ConsensusRecorded) for e in outcome)
                assert consensus == bool(before.divergences)
                for s in event.scores:
                    c = rules.criterion(s.criterion_id)
                    assert c is not None and c.scale_min <= s.score <= c.scale_max
                    assert (s.basis is Basis.AUTOMATIC) == (c.kind is CriterionKind.AUTOMATIC)
                    if consensus and c.kind is CriterionKind.EXPERT:
                        assert s.basis is Basis.CONSENSUS
                assert 0 <= event.overall <= 100
                assert event.fundable == (not event.failed_thresholds)
            if isinstance(event, EvaluationReopened):
                assert before.final is not None and event.round == before.round + 1
                assert after.submitted == {} and after.final is None


# Ranking ------------------------------------------------------------------------------------

RANKING_RULES = ScoringRules(
    (
        CriterionRule("strategy", CriterionKind.EXPERT, 60, 0, 5, 2),
        CriterionRule("cooperation", CriterionKind.EXPERT, 40, 0, 5, 0),
    ),
    50,
    tie_break=("criterion:cooperation", "registration"),
)
HALF = st.integers(0, 10).map(lambda h: Fraction(h, 2))


@st.composite
def ranking_inputs(draw: st.DrawFn) -> list[RankingInput]:
    """Final evaluations of up to six applications, often tied on their scores."""
    count = draw(st.integers(0, 6))
    inputs = []
    for n in range(count):
        strategy, cooperation = draw(HALF), draw(HALF)
        overall = 12 * strategy + 8 * cooperation
        failed = tuple(
            name for name, fails in (("strategy", strategy < 2), ("overall", overall < 50)) if fails
        )
        inputs.append(
            RankingInput(
                f"app-{n}",
                draw(st.sampled_from([f"KZ-75-2017-{n:04d}", "", "KZ\x00", "Ω"])),
                EPOCH + timedelta(minutes=draw(st.integers(0, 3))),
                draw(st.integers(1, 3)),
                {"strategy": strategy, "cooperation": cooperation},
                overall,
                failed,
                tuple(draw(st.lists(st.sampled_from(["e1", "e2", "e3"]), unique=True))),
            )
        )
    return inputs


@FUZZ
@given(st.lists(ranking_inputs(), min_size=1, max_size=6), st.sampled_from(RANKING_RULES.tie_break))
def test_a_ranking_recomputes_to_its_hash_and_publishes_a_version_only_for_a_change(
    runs: list[list[RankingInput]], first_key: str
) -> None:
    rules = RANKING_RULES
    if first_key == "registration":
        rules = ScoringRules(rules.criteria, rules.overall_threshold_percent)
    commands = [
        PublishRanking(CALL, rank(CALL, rules, inputs), EPOCH + timedelta(hours=n))
        for n, inputs in enumerate(runs)
    ]
    for command, before, outcome, after in _replay(ranking_decider, commands):
        assert not isinstance(outcome, DomainError)
        assert isinstance(before, Ranking) and isinstance(after, Ranking)
        published: list[RankingPublished] = list(outcome)
        if before.published is not None and before.published.content == command.content:
            assert published == [], "the same content twice publishes nothing"
        for event in published:
            digest = hashlib.sha256(canonical_bytes(event.content)).hexdigest()
            assert event.content_hash == digest, "the hash recomputes from the bytes"
            last = before.published.ranking_version if before.published else 0
            assert event.ranking_version == last + 1
            entries = event.content.entries
            assert [e.rank for e in entries] == list(range(1, len(entries) + 1))
            keys = [(not e.fundable, -e.overall) for e in entries]
            assert keys == sorted(keys), "fundable first, then the overall score"
            assert [e.decided_by == "" for e in entries] == [n == 0 for n in range(len(entries))]


KNOWN_KEYS = ["registration", "criterion:strategy", "criterion:cooperation"]


@FUZZ
@given(st.lists(st.sampled_from(KNOWN_KEYS) | st.text(max_size=30), min_size=1, max_size=3))
def test_a_tie_break_naming_no_criterion_is_a_domain_error(keys: list[str]) -> None:
    rules = ScoringRules(RANKING_RULES.criteria, 50, tie_break=tuple(keys))
    known = set(KNOWN_KEYS)
    try:
        rank(CALL, rules, [])
    except DomainError:
        assert not set(keys) <= known
    else:
        assert set(keys) <= known


# Privacy's subjects -------------------------------------------------------------------------


@FUZZ
@given(st.lists(st.tuples(REASONS, st.sampled_from(["", "contact/call_closed+5y"])), max_size=8))
def test_an_erased_subject_stays_erased_by_exactly_one_event(
    attempts: list[tuple[str, str]],
) -> None:
    subject = "application-1/content.contact"
    commands = [
        EraseSubject(subject, reason, EPOCH + timedelta(days=n), rule)
        for n, (reason, rule) in enumerate(attempts)
    ]
    erased: list[SubjectErased] = []
    for _command, before, outcome, after in _replay(subject_decider, commands):
        assert isinstance(before, Subject) and isinstance(after, Subject)
        if before.erased:
            assert after.erased and isinstance(outcome, DomainError), "erased stays erased"
        if not isinstance(outcome, DomainError):
            erased += outcome
            assert all(len(e.reason.split()) >= 2 for e in outcome), "an erasure says why"
    assert len(erased) <= 1
    assert subject_decider.fold(erased).erased == bool(erased)
