"""Golden bytes: stored serializations of one envelope, of each intake, scoring, commission
and plans event, and of each analytics fact.

Events are the legal record and are kept forever, so bytes written once must still decode,
to the same values, with the classes generated from today's schemas. Each file under
tests/golden/ was written once from the case of the same name below and is never rewritten:

- decoding a file and comparing it with its case fails when a field the bytes use was
  removed, renumbered or retyped;
- serializing the case and comparing it with the file fails when today's classes would
  write the same event differently.

A case is frozen with its file. A new field is covered by a new case (and file), never by
editing an old one. `python tests/unit/test_schema_golden.py --write` writes the files of
new cases and leaves existing ones alone.

An event whose schema version was bumped keeps its old case as the golden old version (the
stem without a suffix is version 1) and gets a case per new version (`.v2`, ...); the
upcasters are tested on the old files (tests/unit/test_upcast.py).

The content is illustrative: the 2017 applications are not public.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from types import ModuleType

import pytest
from google.protobuf import descriptor_pool, message_factory, text_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from konkurs.analytics.v1 import facts_pb2 as analytics_pb2
from konkurs.commission.v1 import events_pb2 as commission_pb2
from konkurs.envelope.v1 import envelope_pb2
from konkurs.intake.v1 import application_pb2, call_pb2, events_pb2
from konkurs.plans.v1 import events_pb2 as plans_pb2
from konkurs.privacy.v1 import events_pb2 as privacy_pb2
from konkurs.scoring.v1 import assignment_pb2 as scoring_assignment_pb2
from konkurs.scoring.v1 import evaluation_pb2 as scoring_evaluation_pb2
from konkurs.scoring.v1 import experts_pb2 as scoring_experts_pb2
from konkurs.scoring.v1 import ranking_pb2 as scoring_ranking_pb2
from konkurs.scoring.v1 import screening_pb2 as scoring_screening_pb2
from konkurs.types.v1 import types_pb2

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"

CALL_ID = "territorial-clusters-2017"
APPLICATION_ID = "5f0c2d1e-8b7a-4c3d-9e2f-1a6b4c8d7e90"


def at(iso: str) -> Timestamp:
    """The instant written in ISO 8601 with its local offset."""
    moment = datetime.fromisoformat(iso)
    assert moment.tzinfo is not None, "golden instants carry their offset"
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def text(ru: str, kk: str, en: str) -> types_pb2.LocalizedText:
    return types_pb2.LocalizedText(ru=ru, kk=kk, en=en)


def tenge(amount: int) -> types_pb2.Money:
    """Whole tenge as Money in tiyn."""
    return types_pb2.Money(currency="KZT", minor_units=amount * 100)


def call_2017() -> call_pb2.CallDefinition:
    return call_pb2.CallDefinition(
        title=text(
            ru="Конкурсный отбор территориальных кластеров 2017 года",
            kk="2017 жылғы аумақтық кластерлерді конкурстық іріктеу",
            en="2017 competitive selection of territorial clusters",
        ),
        description=text(
            ru="Отбор пилотных территориальных кластеров для участия в проекте Всемирного "
            "банка «Повышение конкурентоспособности МСП в Республике Казахстан».",
            kk="Дүниежүзілік банктің «Қазақстан Республикасында ШОБ-тың бәсекеге "
            "қабілеттілігін арттыру» жобасына қатысу үшін пилоттық аумақтық кластерлерді "
            "іріктеу.",
            en="Selection of pilot territorial clusters for the World Bank project "
            "“Improving the competitiveness of SMEs in the Republic of Kazakhstan”.",
        ),
        programme="territorial-clusters",
        opens_at=at("2017-04-10T00:00:00+06:00"),
        closes_at=at("2017-06-08T18:00:00+06:00"),
        time_zone="Asia/Almaty",
        utc_offset_minutes=360,
        quota=6,
        region_set="2017",
        # The 16 regions of 2017: 14 oblasts, Astana and Almaty.
        accepted_region_codes=(
            "KZ-11 KZ-15 KZ-19 KZ-23 KZ-27 KZ-31 KZ-35 KZ-39 "
            "KZ-43 KZ-47 KZ-51 KZ-55 KZ-59 KZ-63 KZ-71 KZ-75"
        ).split(),
        eligibility=call_pb2.EligibilityRules(
            min_participants=5,
            min_sme_share_percent=50,
            require_university_or_research=True,
            required_document_kinds=["charter", "strategy", "letter-of-intent"],
        ),
        methodology=call_pb2.Methodology(
            criteria=[
                call_pb2.Criterion(
                    id="critical-mass",
                    name=text(
                        ru="Критическая масса кластера",
                        kk="Кластердің сындарлы массасы",
                        en="Critical mass of the cluster",
                    ),
                    guidance=text(
                        ru="Число участников кластера",
                        kk="Кластер қатысушыларының саны",
                        en="Number of cluster participants",
                    ),
                    weight_percent=15,
                    scale_min=0,
                    scale_max=5,
                    kind=call_pb2.CRITERION_KIND_AUTOMATIC,
                    threshold=0,
                    automatic=call_pb2.AutomaticScoring(
                        measure=call_pb2.AUTOMATIC_MEASURE_PARTICIPANT_COUNT,
                        bands=[
                            call_pb2.ScoreBand(at_least=5, score=1),
                            call_pb2.ScoreBand(at_least=10, score=3),
                            call_pb2.ScoreBand(at_least=20, score=5),
                        ],
                    ),
                ),
                call_pb2.Criterion(
                    id="co-financing",
                    name=text(
                        ru="Софинансирование участниками",
                        kk="Қатысушылардың қоса қаржыландыруы",
                        en="Co-financing by the participants",
                    ),
                    guidance=text(
                        ru="Доля собственных средств участников в бюджете",
                        kk="Бюджеттегі қатысушылардың өз қаражатының үлесі",
                        en="Participants' own share of the budget",
                    ),
                    weight_percent=15,
                    scale_min=0,
                    scale_max=5,
                    kind=call_pb2.CRITERION_KIND_AUTOMATIC,
                    threshold=0,
                    automatic=call_pb2.AutomaticScoring(
                        measure=call_pb2.AUTOMATIC_MEASURE_CO_FINANCING_SHARE_PERCENT,
                        bands=[
                            call_pb2.ScoreBand(at_least=10, score=1),
                            call_pb2.ScoreBand(at_least=20, score=3),
                            call_pb2.ScoreBand(at_least=30, score=5),
                        ],
                    ),
                ),
                call_pb2.Criterion(
                    id="strategy",
                    name=text(
                        ru="Качество стратегии развития",
                        kk="Даму стратегиясының сапасы",
                        en="Quality of the development strategy",
                    ),
                    guidance=text(
                        ru="Обоснованность целей, реалистичность плана, рыночный потенциал",
                        kk="Мақсаттардың негізділігі, жоспардың шынайылығы, нарықтық әлеует",
                        en="Sound goals, a realistic plan, market potential",
                    ),
                    weight_percent=40,
                    scale_min=1,
                    scale_max=5,
                    kind=call_pb2.CRITERION_KIND_EXPERT,
                    threshold=3,
                ),
                call_pb2.Criterion(
                    id="cooperation",
                    name=text(
                        ru="Кооперация бизнеса, науки и государства",
                        kk="Бизнес, ғылым және мемлекет ынтымақтастығы",
                        en="Cooperation of business, science and government",
                    ),
                    guidance=text(
                        ru="Совместные проекты участников, роль университета и акимата",
                        kk="Қатысушылардың бірлескен жобалары, университет пен әкімдіктің рөлі",
                        en="Joint projects of the participants, role of the university "
                        "and the akimat",
                    ),
                    weight_percent=30,
                    scale_min=1,
                    scale_max=5,
                    kind=call_pb2.CRITERION_KIND_EXPERT,
                    threshold=3,
                ),
            ],
            overall_threshold_percent=60,
            experts_per_application=3,
            divergence_threshold=2,
        ),
    )


def application_content() -> application_pb2.ApplicationContent:
    return application_pb2.ApplicationContent(
        cluster=application_pb2.Cluster(
            name="Шығыс Қазақстан жиһаз кластері",
            description="Өскемен мен Риддер қалаларының жиһаз және ағаш өңдеу "
            "кәсіпорындарының, университет пен ғылыми орталықтың бірлестігі.",
            region_code="KZ-63",
            specialisation_oked_codes=["31090", "16100"],
        ),
        coordinator=application_pb2.Organisation(
            bin="120540099118",
            name="«Шығыс Қазақстан жиһаз кластері» заңды тұлғалар бірлестігі",
        ),
        participants=[
            application_pb2.Participant(
                bin="960240053175",
                name="«Алтай Ағаш Өңдеу» АҚ",
                kind=application_pb2.PARTICIPANT_KIND_LARGE_ENTERPRISE,
                employees=412,
                annual_revenue=tenge(8_450_000_000),
                export_share_percent=22,
            ),
            application_pb2.Participant(
                bin="110940028718",
                name="«Ертіс Жиһаз» ЖШС",
                kind=application_pb2.PARTICIPANT_KIND_SME,
                employees=87,
                annual_revenue=tenge(1_240_000_000),
                export_share_percent=9,
            ),
            application_pb2.Participant(
                bin="150640037020",
                name="«Өскемен Үй Жабдығы» ЖШС",
                kind=application_pb2.PARTICIPANT_KIND_SME,
                employees=34,
                annual_revenue=tenge(318_500_000),
                export_share_percent=0,
            ),
            application_pb2.Participant(
                bin="160340012878",
                name="«Нұр-Һаят Мебель» ЖШС",
                kind=application_pb2.PARTICIPANT_KIND_SME,
                employees=21,
                annual_revenue=tenge(154_300_000),
                export_share_percent=4,
            ),
            application_pb2.Participant(
                bin="001240004587",
                name="«Ертіс өңірлік технологиялық университеті» КеАҚ",
                kind=application_pb2.PARTICIPANT_KIND_UNIVERSITY,
                employees=640,
                annual_revenue=tenge(5_900_000_000),
                export_share_percent=0,
            ),
            application_pb2.Participant(
                bin="071140019465",
                name="«Шығыс Ағаш Зерттеу» ғылыми орталығы ЖШС",
                kind=application_pb2.PARTICIPANT_KIND_RESEARCH_ORGANISATION,
                employees=18,
                annual_revenue=tenge(96_000_000),
                export_share_percent=0,
            ),
        ],
        strategy_summary="Шығыс Қазақстан ағашынан жасалған жиһаз өндірісін дамыту: шикізатты "
        "бірлесіп сатып алу, өнімді сертификаттау, кадрларды университетпен бірге даярлау, "
        "Ресей мен Орталық Азия нарықтарына шығу.",
        requested_support=[
            application_pb2.SupportRequest(
                kind="consulting",
                description="Кластерді диагностикалау және даму стратегиясын әзірлеу",
                amount=tenge(45_000_000),
            ),
            application_pb2.SupportRequest(
                kind="training",
                description="Жиһаз өндірісі мамандарын оқыту бағдарламасы",
                amount=tenge(25_000_000),
            ),
        ],
        co_financing=application_pb2.CoFinancing(amount=tenge(30_000_000), share_percent=30),
        contact=application_pb2.ContactPerson(
            name="Айгүл Нұрланқызы Сәрсенбаева",
            phone="+7 701 555 0142",
            email="a.sarsenbayeva@example.kz",
        ),
        documents=[
            application_pb2.Document(
                kind="charter",
                filename="Жарғы_кластер.pdf",
                media_type="application/pdf",
                size_bytes=482_113,
                sha256="73a2f8367bab6e596ad21b6b47d45096f5471f1553a7e8b5c83e0bc3c4a3f3ae",
            ),
            application_pb2.Document(
                kind="strategy",
                filename="Стратегия_2017-2020.docx",
                media_type="application/vnd.openxmlformats-officedocument"
                ".wordprocessingml.document",
                size_bytes=1_204_771,
                sha256="2fac8282649d82cc3d6076a83742735d9a0d0111e1a42d930ba2827d3e5218e3",
            ),
            application_pb2.Document(
                kind="letter-of-intent",
                filename="Ниет_хаттары.pdf",
                media_type="application/pdf",
                size_bytes=2_338_090,
                sha256="58f8934f634c0adac340de9dd41a33f6627fed59744f2582e0377f10f210e110",
            ),
        ],
    )


def financial_statements() -> application_pb2.Document:
    return application_pb2.Document(
        kind="financial-statements",
        filename="Қаржылық_есептілік_2016.xlsx",
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        size_bytes=88_412,
        sha256="7132af7965ef2eca1859762b1c4fa524643f89fe12e954390e6d5eda8c7a2b01",
    )


def call_announced() -> events_pb2.CallAnnounced:
    return events_pb2.CallAnnounced(call_id=CALL_ID, call=call_2017(), illustrative=True)


def call_amended() -> events_pb2.CallAmended:
    amended = call_2017()
    amended.eligibility.required_document_kinds.append("financial-statements")
    return events_pb2.CallAmended(
        call_id=CALL_ID,
        revision=2,
        call=amended,
        reason="Уточнён перечень обязательных документов: добавлена финансовая отчётность "
        "участников за 2016 год.",
    )


def call_closed_on_schedule() -> events_pb2.CallClosed:
    return events_pb2.CallClosed(
        call_id=CALL_ID,
        closed_at=at("2017-06-08T18:00:00+06:00"),
        reason=events_pb2.CALL_CLOSE_REASON_SCHEDULED,
    )


def call_closed_by_hand() -> events_pb2.CallClosed:
    return events_pb2.CallClosed(
        call_id=CALL_ID,
        closed_at=at("2017-06-08T16:30:00+06:00"),
        reason=events_pb2.CALL_CLOSE_REASON_MANUAL,
        explanation="Приём заявок завершён досрочно по поручению Министерства по "
        "инвестициям и развитию.",
    )


def application_submitted() -> events_pb2.ApplicationSubmitted:
    return events_pb2.ApplicationSubmitted(
        application_id=APPLICATION_ID,
        call_id=CALL_ID,
        registration_number="TC-2017-009",
        content=application_content(),
        illustrative=True,
    )


def application_amended() -> events_pb2.ApplicationAmended:
    content = application_content()
    content.participants.append(
        # A public body has no revenue, so annual_revenue stays unset.
        application_pb2.Participant(
            bin="131040076127",
            name="Шығыс Қазақстан облысы әкімдігінің кәсіпкерлік және индустриялық-"
            "инновациялық даму басқармасы ММ",
            kind=application_pb2.PARTICIPANT_KIND_PUBLIC_BODY,
            employees=52,
        )
    )
    content.documents.append(financial_statements())
    return events_pb2.ApplicationAmended(application_id=APPLICATION_ID, revision=2, content=content)


def name_primary_and_related_codes(content: application_pb2.ApplicationContent) -> None:
    """What schema version 2 of ApplicationSubmitted and ApplicationAmended adds to v1:
    the primary and the related OKED codes, besides the list they head and follow."""
    content.cluster.primary_oked_code = "31090"
    content.cluster.related_oked_codes.append("16100")


def application_submitted_v2() -> events_pb2.ApplicationSubmitted:
    event = application_submitted()
    name_primary_and_related_codes(event.content)
    return event


def application_amended_v2() -> events_pb2.ApplicationAmended:
    event = application_amended()
    name_primary_and_related_codes(event.content)
    return event


def application_withdrawn() -> events_pb2.ApplicationWithdrawn:
    return events_pb2.ApplicationWithdrawn(
        application_id=APPLICATION_ID,
        reason="Кластер қатысушылары келесі конкурсқа толық құжаттармен қатысуды шешті.",
    )


def document_attached() -> events_pb2.DocumentAttached:
    return events_pb2.DocumentAttached(
        application_id=APPLICATION_ID, document=financial_statements()
    )


def envelope_of_submission() -> envelope_pb2.Envelope:
    """A 2017 submission as a regional operator's bulk import records it."""
    return envelope_pb2.Envelope(
        event_id="c1a7e0f4-2b6d-4f8a-9c3e-5d7b1a2e4f60",
        event_type="konkurs.intake.v1.ApplicationSubmitted",
        stream_id=APPLICATION_ID,
        stream_version=1,
        occurred_at=at("2017-06-02T11:47:15+06:00"),
        recorded_at=at("2025-11-20T09:12:03.418207+05:00"),
        actor=envelope_pb2.Actor(
            subject="4b1f6c2e-93d7-4a5e-b8f0-2c6d9e1a7b35",
            role="regional_operator",
            organisation="020640066304",
            region="KZ-63",
        ),
        correlation_id="8e3d5b2a-7c1f-4d6e-a9b0-3f2e1d4c5b6a",
        causation_id="d2f4a6c8-1e3b-4a5d-8f7c-9b0a2c4e6d81",
        schema_version=1,
        payload=serialize(application_submitted()),
        imported=True,
    )


def subject_erased_by_retention() -> privacy_pb2.SubjectErased:
    return privacy_pb2.SubjectErased(
        subject_id="application-7c9e6679-7425-40de-944b-e07fc1f90ae7/content.contact",
        reason="retention: contact data 5 years after the call closed",
        erased_at=at("2022-06-08T18:00:01+06:00"),
        retention_rule="contact/call_closed+5y",
    )


def call_announced_with_scoring_terms() -> events_pb2.CallAnnounced:
    """The 2017 call with every term the scoring methodology gained for issue 8."""
    event = call_announced()
    methodology = event.call.methodology
    methodology.scale_step = call_pb2.SCALE_STEP_WHOLE_POINT
    methodology.min_comment_chars = 200
    methodology.aggregation = call_pb2.AGGREGATION_MEDIAN
    methodology.blind_applicants = True
    methodology.exclude_same_region_experts = True
    methodology.evaluation_days = 21
    methodology.tie_break.extend(["criterion:strategy", "criterion:cooperation", "registration"])
    return event


# Scoring's events: the 2017 call's application above, evaluated by illustrative experts.
EXPERT_ID = "expert-2017-07"
SCORING_CALL_ID = "kz-clusters-2017"


def strategy_scores() -> list[scoring_evaluation_pb2.CriterionScore]:
    return [
        scoring_evaluation_pb2.CriterionScore(
            criterion_id="strategy",
            half_points=7,
            comment="Рынки сбыта названы, но план не говорит, кто финансирует каждый шаг.",
        ),
        scoring_evaluation_pb2.CriterionScore(
            criterion_id="cooperation",
            half_points=8,
            comment="Университет и акимат ведут два совместных проекта с участниками.",
        ),
    ]


def exact(numerator: int, denominator: int) -> scoring_evaluation_pb2.ExactScore:
    return scoring_evaluation_pb2.ExactScore(numerator=numerator, denominator=denominator)


def eligibility_assessed() -> scoring_screening_pb2.EligibilityAssessed:
    return scoring_screening_pb2.EligibilityAssessed(
        application_id=APPLICATION_ID,
        call_id=SCORING_CALL_ID,
        application_version=2,
        call_version=1,
        eligible=True,
        results=[
            scoring_screening_pb2.RuleResult(
                rule="region", passed=True, required="KZ-11, KZ-63, KZ-75", found="KZ-63"
            ),
            scoring_screening_pb2.RuleResult(
                rule="min_sme_share_percent", passed=True, required="50", found="57"
            ),
        ],
    )


def eligibility_overridden() -> scoring_screening_pb2.EligibilityOverridden:
    return scoring_screening_pb2.EligibilityOverridden(
        application_id=APPLICATION_ID,
        call_id=SCORING_CALL_ID,
        eligible=True,
        justification="The charter was filed on time on paper; the operator scanned it late.",
        overrides_version=1,
    )


def expert_profile() -> scoring_experts_pb2.ExpertProfile:
    return scoring_experts_pb2.ExpertProfile(
        name="Эксперт 07 (вымышленный)",
        affiliation_bins=["020640066304"],
        region_codes=["KZ-63", "KZ-75"],
        oked_sections=["B", "C"],
        languages=["ru", "kk"],
    )


def expert_registered() -> scoring_experts_pb2.ExpertRegistered:
    return scoring_experts_pb2.ExpertRegistered(expert_id=EXPERT_ID, profile=expert_profile())


def expert_updated() -> scoring_experts_pb2.ExpertUpdated:
    profile = expert_profile()
    profile.languages.append("en")
    return scoring_experts_pb2.ExpertUpdated(expert_id=EXPERT_ID, profile=profile)


def expert_deactivated() -> scoring_experts_pb2.ExpertDeactivated:
    return scoring_experts_pb2.ExpertDeactivated(
        expert_id=EXPERT_ID, reason="Joined the staff of a participant in 2018."
    )


def expert_assigned() -> scoring_assignment_pb2.ExpertAssigned:
    return scoring_assignment_pb2.ExpertAssigned(
        application_id=APPLICATION_ID,
        call_id=SCORING_CALL_ID,
        expert_id=EXPERT_ID,
        mode=scoring_assignment_pb2.ASSIGNMENT_MODE_AUTOMATIC,
        reason="automatic: least loaded (2 in the call), sector C matches",
        due_at=at("2017-06-30T10:00:00+06:00"),
        assigned_at=at("2017-06-16T10:00:00+06:00"),
    )


def expert_unassigned() -> scoring_assignment_pb2.ExpertUnassigned:
    return scoring_assignment_pb2.ExpertUnassigned(
        application_id=APPLICATION_ID,
        expert_id=EXPERT_ID,
        cause=scoring_assignment_pb2.UNASSIGNMENT_CAUSE_CONFLICT,
        reason="Until 2016 I advised the cluster's coordinator on its export strategy.",
    )


def conflict_declared() -> scoring_assignment_pb2.ConflictDeclared:
    return scoring_assignment_pb2.ConflictDeclared(
        application_id=APPLICATION_ID,
        expert_id=EXPERT_ID,
        nature="Until 2016 I advised the cluster's coordinator on its export strategy.",
    )


def no_conflict_declared() -> scoring_assignment_pb2.NoConflictDeclared:
    return scoring_assignment_pb2.NoConflictDeclared(
        application_id=APPLICATION_ID, expert_id=EXPERT_ID
    )


def assignment_overdue() -> scoring_assignment_pb2.AssignmentOverdue:
    return scoring_assignment_pb2.AssignmentOverdue(
        application_id=APPLICATION_ID,
        expert_id=EXPERT_ID,
        due_at=at("2017-06-30T10:00:00+06:00"),
    )


def assignment_completed() -> scoring_assignment_pb2.AssignmentCompleted:
    return scoring_assignment_pb2.AssignmentCompleted(
        application_id=APPLICATION_ID,
        expert_id=EXPERT_ID,
        round=1,
        completed_at=at("2017-06-28T16:20:05+06:00"),
    )


def evaluation_draft_saved() -> scoring_evaluation_pb2.EvaluationDraftSaved:
    return scoring_evaluation_pb2.EvaluationDraftSaved(
        application_id=APPLICATION_ID,
        call_id=SCORING_CALL_ID,
        round=1,
        expert_id=EXPERT_ID,
        scores=strategy_scores(),
        saved_at=at("2017-06-27T19:02:41+06:00"),
    )


def evaluation_submitted() -> scoring_evaluation_pb2.EvaluationSubmitted:
    return scoring_evaluation_pb2.EvaluationSubmitted(
        application_id=APPLICATION_ID,
        call_id=SCORING_CALL_ID,
        round=1,
        expert_id=EXPERT_ID,
        scores=strategy_scores(),
        submitted_at=at("2017-06-28T16:20:05+06:00"),
    )


def automatic_scores_computed() -> scoring_evaluation_pb2.AutomaticScoresComputed:
    return scoring_evaluation_pb2.AutomaticScoresComputed(
        application_id=APPLICATION_ID,
        call_id=SCORING_CALL_ID,
        round=1,
        scores=[
            scoring_evaluation_pb2.AutomaticScore(
                criterion_id="critical-mass", measure="participant_count", measured=7, score=1
            )
        ],
        computed_at=at("2017-07-03T11:04:00+06:00"),
    )


def consensus_required() -> scoring_evaluation_pb2.ConsensusRequired:
    return scoring_evaluation_pb2.ConsensusRequired(
        application_id=APPLICATION_ID,
        call_id=SCORING_CALL_ID,
        round=1,
        divergences=[
            scoring_evaluation_pb2.Divergence(
                criterion_id="strategy", lowest_half_points=2, highest_half_points=9
            )
        ],
        required_at=at("2017-07-03T11:04:00+06:00"),
    )


def rapporteur_named() -> scoring_evaluation_pb2.RapporteurNamed:
    return scoring_evaluation_pb2.RapporteurNamed(
        application_id=APPLICATION_ID,
        call_id=SCORING_CALL_ID,
        round=1,
        expert_id=EXPERT_ID,
        by_rule=True,
        named_at=at("2017-07-03T11:04:00+06:00"),
    )


def consensus_recorded() -> scoring_evaluation_pb2.ConsensusRecorded:
    return scoring_evaluation_pb2.ConsensusRecorded(
        application_id=APPLICATION_ID,
        call_id=SCORING_CALL_ID,
        round=1,
        expert_id=EXPERT_ID,
        scores=strategy_scores(),
        justification="The panel met on 5 July 2017 and agreed on the strategy's market figures.",
        recorded_at=at("2017-07-05T15:30:00+06:00"),
    )


def evaluation_finalised() -> scoring_evaluation_pb2.EvaluationFinalised:
    return scoring_evaluation_pb2.EvaluationFinalised(
        application_id=APPLICATION_ID,
        call_id=SCORING_CALL_ID,
        round=1,
        scores=[
            scoring_evaluation_pb2.FinalScore(
                criterion_id="critical-mass",
                score=exact(1, 1),
                basis=scoring_evaluation_pb2.SCORE_BASIS_AUTOMATIC,
            ),
            scoring_evaluation_pb2.FinalScore(
                criterion_id="strategy",
                score=exact(7, 2),
                basis=scoring_evaluation_pb2.SCORE_BASIS_CONSENSUS,
            ),
            scoring_evaluation_pb2.FinalScore(
                criterion_id="cooperation",
                score=exact(23, 6),
                basis=scoring_evaluation_pb2.SCORE_BASIS_EXPERTS,
            ),
        ],
        overall=exact(1379, 20),
        fundable=True,
        expert_ids=["expert-2017-02", EXPERT_ID, "expert-2017-11"],
        call_version=1,
        finalised_at=at("2017-07-05T15:30:00+06:00"),
    )


def evaluation_finalised_failing() -> scoring_evaluation_pb2.EvaluationFinalised:
    """Scored and listed, but failing a criterion's threshold: not fundable."""
    event = evaluation_finalised()
    event.scores[2].score.CopyFrom(exact(5, 2))
    event.overall.CopyFrom(exact(1179, 20))
    event.failed_thresholds.append("cooperation")
    event.fundable = False
    return event


def evaluation_reopened() -> scoring_evaluation_pb2.EvaluationReopened:
    return scoring_evaluation_pb2.EvaluationReopened(
        application_id=APPLICATION_ID,
        call_id=SCORING_CALL_ID,
        round=2,
        reason="The commission upheld the applicant's appeal on the cooperation score.",
        appeal_id="appeal-2017-03",
        reopened_at=at("2017-08-21T09:00:00+06:00"),
    )


def ranking_published() -> scoring_ranking_pb2.RankingPublished:
    return scoring_ranking_pb2.RankingPublished(
        call_id=SCORING_CALL_ID,
        ranking_version=1,
        call_version=1,
        tie_break=["criterion:strategy", "registration"],
        entries=[
            scoring_ranking_pb2.RankingEntry(
                rank=1,
                application_id=APPLICATION_ID,
                registration_number="KZ-63-2017-0003",
                round=1,
                scores=[
                    scoring_ranking_pb2.RankedScore(criterion_id="strategy", score=exact(7, 2))
                ],
                overall=exact(1379, 20),
                fundable=True,
                event_ids=["3f6c1a9e-0d2b-4e7f-8a5c-6b1d2e3f4a50"],
                decided_by="",
            ),
            scoring_ranking_pb2.RankingEntry(
                rank=2,
                application_id="7c9e6679-7425-40de-944b-e07fc1f90ae7",
                registration_number="KZ-75-2017-0001",
                round=1,
                scores=[
                    scoring_ranking_pb2.RankedScore(criterion_id="strategy", score=exact(4, 1))
                ],
                overall=exact(1179, 20),
                fundable=False,
                failed_thresholds=["cooperation"],
                event_ids=[
                    "0a4e2c6b-8d1f-4b3a-9e5c-7f2d4b6a8c10",
                    "5e7a9c1b-3d5f-4a7e-8b9c-1d3f5a7b9c20",
                ],
                decided_by="fundable",
            ),
        ],
        content_hash="9c1b7e4d2a6f8e0c3b5d7a9f1e2c4b6d8a0f3e5c7b9d1a2c4e6f8b0d2a4c6e8f",
        published_at=at("2017-07-05T15:30:00+06:00"),
    )


def reevaluation_requested() -> commission_pb2.ReevaluationRequested:
    return commission_pb2.ReevaluationRequested(
        call_id=SCORING_CALL_ID,
        application_id=APPLICATION_ID,
        appeal_id="appeal-2017-03",
        reason="Appeal upheld: the experts did not read annex 3, the partners' letters of intent.",
        decided_at=at("2017-08-18T15:00:00+06:00"),
    )


# The commission's events: the 2017 call's commission and its decision. The furniture cluster
# above comes first and is selected; the Almaty cluster, second but failing a threshold, is
# declined and appeals; the seventh-placed is selected with a rationale and later withdraws;
# the eighth takes its place from the reserve list. Members are invented and marked so.
COORDINATOR_BIN = "120540099118"
CLUSTER_NAME = "Шығыс Қазақстан жиһаз кластері"
SECOND_APPLICATION_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
SECOND_COORDINATOR_BIN = "140640018824"
SEVENTH_APPLICATION_ID = "e7d7f01d-c6f6-431c-ad2a-89c9a1d38b6d"
SEVENTH_COORDINATOR_BIN = "100440027717"
RESERVE_APPLICATION_ID = "0dc9298e-c0c0-4029-938b-4b4f9be551c6"
RESERVE_CLUSTER_NAME = "Павлодарский кластер металлообработки"
RESERVE_COORDINATOR_BIN = "050840012348"
MEETING_ID = "kz-clusters-2017-meeting-1"
APPEAL_ID = "appeal-2017-04"
CHAIR, SECRETARY = "member-2017-chair", "member-2017-secretary"
MINUTES_SHA256 = "f7899caeb85457cf73b9bb756c92df909ca9d0e536f490b31cdc93216a78da1b"


def commission_rules() -> commission_pb2.Rules:
    """The defaults: quorum two thirds, simple majority, the chair's casting vote, 30 days."""
    return commission_pb2.Rules(
        quorum_numerator=2,
        quorum_denominator=3,
        decision_rule=commission_pb2.DECISION_RULE_SIMPLE_MAJORITY,
        casting_vote=True,
        appeal_window_days=30,
    )


def commission_members() -> list[commission_pb2.Member]:
    """The nine members as the minutes list them. The service leaves Member.name empty (a
    name travels sealed in MemberNamed); the chair's is set so that its number is covered."""
    chair = commission_pb2.Member(
        member_id=CHAIR,
        name="Председатель комиссии (вымышленный)",
        role=commission_pb2.MEMBER_ROLE_CHAIR,
        position="Vice Minister for Investment and Development",
    )
    secretary = commission_pb2.Member(
        member_id=SECRETARY,
        role=commission_pb2.MEMBER_ROLE_SECRETARY,
        position="Director, Department of Industrial Policy",
    )
    members = [
        commission_pb2.Member(
            member_id=f"member-2017-{seat:02d}",
            role=commission_pb2.MEMBER_ROLE_MEMBER,
            position=f"Member of the commission, seat {seat}",
        )
        for seat in range(1, 8)
    ]
    # The seventh-placed cluster's coordinator is this member's organisation.
    members[2].affiliation_bins.append(SEVENTH_COORDINATOR_BIN)
    return [chair, secretary, *members]


def commission_composed() -> commission_pb2.CommissionComposed:
    return commission_pb2.CommissionComposed(
        call_id=SCORING_CALL_ID,
        composition_version=1,
        members=commission_members(),
        rules=commission_rules(),
    )


def commission_recomposed() -> commission_pb2.CommissionComposed:
    """Version 2: a member replaced before the meeting."""
    event = commission_composed()
    event.composition_version = 2
    event.members[8].member_id = "member-2017-08"
    event.reason = "Приказ министра от 10 августа 2017 года: член комиссии заменён в связи с "
    event.reason += "переходом на другую работу."
    return event


def member_named() -> commission_pb2.MemberNamed:
    return commission_pb2.MemberNamed(
        call_id=SCORING_CALL_ID,
        member_id="member-2017-03",
        name="Член комиссии 3 (вымышленный)",
    )


def candidates() -> list[commission_pb2.Candidate]:
    return [
        commission_pb2.Candidate(
            application_id=APPLICATION_ID,
            registration_number="KZ-63-2017-0003",
            rank=1,
            fundable=True,
            overall="1379/20",
            cluster_name=CLUSTER_NAME,
            region_code="KZ-63",
            participant_bins=[COORDINATOR_BIN, "960240053175", "110940028718"],
            coordinator_bin=COORDINATOR_BIN,
        ),
        commission_pb2.Candidate(
            application_id=SECOND_APPLICATION_ID,
            registration_number="KZ-75-2017-0001",
            rank=2,
            failed_thresholds=["cooperation"],
            overall="1179/20",
            cluster_name="Алматинский ИТ-кластер",
            region_code="KZ-75",
            participant_bins=[SECOND_COORDINATOR_BIN],
            coordinator_bin=SECOND_COORDINATOR_BIN,
        ),
        commission_pb2.Candidate(
            application_id=SEVENTH_APPLICATION_ID,
            registration_number="KZ-27-2017-0001",
            rank=7,
            fundable=True,
            overall="661/10",
            cluster_name="Батыс Қазақстан агроөнеркәсіптік кластері",
            region_code="KZ-27",
            participant_bins=[SEVENTH_COORDINATOR_BIN],
            coordinator_bin=SEVENTH_COORDINATOR_BIN,
        ),
        commission_pb2.Candidate(
            application_id=RESERVE_APPLICATION_ID,
            registration_number="KZ-55-2017-0002",
            rank=8,
            fundable=True,
            overall="66/1",
            cluster_name=RESERVE_CLUSTER_NAME,
            region_code="KZ-55",
            participant_bins=[RESERVE_COORDINATOR_BIN],
            coordinator_bin=RESERVE_COORDINATOR_BIN,
        ),
    ]


def meeting_scheduled() -> commission_pb2.MeetingScheduled:
    return commission_pb2.MeetingScheduled(
        meeting_id=MEETING_ID,
        call_id=SCORING_CALL_ID,
        scheduled_for=at("2017-08-15T10:00:00+06:00"),
        venue="Astana, House of Ministries, room 1204",
        ranking_event_id="af115bee-077a-427c-9741-d46004dd94e7",
        ranking_version=1,
        ranking_content_hash="9c1b7e4d2a6f8e0c3b5d7a9f1e2c4b6d8a0f3e5c7b9d1a2c4e6f8b0d2a4c6e8f",
        candidates=candidates(),
        quota=6,
        composition_version=2,
        members=commission_recomposed().members,
        time_zone="Asia/Almaty",
        rules=commission_rules(),
    )


def reconsideration_scheduled() -> commission_pb2.MeetingScheduled:
    """A second meeting, on the ranking that followed the Almaty cluster's upheld appeal."""
    event = meeting_scheduled()
    event.meeting_id = "kz-clusters-2017-meeting-2"
    event.scheduled_for.CopyFrom(at("2017-10-20T10:00:00+06:00"))
    event.ranking_event_id = "426b71dd-593b-4359-a433-05835fabf622"
    event.ranking_version = 2
    event.ranking_content_hash = "3e5c7b9d1a2c4e6f8b0d2a4c6e8f9c1b7e4d2a6f8e0c3b5d7a9f1e2c4b6d8a0f"
    event.reconsidered.append(SECOND_APPLICATION_ID)
    return event


def meeting_opened() -> commission_pb2.MeetingOpened:
    return commission_pb2.MeetingOpened(
        meeting_id=MEETING_ID,
        present_member_ids=[CHAIR, SECRETARY, *(f"member-2017-{seat:02d}" for seat in range(1, 7))],
        quorum_required=6,
        quorum_met=True,
        opened_at=at("2017-08-15T10:05:00+06:00"),
    )


def attendance_changed() -> commission_pb2.AttendanceChanged:
    return commission_pb2.AttendanceChanged(
        meeting_id=MEETING_ID, member_id="member-2017-08", present=True, quorum_met=True
    )


def member_recused() -> commission_pb2.MemberRecused:
    return commission_pb2.MemberRecused(
        meeting_id=MEETING_ID,
        member_id="member-2017-03",
        application_id=SEVENTH_APPLICATION_ID,
        automatic=True,
        matching_bins=[SEVENTH_COORDINATOR_BIN],
        reason="An organisation the member represents takes part in the candidate's cluster.",
    )


def vote_opened() -> commission_pb2.VoteOpened:
    return commission_pb2.VoteOpened(meeting_id=MEETING_ID, application_id=SEVENTH_APPLICATION_ID)


def vote_cast() -> commission_pb2.VoteCast:
    return commission_pb2.VoteCast(
        meeting_id=MEETING_ID,
        application_id=SEVENTH_APPLICATION_ID,
        member_id="member-2017-01",
        choice=commission_pb2.VOTE_CHOICE_AGAINST,
    )


def vote_recast() -> commission_pb2.VoteCast:
    """The member changes their vote before the vote closes."""
    event = vote_cast()
    event.choice = commission_pb2.VOTE_CHOICE_ABSTAIN
    event.replaces = commission_pb2.VOTE_CHOICE_AGAINST
    return event


def tied_tally() -> commission_pb2.Tally:
    return commission_pb2.Tally(
        votes_for=3, votes_against=3, abstentions=1, recused=1, casting_vote_used=True
    )


def vote_closed() -> commission_pb2.VoteClosed:
    return commission_pb2.VoteClosed(
        meeting_id=MEETING_ID,
        application_id=SEVENTH_APPLICATION_ID,
        tally=tied_tally(),
        carried=True,
    )


def dissenting_opinion_attached() -> commission_pb2.DissentingOpinionAttached:
    return commission_pb2.DissentingOpinionAttached(
        meeting_id=MEETING_ID,
        member_id="member-2017-01",
        application_id=SEVENTH_APPLICATION_ID,
        text="Я бы придерживался рейтинга: письма о софинансировании требовались только на "
        "этапе соглашения.",
    )


def decided_selected() -> list[commission_pb2.DecidedCandidate]:
    return [
        commission_pb2.DecidedCandidate(
            application_id=APPLICATION_ID,
            registration_number="KZ-63-2017-0003",
            rank=1,
            tally=commission_pb2.Tally(votes_for=7, not_voted=1),
        ),
        commission_pb2.DecidedCandidate(
            application_id=SEVENTH_APPLICATION_ID,
            registration_number="KZ-27-2017-0001",
            rank=7,
            tally=tied_tally(),
            rationale="The sixth-placed cluster did not confirm its co-financing; the "
            "seventh-placed has signed agreements and is the only candidate from its region.",
        ),
    ]


def decided_declined() -> list[commission_pb2.DecidedCandidate]:
    return [
        commission_pb2.DecidedCandidate(
            application_id=SECOND_APPLICATION_ID,
            registration_number="KZ-75-2017-0001",
            rank=2,
            reason="below threshold",
        ),
        commission_pb2.DecidedCandidate(
            application_id=RESERVE_APPLICATION_ID,
            registration_number="KZ-55-2017-0002",
            rank=8,
            reason="quota filled",
        ),
    ]


def decision_taken() -> commission_pb2.DecisionTaken:
    return commission_pb2.DecisionTaken(
        meeting_id=MEETING_ID,
        call_id=SCORING_CALL_ID,
        selected=decided_selected(),
        declined=decided_declined(),
        reserve_application_ids=[RESERVE_APPLICATION_ID],
        decided_at=at("2017-08-15T13:40:00+06:00"),
    )


def minutes_approved() -> commission_pb2.MinutesApproved:
    return commission_pb2.MinutesApproved(
        meeting_id=MEETING_ID,
        member_id=CHAIR,
        role=commission_pb2.MEMBER_ROLE_CHAIR,
        minutes_sha256=MINUTES_SHA256,
    )


def decision_published() -> commission_pb2.DecisionPublished:
    return commission_pb2.DecisionPublished(
        meeting_id=MEETING_ID,
        call_id=SCORING_CALL_ID,
        selected=decided_selected(),
        declined=decided_declined(),
        reserve_application_ids=[RESERVE_APPLICATION_ID],
        minutes_sha256=MINUTES_SHA256,
        published_at=at("2017-08-18T12:00:00+06:00"),
        appeals_close_at=at("2017-09-18T00:00:00+06:00"),
    )


def cluster_selected() -> commission_pb2.ClusterSelected:
    return commission_pb2.ClusterSelected(
        call_id=SCORING_CALL_ID,
        application_id=APPLICATION_ID,
        registration_number="KZ-63-2017-0003",
        cluster_name=CLUSTER_NAME,
        region_code="KZ-63",
        coordinator_bin=COORDINATOR_BIN,
        rank=1,
        meeting_id=MEETING_ID,
        selected_at=at("2017-08-18T12:00:00+06:00"),
    )


def cluster_selected_from_reserve() -> commission_pb2.ClusterSelected:
    return commission_pb2.ClusterSelected(
        call_id=SCORING_CALL_ID,
        application_id=RESERVE_APPLICATION_ID,
        registration_number="KZ-55-2017-0002",
        cluster_name=RESERVE_CLUSTER_NAME,
        region_code="KZ-55",
        coordinator_bin=RESERVE_COORDINATOR_BIN,
        rank=8,
        meeting_id=MEETING_ID,
        selected_at=at("2017-10-02T10:00:00+06:00"),
        from_reserve=True,
    )


def application_declined() -> commission_pb2.ApplicationDeclined:
    return commission_pb2.ApplicationDeclined(
        call_id=SCORING_CALL_ID,
        application_id=SECOND_APPLICATION_ID,
        registration_number="KZ-75-2017-0001",
        reason="below threshold",
        meeting_id=MEETING_ID,
    )


def application_declined_to_reserve() -> commission_pb2.ApplicationDeclined:
    return commission_pb2.ApplicationDeclined(
        call_id=SCORING_CALL_ID,
        application_id=RESERVE_APPLICATION_ID,
        registration_number="KZ-55-2017-0002",
        reason="quota filled",
        meeting_id=MEETING_ID,
        reserve_position=1,
    )


def winner_replaced() -> commission_pb2.WinnerReplaced:
    return commission_pb2.WinnerReplaced(
        meeting_id=MEETING_ID,
        withdrawn_application_id=SEVENTH_APPLICATION_ID,
        cause="withdrawn",
        reason="The coordinator's letter of 28 September 2017: the participants could not "
        "confirm their co-financing for 2018.",
        replacement_application_id=RESERVE_APPLICATION_ID,
    )


def appeal_window_closed() -> commission_pb2.AppealWindowClosed:
    return commission_pb2.AppealWindowClosed(
        meeting_id=MEETING_ID, closed_at=at("2017-09-18T00:00:00+06:00")
    )


def appeal_lodged() -> commission_pb2.AppealLodged:
    return commission_pb2.AppealLodged(
        appeal_id=APPEAL_ID,
        call_id=SCORING_CALL_ID,
        application_id=SECOND_APPLICATION_ID,
        meeting_id=MEETING_ID,
        applicant_bin=SECOND_COORDINATOR_BIN,
        ground=commission_pb2.APPEAL_GROUND_METHODOLOGY_NOT_FOLLOWED,
        explanation="Эксперты не учли приложение 3: письма о намерениях партнёров по "
        "совместным проектам.",
        lodged_at=at("2017-08-28T16:00:00+06:00"),
    )


def appeal_panel_named() -> commission_pb2.AppealPanelNamed:
    return commission_pb2.AppealPanelNamed(
        appeal_id=APPEAL_ID, member_ids=[CHAIR, "member-2017-01", "member-2017-08"]
    )


def appeal_upheld() -> commission_pb2.AppealUpheld:
    return commission_pb2.AppealUpheld(
        appeal_id=APPEAL_ID,
        application_id=SECOND_APPLICATION_ID,
        reasons="The experts' cooperation scores do not mention annex 3, filed on time.",
        decided_by=CHAIR,
        decided_at=at("2017-09-08T11:00:00+06:00"),
    )


def appeal_rejected() -> commission_pb2.AppealRejected:
    return commission_pb2.AppealRejected(
        appeal_id="appeal-2017-05",
        application_id=RESERVE_APPLICATION_ID,
        reasons="Co-financing is a condition of the call (section 4); every candidate was "
        "asked the same question; no breach of procedure.",
        decided_by="member-2017-01",
        decided_at=at("2017-09-08T11:30:00+06:00"),
    )


# Plan tracking's events: the development plan of the 2017 application above, selected by the
# commission, drafted, amended and reported on through 2018 (illustrative figures).
PLAN_ID = APPLICATION_ID


def plan_phases() -> list[plans_pb2.Phase]:
    return [
        plans_pb2.Phase(
            phase_id="diagnostics",
            name_ru="Диагностика и вовлечение стейкхолдеров",
            name_kk="Диагностика және мүдделі тараптарды тарту",
            name_en="Diagnostics and stakeholder involvement",
            starts_on="2017-07-01",
            ends_on="2017-09-30",
        ),
        plans_pb2.Phase(
            phase_id="organisation",
            name_ru="Организация и стратегия кластера",
            name_kk="Кластерді ұйымдастыру және стратегиясы",
            name_en="Cluster organisation and strategy",
            starts_on="2017-10-01",
            ends_on="2017-12-31",
        ),
        plans_pb2.Phase(
            phase_id="support-design",
            name_ru="Разработка мер государственной поддержки",
            name_kk="Мемлекеттік қолдау шараларын әзірлеу",
            name_en="Design of state support measures",
            starts_on="2017-11-01",
            ends_on="2018-03-31",
        ),
        plans_pb2.Phase(
            phase_id="implementation",
            name_ru="Реализация плана с мерами государственной поддержки",
            name_kk="Жоспарды мемлекеттік қолдау шараларымен іске асыру",
            name_en="Implementation with state support",
            starts_on="2018-01-01",
            ends_on="2019-12-31",
        ),
    ]


def reporting_periods() -> list[plans_pb2.ReportingPeriod]:
    """Quarters from the selection to the end of 2019, each report due 30 days after."""
    quarters = [
        ("2017-Q3", "2017-07-01", "2017-09-30", "2017-10-30"),
        ("2017-Q4", "2017-10-01", "2017-12-31", "2018-01-30"),
        ("2018-Q1", "2018-01-01", "2018-03-31", "2018-04-30"),
        ("2018-Q2", "2018-04-01", "2018-06-30", "2018-07-30"),
        ("2018-Q3", "2018-07-01", "2018-09-30", "2018-10-30"),
        ("2018-Q4", "2018-10-01", "2018-12-31", "2019-01-30"),
        ("2019-Q1", "2019-01-01", "2019-03-31", "2019-04-30"),
        ("2019-Q2", "2019-04-01", "2019-06-30", "2019-07-30"),
        ("2019-Q3", "2019-07-01", "2019-09-30", "2019-10-30"),
        ("2019-Q4", "2019-10-01", "2019-12-31", "2020-01-30"),
    ]
    return [
        plans_pb2.ReportingPeriod(
            period_id=period_id, starts_on=starts_on, ends_on=ends_on, report_due_on=due_on
        )
        for period_id, starts_on, ends_on, due_on in quarters
    ]


def plan_opened() -> plans_pb2.PlanOpened:
    return plans_pb2.PlanOpened(
        plan_id=PLAN_ID,
        call_id=SCORING_CALL_ID,
        registration_number="KZ-63-2017-0003",
        cluster_name=CLUSTER_NAME,
        region_code="KZ-63",
        coordinator_bin=COORDINATOR_BIN,
        phases=plan_phases(),
        periods=reporting_periods(),
        time_zone="Asia/Almaty",
        selection_event_id="9afbc340-1f2e-43e3-bd68-6da7e4178519",
    )


def plan_content() -> plans_pb2.PlanContent:
    """Version 1 of the plan: every milestone scheduled."""
    return plans_pb2.PlanContent(
        milestones=[
            plans_pb2.Milestone(
                milestone_id="diagnostics-report",
                title="Отчёт о диагностике кластера",
                phase_id="diagnostics",
                owner=COORDINATOR_BIN,
                due_on="2017-09-30",
                status=plans_pb2.MILESTONE_STATUS_SCHEDULED,
            ),
            plans_pb2.Milestone(
                milestone_id="support-measures",
                title="Меры господдержки согласованы",
                phase_id="support-design",
                owner="«Ертіс өңірлік технологиялық университеті» КеАҚ",
                due_on="2018-03-31",
                status=plans_pb2.MILESTONE_STATUS_SCHEDULED,
            ),
            plans_pb2.Milestone(
                milestone_id="export-mission",
                title="Экспортная миссия участников в Новосибирск",
                phase_id="implementation",
                owner=COORDINATOR_BIN,
                due_on="2018-09-30",
                status=plans_pb2.MILESTONE_STATUS_SCHEDULED,
            ),
        ],
        indicators=[
            plans_pb2.Indicator(
                code="members",
                name="Участники кластера",
                unit="organisations",
                direction=plans_pb2.DIRECTION_INCREASING,
                baseline_year=2016,
                baseline_value="7",
                targets=[
                    plans_pb2.Target(period_id="2018-Q1", value="10"),
                    plans_pb2.Target(period_id="2018-Q4", value="15"),
                ],
            ),
            plans_pb2.Indicator(
                code="import-share",
                name="Доля импортной фурнитуры",
                unit="percent",
                direction=plans_pb2.DIRECTION_DECREASING,
                baseline_year=2016,
                baseline_value="62.5",
                targets=[plans_pb2.Target(period_id="2018-Q4", value="55.0")],
            ),
        ],
        support_measures=[
            plans_pb2.SupportMeasure(
                measure_id="cofinancing",
                kind="co-financing of a cluster organisation",
                amount="30000000.00",
                budget_source="republican budget",
                planned=[
                    plans_pb2.Disbursement(on="2018-03-11", amount="15000000.00"),
                    plans_pb2.Disbursement(on="2018-09-10", amount="15000000.00"),
                ],
            ),
            plans_pb2.SupportMeasure(
                measure_id="training",
                kind="training",
                amount="5000000.00",
                budget_source="development institution",
                planned=[plans_pb2.Disbursement(on="2017-12-15", amount="5000000.00")],
            ),
        ],
        summary="План развития Восточно-Казахстанского мебельного кластера на 2017-2019 годы: "
        "совместные закупки сырья, сертификация продукции, подготовка кадров с университетом.",
    )


def plan_drafted() -> plans_pb2.PlanDrafted:
    return plans_pb2.PlanDrafted(plan_id=PLAN_ID, version=1, content=plan_content())


def plan_amendment_drafted() -> plans_pb2.PlanDrafted:
    """Version 2: the diagnostics milestone met, the export mission moved to 2019."""
    content = plan_content()
    diagnostics, _, mission = content.milestones
    diagnostics.status = plans_pb2.MILESTONE_STATUS_MET
    diagnostics.met_on = "2017-09-27"
    mission.due_on = "2019-06-30"
    return plans_pb2.PlanDrafted(
        plan_id=PLAN_ID,
        version=2,
        content=content,
        reason="Экспортная миссия перенесена на 2019 год: выставка в Новосибирске отложена "
        "организаторами.",
    )


def plan_submitted() -> plans_pb2.PlanSubmitted:
    return plans_pb2.PlanSubmitted(plan_id=PLAN_ID, version=1)


def plan_returned() -> plans_pb2.PlanReturned:
    return plans_pb2.PlanReturned(
        plan_id=PLAN_ID,
        version=1,
        comments="Give each milestone an owning organisation and a target for 2018-Q4.",
    )


def plan_approved() -> plans_pb2.PlanApproved:
    return plans_pb2.PlanApproved(
        plan_id=PLAN_ID, version=1, effective_from=at("2017-09-05T15:10:00+06:00")
    )


def report_submitted() -> plans_pb2.ReportSubmitted:
    return plans_pb2.ReportSubmitted(
        plan_id=PLAN_ID,
        period_id="2018-Q1",
        plan_version=1,
        actuals=[
            plans_pb2.IndicatorActual(
                code="members",
                value="9",
                evidence_sha256=[
                    "7a427066ce99105b647ae8a23d1a74e33e293e354a26ac2ed70aba2097fc7e67"
                ],
            ),
            plans_pb2.IndicatorActual(
                code="import-share",
                value="60.2",
                evidence_sha256=[
                    "7b5caa15f9eb5cd7d292332c36d8b16fb3f6cd88b769c8bef59a5df6771a0dfa"
                ],
            ),
        ],
        milestones=[
            plans_pb2.MilestoneTransition(
                milestone_id="support-measures",
                status=plans_pb2.MILESTONE_STATUS_PARTLY_MET,
                met_on="2018-03-28",
            )
        ],
        disbursements=[
            plans_pb2.DisbursementMade(
                measure_id="cofinancing",
                disbursement=plans_pb2.Disbursement(on="2018-03-12", amount="15000000.00"),
            )
        ],
        narrative="Отчёт за 2018-Q1: два новых участника вступили в кластер; соглашение о "
        "субсидии на совместные проекты подписано акиматом, с университетом — ещё нет.",
    )


def report_returned() -> plans_pb2.ReportReturned:
    return plans_pb2.ReportReturned(
        plan_id=PLAN_ID,
        period_id="2018-Q1",
        comments="Attach the signed co-financing agreement for the disbursement of 12 March.",
    )


def report_accepted() -> plans_pb2.ReportAccepted:
    return plans_pb2.ReportAccepted(plan_id=PLAN_ID, period_id="2018-Q1")


def milestone_overdue() -> plans_pb2.MilestoneOverdue:
    return plans_pb2.MilestoneOverdue(
        plan_id=PLAN_ID, milestone_id="export-mission", due_on="2018-09-30"
    )


def report_overdue() -> plans_pb2.ReportOverdue:
    return plans_pb2.ReportOverdue(plan_id=PLAN_ID, period_id="2018-Q2", due_on="2018-07-30")


# The analytics feed's facts about the same 2017 call and decision, as the readside derives
# them (no person, no free text; the selected cluster named once the decision is public).


def origin(event_id: str, event_type: str, occurred_at: str) -> analytics_pb2.Origin:
    """The source of a fact: an event of the 2017 programme, recorded after the fact."""
    return analytics_pb2.Origin(
        event_id=event_id, event_type=event_type, occurred_at=at(occurred_at), imported=True
    )


def score(numerator: int, denominator: int) -> analytics_pb2.Score:
    return analytics_pb2.Score(
        numerator=numerator, denominator=denominator, value=numerator / denominator
    )


def call_announced_fact() -> analytics_pb2.CallAnnounced:
    return analytics_pb2.CallAnnounced(
        call_id=SCORING_CALL_ID,
        origin=origin(
            "4f1879be-4232-4840-b517-0f7ce3d47f7f",
            "konkurs.intake.v1.CallAnnounced",
            "2017-04-10T00:00:00+06:00",
        ),
        opens_at=at("2017-04-10T00:00:00+06:00"),
        closes_at=at("2017-06-09T00:00:00+06:00"),
        quota=6,
        accepted_region_codes=["KZ-11", "KZ-63", "KZ-75"],
        illustrative=True,
    )


def application_received_fact() -> analytics_pb2.ApplicationReceived:
    """The Almaty cluster's application: a business association among its participants."""
    return analytics_pb2.ApplicationReceived(
        call_id=SCORING_CALL_ID,
        origin=origin(
            "4f37ea1b-71d3-4138-835c-5630ea5d215b",
            "konkurs.intake.v1.ApplicationSubmitted",
            "2017-05-22T15:41:09+06:00",
        ),
        application_id=SECOND_APPLICATION_ID,
        region_code="KZ-75",
        primary_oked_code="62010",
        related_oked_codes=["62020", "63110"],
        participants=analytics_pb2.ParticipantCounts(
            total=11,
            sme=6,
            large_enterprise=1,
            university=1,
            research_organisation=1,
            public_body=1,
            other=1,
        ),
        sme_share_percent=54,
        employees=2_317,
        requested_support=[
            analytics_pb2.Amount(currency="KZT", minor_units=6_500_000_000),
            analytics_pb2.Amount(currency="USD", minor_units=12_000_000),
        ],
        co_financing_share_percent=25,
        illustrative=True,
    )


def eligibility_determined_fact() -> analytics_pb2.EligibilityDetermined:
    return analytics_pb2.EligibilityDetermined(
        call_id=SCORING_CALL_ID,
        origin=origin(
            "f6163be0-3289-4ef1-9d64-13b879e43be8",
            "konkurs.scoring.v1.EligibilityAssessed",
            "2017-06-09T00:00:00+06:00",
        ),
        application_id=APPLICATION_ID,
        eligible=True,
        rules=[
            analytics_pb2.RuleOutcome(rule="region", passed=True),
            analytics_pb2.RuleOutcome(rule="min_sme_share_percent", passed=True),
        ],
    )


def eligibility_overridden_fact() -> analytics_pb2.EligibilityDetermined:
    return analytics_pb2.EligibilityDetermined(
        call_id=SCORING_CALL_ID,
        origin=origin(
            "c0d10caa-7d6d-418e-8198-e842bafe4060",
            "konkurs.scoring.v1.EligibilityOverridden",
            "2017-06-13T11:25:00+06:00",
        ),
        application_id=SECOND_APPLICATION_ID,
        eligible=True,
        overridden=True,
    )


def evaluation_finalised_fact() -> analytics_pb2.EvaluationFinalised:
    return analytics_pb2.EvaluationFinalised(
        call_id=SCORING_CALL_ID,
        origin=origin(
            "ad4f08b0-5ee0-40d7-84f4-ee271adaa2b9",
            "konkurs.scoring.v1.EvaluationFinalised",
            "2017-07-05T15:30:00+06:00",
        ),
        application_id=APPLICATION_ID,
        round=1,
        criteria=[
            analytics_pb2.CriterionScore(
                criterion_id="critical-mass", score=score(1, 1), basis="automatic"
            ),
            analytics_pb2.CriterionScore(
                criterion_id="strategy", score=score(7, 2), basis="consensus"
            ),
            analytics_pb2.CriterionScore(
                criterion_id="cooperation", score=score(23, 6), basis="experts"
            ),
        ],
        overall=score(1379, 20),
        fundable=True,
        experts=3,
    )


def evaluation_finalised_failing_fact() -> analytics_pb2.EvaluationFinalised:
    """The Almaty cluster's evaluation: below the cooperation threshold."""
    return analytics_pb2.EvaluationFinalised(
        call_id=SCORING_CALL_ID,
        origin=origin(
            "874fbbf3-e753-4c3d-bae1-fef9e3558ac6",
            "konkurs.scoring.v1.EvaluationFinalised",
            "2017-07-05T15:30:00+06:00",
        ),
        application_id=SECOND_APPLICATION_ID,
        round=1,
        criteria=[
            analytics_pb2.CriterionScore(
                criterion_id="critical-mass", score=score(3, 1), basis="automatic"
            ),
            analytics_pb2.CriterionScore(
                criterion_id="strategy", score=score(4, 1), basis="experts"
            ),
            analytics_pb2.CriterionScore(
                criterion_id="cooperation", score=score(5, 2), basis="experts"
            ),
        ],
        overall=score(1179, 20),
        failed_thresholds=["cooperation"],
        experts=3,
    )


def ranking_published_fact() -> analytics_pb2.RankingPublished:
    return analytics_pb2.RankingPublished(
        call_id=SCORING_CALL_ID,
        origin=origin(
            "1423fa0b-e391-43d4-bcc3-ccfe7b2aaa7b",
            "konkurs.scoring.v1.RankingPublished",
            "2017-07-05T15:30:00+06:00",
        ),
        ranking_version=1,
        positions=[
            analytics_pb2.RankingPosition(
                rank=1, application_id=APPLICATION_ID, overall=score(1379, 20), fundable=True
            ),
            analytics_pb2.RankingPosition(
                rank=2,
                application_id=SECOND_APPLICATION_ID,
                overall=score(1179, 20),
                failed_thresholds=["cooperation"],
            ),
        ],
    )


def decision_published_fact() -> analytics_pb2.DecisionPublished:
    return analytics_pb2.DecisionPublished(
        call_id=SCORING_CALL_ID,
        origin=origin(
            "25e1a27d-b628-4c8b-bd2f-03d1bb01b576",
            "konkurs.commission.v1.DecisionPublished",
            "2017-08-18T12:00:00+06:00",
        ),
        meeting_id=MEETING_ID,
        selected=[
            analytics_pb2.DecidedCandidate(
                application_id=APPLICATION_ID,
                rank=1,
                tally=analytics_pb2.Tally(votes_for=7, recused=1),
            ),
            analytics_pb2.DecidedCandidate(
                application_id=SEVENTH_APPLICATION_ID,
                rank=7,
                tally=analytics_pb2.Tally(
                    votes_for=3,
                    votes_against=3,
                    abstentions=1,
                    not_voted=1,
                    casting_vote_used=True,
                ),
                departs_from_ranking=True,
            ),
        ],
        declined=[
            analytics_pb2.DecidedCandidate(
                application_id=SECOND_APPLICATION_ID,
                rank=2,
                tally=analytics_pb2.Tally(votes_for=1, votes_against=6, abstentions=1),
            ),
            analytics_pb2.DecidedCandidate(application_id=RESERVE_APPLICATION_ID, rank=8),
        ],
        reserve_application_ids=[RESERVE_APPLICATION_ID],
        appeals_close_at=at("2017-09-18T00:00:00+06:00"),
    )


def cluster_selected_fact() -> analytics_pb2.ClusterSelected:
    return analytics_pb2.ClusterSelected(
        call_id=SCORING_CALL_ID,
        origin=origin(
            "1adbc990-814e-48a5-980a-4408cd62a958",
            "konkurs.commission.v1.ClusterSelected",
            "2017-08-18T12:00:00+06:00",
        ),
        application_id=APPLICATION_ID,
        cluster_name=CLUSTER_NAME,
        region_code="KZ-63",
        coordinator_bin=COORDINATOR_BIN,
        rank=1,
    )


def cluster_selected_from_reserve_fact() -> analytics_pb2.ClusterSelected:
    return analytics_pb2.ClusterSelected(
        call_id=SCORING_CALL_ID,
        origin=origin(
            "a6954fcb-4403-4efd-9842-3459a09fddcb",
            "konkurs.commission.v1.ClusterSelected",
            "2017-10-02T10:00:00+06:00",
        ),
        application_id=RESERVE_APPLICATION_ID,
        cluster_name=RESERVE_CLUSTER_NAME,
        region_code="KZ-55",
        coordinator_bin=RESERVE_COORDINATOR_BIN,
        rank=8,
        from_reserve=True,
    )


def winner_replaced_fact() -> analytics_pb2.WinnerReplaced:
    return analytics_pb2.WinnerReplaced(
        call_id=SCORING_CALL_ID,
        origin=origin(
            "e6b6a028-89d9-4e60-a1fd-18c8f8c6c122",
            "konkurs.commission.v1.WinnerReplaced",
            "2017-10-02T10:00:00+06:00",
        ),
        meeting_id=MEETING_ID,
        withdrawn_application_id=SEVENTH_APPLICATION_ID,
        cause="withdrawn",
        replacement_application_id=RESERVE_APPLICATION_ID,
    )


def appeal_lodged_fact() -> analytics_pb2.AppealLodged:
    return analytics_pb2.AppealLodged(
        call_id=SCORING_CALL_ID,
        origin=origin(
            "43222c4e-c573-4c56-96a5-ee8b42da2ffa",
            "konkurs.commission.v1.AppealLodged",
            "2017-08-28T16:00:00+06:00",
        ),
        appeal_id=APPEAL_ID,
        application_id=SECOND_APPLICATION_ID,
        ground="methodology_not_followed",
    )


def appeal_decided_fact() -> analytics_pb2.AppealDecided:
    return analytics_pb2.AppealDecided(
        call_id=SCORING_CALL_ID,
        origin=origin(
            "8eb5a9ed-3e0e-4fcd-8c28-eb9be9d6778a",
            "konkurs.commission.v1.AppealUpheld",
            "2017-09-08T11:00:00+06:00",
        ),
        appeal_id=APPEAL_ID,
        application_id=SECOND_APPLICATION_ID,
        upheld=True,
    )


def plan_approved_fact() -> analytics_pb2.PlanApproved:
    return analytics_pb2.PlanApproved(
        call_id=SCORING_CALL_ID,
        origin=origin(
            "b3bd24d0-e44b-4a17-a74c-b2ed9a008424",
            "konkurs.plans.v1.PlanApproved",
            "2017-09-05T15:10:00+06:00",
        ),
        plan_id=PLAN_ID,
        version=1,
        effective_from=at("2017-09-05T15:10:00+06:00"),
    )


def report_accepted_fact() -> analytics_pb2.ReportAccepted:
    return analytics_pb2.ReportAccepted(
        call_id=SCORING_CALL_ID,
        origin=origin(
            "d9aa5685-7bf2-4aca-a1c0-7b45b97bb7c3",
            "konkurs.plans.v1.ReportAccepted",
            "2018-05-04T16:00:00+06:00",
        ),
        plan_id=PLAN_ID,
        period_id="2018-Q1",
        plan_version=1,
        actuals=[
            analytics_pb2.IndicatorActual(code="members", value="9"),
            analytics_pb2.IndicatorActual(code="import-share", value="60.2"),
        ],
        milestones=[
            analytics_pb2.MilestoneStatus(
                milestone_id="support-measures", status="partly_met", met_on="2018-03-28"
            )
        ],
        disbursements=[
            analytics_pb2.Disbursement(
                measure_id="cofinancing", on="2018-03-12", amount_kzt="15000000.00"
            )
        ],
    )


def milestone_overdue_fact() -> analytics_pb2.MilestoneOverdue:
    return analytics_pb2.MilestoneOverdue(
        call_id=SCORING_CALL_ID,
        origin=origin(
            "7cb2a6d2-ab75-482d-9057-48e5d16940f8",
            "konkurs.plans.v1.MilestoneOverdue",
            "2018-10-01T00:00:00+06:00",
        ),
        plan_id=PLAN_ID,
        milestone_id="export-mission",
        due_on="2018-09-30",
    )


def report_overdue_fact() -> analytics_pb2.ReportOverdue:
    return analytics_pb2.ReportOverdue(
        call_id=SCORING_CALL_ID,
        origin=origin(
            "a7635967-8bbd-4a41-a231-fa0d5de59175",
            "konkurs.plans.v1.ReportOverdue",
            "2018-07-31T00:00:00+06:00",
        ),
        plan_id=PLAN_ID,
        period_id="2018-Q2",
        due_on="2018-07-30",
    )


# File stem -> the message stored in tests/golden/<stem>.binpb. Frozen: see the docstring.
CASES: dict[str, Callable[[], Message]] = {
    "konkurs.envelope.v1.Envelope": envelope_of_submission,
    "konkurs.intake.v1.CallAnnounced": call_announced,
    "konkurs.intake.v1.CallAmended": call_amended,
    "konkurs.intake.v1.CallClosed": call_closed_on_schedule,
    "konkurs.intake.v1.CallClosed.manual": call_closed_by_hand,
    "konkurs.intake.v1.ApplicationSubmitted": application_submitted,
    "konkurs.intake.v1.ApplicationAmended": application_amended,
    "konkurs.intake.v1.ApplicationSubmitted.v2": application_submitted_v2,
    "konkurs.intake.v1.ApplicationAmended.v2": application_amended_v2,
    "konkurs.intake.v1.ApplicationWithdrawn": application_withdrawn,
    "konkurs.intake.v1.DocumentAttached": document_attached,
    "konkurs.privacy.v1.SubjectErased": subject_erased_by_retention,
    "konkurs.intake.v1.CallAnnounced.scoring": call_announced_with_scoring_terms,
    "konkurs.scoring.v1.EligibilityAssessed": eligibility_assessed,
    "konkurs.scoring.v1.EligibilityOverridden": eligibility_overridden,
    "konkurs.scoring.v1.ExpertRegistered": expert_registered,
    "konkurs.scoring.v1.ExpertUpdated": expert_updated,
    "konkurs.scoring.v1.ExpertDeactivated": expert_deactivated,
    "konkurs.scoring.v1.ExpertAssigned": expert_assigned,
    "konkurs.scoring.v1.ExpertUnassigned": expert_unassigned,
    "konkurs.scoring.v1.ConflictDeclared": conflict_declared,
    "konkurs.scoring.v1.NoConflictDeclared": no_conflict_declared,
    "konkurs.scoring.v1.AssignmentOverdue": assignment_overdue,
    "konkurs.scoring.v1.AssignmentCompleted": assignment_completed,
    "konkurs.scoring.v1.EvaluationDraftSaved": evaluation_draft_saved,
    "konkurs.scoring.v1.EvaluationSubmitted": evaluation_submitted,
    "konkurs.scoring.v1.AutomaticScoresComputed": automatic_scores_computed,
    "konkurs.scoring.v1.ConsensusRequired": consensus_required,
    "konkurs.scoring.v1.RapporteurNamed": rapporteur_named,
    "konkurs.scoring.v1.ConsensusRecorded": consensus_recorded,
    "konkurs.scoring.v1.EvaluationFinalised": evaluation_finalised,
    "konkurs.scoring.v1.EvaluationFinalised.below_threshold": evaluation_finalised_failing,
    "konkurs.scoring.v1.EvaluationReopened": evaluation_reopened,
    "konkurs.scoring.v1.RankingPublished": ranking_published,
    "konkurs.commission.v1.ReevaluationRequested": reevaluation_requested,
    "konkurs.commission.v1.CommissionComposed": commission_composed,
    "konkurs.commission.v1.CommissionComposed.recomposed": commission_recomposed,
    "konkurs.commission.v1.MemberNamed": member_named,
    "konkurs.commission.v1.MeetingScheduled": meeting_scheduled,
    "konkurs.commission.v1.MeetingScheduled.reconsideration": reconsideration_scheduled,
    "konkurs.commission.v1.MeetingOpened": meeting_opened,
    "konkurs.commission.v1.AttendanceChanged": attendance_changed,
    "konkurs.commission.v1.MemberRecused": member_recused,
    "konkurs.commission.v1.VoteOpened": vote_opened,
    "konkurs.commission.v1.VoteCast": vote_cast,
    "konkurs.commission.v1.VoteCast.recast": vote_recast,
    "konkurs.commission.v1.VoteClosed": vote_closed,
    "konkurs.commission.v1.DissentingOpinionAttached": dissenting_opinion_attached,
    "konkurs.commission.v1.DecisionTaken": decision_taken,
    "konkurs.commission.v1.MinutesApproved": minutes_approved,
    "konkurs.commission.v1.DecisionPublished": decision_published,
    "konkurs.commission.v1.ClusterSelected": cluster_selected,
    "konkurs.commission.v1.ClusterSelected.from_reserve": cluster_selected_from_reserve,
    "konkurs.commission.v1.ApplicationDeclined": application_declined,
    "konkurs.commission.v1.ApplicationDeclined.reserve": application_declined_to_reserve,
    "konkurs.commission.v1.WinnerReplaced": winner_replaced,
    "konkurs.commission.v1.AppealWindowClosed": appeal_window_closed,
    "konkurs.commission.v1.AppealLodged": appeal_lodged,
    "konkurs.commission.v1.AppealPanelNamed": appeal_panel_named,
    "konkurs.commission.v1.AppealUpheld": appeal_upheld,
    "konkurs.commission.v1.AppealRejected": appeal_rejected,
    "konkurs.plans.v1.PlanOpened": plan_opened,
    "konkurs.plans.v1.PlanDrafted": plan_drafted,
    "konkurs.plans.v1.PlanDrafted.amendment": plan_amendment_drafted,
    "konkurs.plans.v1.PlanSubmitted": plan_submitted,
    "konkurs.plans.v1.PlanReturned": plan_returned,
    "konkurs.plans.v1.PlanApproved": plan_approved,
    "konkurs.plans.v1.ReportSubmitted": report_submitted,
    "konkurs.plans.v1.ReportReturned": report_returned,
    "konkurs.plans.v1.ReportAccepted": report_accepted,
    "konkurs.plans.v1.MilestoneOverdue": milestone_overdue,
    "konkurs.plans.v1.ReportOverdue": report_overdue,
    "konkurs.analytics.v1.CallAnnounced": call_announced_fact,
    "konkurs.analytics.v1.ApplicationReceived": application_received_fact,
    "konkurs.analytics.v1.EligibilityDetermined": eligibility_determined_fact,
    "konkurs.analytics.v1.EligibilityDetermined.overridden": eligibility_overridden_fact,
    "konkurs.analytics.v1.EvaluationFinalised": evaluation_finalised_fact,
    "konkurs.analytics.v1.EvaluationFinalised.below_threshold": evaluation_finalised_failing_fact,
    "konkurs.analytics.v1.RankingPublished": ranking_published_fact,
    "konkurs.analytics.v1.DecisionPublished": decision_published_fact,
    "konkurs.analytics.v1.ClusterSelected": cluster_selected_fact,
    "konkurs.analytics.v1.ClusterSelected.from_reserve": cluster_selected_from_reserve_fact,
    "konkurs.analytics.v1.WinnerReplaced": winner_replaced_fact,
    "konkurs.analytics.v1.AppealLodged": appeal_lodged_fact,
    "konkurs.analytics.v1.AppealDecided": appeal_decided_fact,
    "konkurs.analytics.v1.PlanApproved": plan_approved_fact,
    "konkurs.analytics.v1.ReportAccepted": report_accepted_fact,
    "konkurs.analytics.v1.MilestoneOverdue": milestone_overdue_fact,
    "konkurs.analytics.v1.ReportOverdue": report_overdue_fact,
}


def golden_path(stem: str) -> Path:
    return GOLDEN_DIR / f"{stem}.binpb"


def serialize(message: Message) -> bytes:
    return message.SerializeToString(deterministic=True)


def readable(message: Message) -> str:
    """Text format including unknown fields, so a renumbered field shows in the diff."""
    return text_format.MessageToString(message, as_utf8=True, print_unknown_fields=True)


@pytest.mark.parametrize("stem", CASES)
def test_golden_bytes_decode_to_the_expected_values(stem: str) -> None:
    expected = CASES[stem]()
    decoded = type(expected).FromString(golden_path(stem).read_bytes())
    assert readable(decoded) == readable(expected)
    assert decoded == expected


@pytest.mark.parametrize("stem", CASES)
def test_expected_message_serializes_to_the_golden_bytes(stem: str) -> None:
    assert serialize(CASES[stem]()) == golden_path(stem).read_bytes()


def test_every_golden_file_belongs_to_a_case() -> None:
    stored = {path.name.removesuffix(".binpb") for path in GOLDEN_DIR.glob("*.binpb")}
    assert stored == set(CASES)


def test_every_intake_event_has_a_golden_case() -> None:
    """Intake's events.proto holds its events and nothing else."""
    events = {message.full_name for message in events_pb2.DESCRIPTOR.message_types_by_name.values()}
    assert events <= case_types()


def test_every_commission_event_has_a_golden_case() -> None:
    assert events_of(commission_pb2) <= case_types()


SCORING_FILES = (
    scoring_assignment_pb2,
    scoring_evaluation_pb2,
    scoring_experts_pb2,
    scoring_ranking_pb2,
    scoring_screening_pb2,
)


def test_every_scoring_event_has_a_golden_case() -> None:
    assert events_of(*SCORING_FILES) <= case_types()


def test_every_plans_event_has_a_golden_case() -> None:
    assert events_of(plans_pb2) <= case_types()


def test_every_analytics_fact_has_a_golden_case() -> None:
    """A fact is a message with an origin: the data of one record of the feed."""
    facts = {
        m.full_name
        for m in analytics_pb2.DESCRIPTOR.message_types_by_name.values()
        if "origin" in m.fields_by_name
    }
    assert facts <= case_types()


def case_types() -> set[str]:
    """Full names of the messages the cases build."""
    return {type(build()).DESCRIPTOR.full_name for build in CASES.values()}


def events_of(*modules: ModuleType) -> set[str]:
    """A context's events: the messages of its generated modules that no other message holds
    (the rest are their parts, covered through them)."""
    messages = [m for module in modules for m in module.DESCRIPTOR.message_types_by_name.values()]
    held = {f.message_type.full_name for m in messages for f in m.fields if f.message_type}
    return {m.full_name for m in messages} - held


def test_golden_cases_set_every_field_of_the_konkurs_schemas() -> None:
    """Otherwise a field could be renumbered or retyped without any golden test noticing."""
    declared: set[str] = set()
    used: set[str] = set()
    for build in CASES.values():
        message = build()
        declared |= konkurs_fields(message.DESCRIPTOR.full_name)
        used |= set(fields_set(message))
    assert declared - used == set()


def test_envelope_payload_decodes_as_its_event_type() -> None:
    envelope = envelope_pb2.Envelope.FromString(
        golden_path("konkurs.envelope.v1.Envelope").read_bytes()
    )
    descriptor = descriptor_pool.Default().FindMessageTypeByName(envelope.event_type)
    payload = message_factory.GetMessageClass(descriptor).FromString(envelope.payload)
    assert payload == application_submitted()


def konkurs_fields(message_name: str) -> set[str]:
    """Full names of the fields of a konkurs message and of every konkurs message it holds."""
    pool = descriptor_pool.Default()
    names: set[str] = set()
    pending, seen = [message_name], set()
    while pending:
        name = pending.pop()
        if name in seen or not name.startswith("konkurs."):
            continue
        seen.add(name)
        for field in pool.FindMessageTypeByName(name).fields:
            names.add(field.full_name)
            if field.message_type is not None:
                pending.append(field.message_type.full_name)
    return names


def fields_set(message: Message) -> Iterator[str]:
    """Full names of the fields set, with a non-default value, anywhere in the message."""
    for field, value in message.ListFields():
        yield field.full_name
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        values = value if field.is_repeated else [value]
        for item in values:
            yield from fields_set(item)


def write_missing_golden_files() -> list[Path]:
    """Write the golden file of every case that has none; never touch an existing one."""
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, build in CASES.items():
        path = golden_path(stem)
        if not path.exists():
            path.write_bytes(serialize(build()))
            written.append(path)
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write", action="store_true", required=True, help="write missing golden files"
    )
    parser.parse_args()
    for path in write_missing_golden_files():
        print(f"wrote {path}")
