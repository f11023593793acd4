"""The application decider and the identifier rules: given events, when a command, then
events or a refusal; in milliseconds."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from test_calls import CLOSES, DEFINITION, OPENS

from konkurs_intake.domain.applications import (
    AmendApplication,
    ApplicationAmended,
    ApplicationContent,
    ApplicationSubmitted,
    ApplicationWithdrawn,
    AttachDocument,
    Cluster,
    CoFinancing,
    ContactPerson,
    Document,
    DocumentAttached,
    Money,
    Organisation,
    Participant,
    ParticipantKind,
    SubmitApplication,
    WithdrawApplication,
    application_decider,
    registration_number,
)
from konkurs_intake.domain.calls import AnnouncedCall, ClosedCall, NoCall
from konkurs_intake.domain.identifiers import bin_problem, oked_problem, with_check_digit
from konkurs_platform.domain import Conflict, DomainError, NotFound

APP = "7d0c2d1e-8b7a-4c3d-9e2f-1a6b4c8d7e90"
CALL = AnnouncedCall("kz", DEFINITION)
DURING = OPENS + timedelta(days=3)
SHA = "a" * 64


def bin_of(serial: int) -> str:
    for s in range(serial, serial + 20):
        try:
            return with_check_digit(f"170440{s:05d}")
        except ValueError:
            continue
    raise AssertionError("no BIN")


def participant(serial: int, kind: ParticipantKind = ParticipantKind.SME) -> Participant:
    return Participant(bin_of(serial), f"ТОО «Қазақ-{serial}»", kind, 40, Money("KZT", 10**9), 10)


CONTENT = ApplicationContent(
    cluster=Cluster("Шығыс жиһаз кластері", "Өскемен", "KZ-75", ("31090", "16100")),
    coordinator=Organisation(bin_of(900), "ОЮЛ «Кластер»"),
    participants=(participant(1), participant(2), participant(3, ParticipantKind.UNIVERSITY)),
    strategy_summary="Экспорт және өнімділік",
    requested_support=(),
    co_financing=CoFinancing(Money("KZT", 10**8), 30),
    contact=ContactPerson("Әлия Нұрғалиқызы", "+7 701 234 5678", "aliya@example.kz"),
)
SUBMITTED = ApplicationSubmitted(APP, "kz", "KZ-75-2017-0001", CONTENT)


def submit(content: ApplicationContent = CONTENT, at: datetime = DURING) -> SubmitApplication:
    return SubmitApplication(APP, "kz", CALL, content, "KZ-75-2017-0001", at)


def refusal(command: object, *events: object) -> DomainError:
    state = application_decider.fold(list(events))  # type: ignore[arg-type]
    with pytest.raises(DomainError) as caught:
        application_decider.decide(command, state)  # type: ignore[arg-type]
    return caught.value


def decide(command: object, *events: object) -> list[object]:
    state = application_decider.fold(list(events))  # type: ignore[arg-type]
    return list(application_decider.decide(command, state))  # type: ignore[arg-type]


@pytest.mark.parametrize("valid", ["940140000385", "990140004654"])
def test_the_reference_test_vectors_are_valid_bins(valid: str) -> None:
    assert bin_problem(valid) is None


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("940140000386", "check digit"),
        ("123456789012", "month"),
        ("000000000000", "month"),
        ("94014000038", "12 digits"),
        ("9401400003a5", "12 digits"),
        ("941340000385", "month"),
        ("940170000385", "5th digit"),
        ("940149000385", "6th digit"),
    ],
)
def test_a_bin_with_a_wrong_structure_or_check_digit_is_refused_with_its_reason(
    value: str, words: str
) -> None:
    problem = bin_problem(value)
    assert problem is not None and words in problem


def test_oked_codes_have_five_digits() -> None:
    assert oked_problem("62010") is None
    assert oked_problem("6201") is not None
    assert oked_problem("62.01") is not None


def test_submitting_to_an_open_call_records_application_submitted() -> None:
    assert decide(submit()) == [SUBMITTED]


def test_registration_numbers_read_region_year_and_a_four_digit_number() -> None:
    assert registration_number("KZ-75", 2017, 4) == "KZ-75-2017-0004"


def test_a_participant_listed_twice_is_named_with_the_first_listing() -> None:
    twice = replace(CONTENT, participants=(participant(1), participant(2), participant(1)))
    error = refusal(submit(twice))
    assert [(i.pointer, i.reason) for i in error.errors] == [
        ("/participants/2/bin", "this participant is already listed at /participants/0")
    ]


def test_a_region_the_call_does_not_accept_is_refused() -> None:
    elsewhere = replace(CONTENT, cluster=replace(CONTENT.cluster, region_code="KZ-63"))
    error = refusal(submit(elsewhere))
    assert error.code == "invalid_application"
    assert [i.pointer for i in error.errors] == ["/cluster/region_code"]


def test_bad_bins_and_oked_codes_are_all_named_at_once() -> None:
    bad = replace(
        CONTENT,
        coordinator=Organisation("940140000386", "x"),
        cluster=replace(CONTENT.cluster, specialisation=("3109", "16100")),
    )
    error = refusal(submit(bad))
    assert [i.pointer for i in error.errors] == [
        "/cluster/specialisation_oked_codes/0",
        "/coordinator/bin",
    ]


def test_a_submission_before_the_window_opens_is_refused() -> None:
    error = refusal(submit(at=OPENS - timedelta(seconds=1)))
    assert (error.code, type(error)) == ("call_not_open", Conflict)


def test_a_submission_at_closes_at_is_refused() -> None:
    error = refusal(submit(at=CLOSES))
    assert (error.code, type(error)) == ("call_closed", Conflict)


def test_a_submission_to_an_unknown_call_is_not_found() -> None:
    error = refusal(replace(submit(), call=NoCall()))
    assert (error.code, type(error)) == ("call_not_found", NotFound)


def test_an_import_received_before_the_close_is_accepted_by_a_closed_call() -> None:
    closed = ClosedCall("kz", DEFINITION, CLOSES)
    assert decide(replace(submit(), call=closed)) == [SUBMITTED]


def test_amending_records_the_next_revision_with_the_whole_content() -> None:
    changed = replace(CONTENT, strategy_summary="Жаңа стратегия")
    assert decide(AmendApplication(APP, CALL, changed, DURING), SUBMITTED) == [
        ApplicationAmended(APP, 2, changed)
    ]


def test_amending_with_the_same_content_records_nothing() -> None:
    assert decide(AmendApplication(APP, CALL, CONTENT, DURING), SUBMITTED) == []


def test_an_amendment_cannot_move_the_application_to_another_region() -> None:
    moved = replace(CONTENT, cluster=replace(CONTENT.cluster, region_code="KZ-11"))
    error = refusal(AmendApplication(APP, CALL, moved, DURING), SUBMITTED)
    assert [i.pointer for i in error.errors] == ["/cluster/region_code"]


def test_amend_is_refused_after_the_call_closes() -> None:
    closed = ClosedCall("kz", DEFINITION, CLOSES - timedelta(days=1))
    error = refusal(AmendApplication(APP, closed, CONTENT, DURING + timedelta(days=90)), SUBMITTED)
    assert error.code == "call_closed"


def test_a_withdrawn_application_cannot_be_amended_and_a_second_withdrawal_changes_nothing() -> (
    None
):
    withdrawn = ApplicationWithdrawn(APP, "merged")
    assert decide(WithdrawApplication(APP, CALL, "merged", DURING), SUBMITTED) == [withdrawn]
    assert decide(WithdrawApplication(APP, CALL, "again", DURING), SUBMITTED, withdrawn) == []
    error = refusal(AmendApplication(APP, CALL, CONTENT, DURING), SUBMITTED, withdrawn)
    assert (error.code, type(error)) == ("application_withdrawn", Conflict)


def test_attaching_the_same_bytes_twice_records_one_document() -> None:
    doc = Document("charter", "устав.pdf", "application/pdf", 10, SHA)
    attached = DocumentAttached(APP, doc)
    assert decide(AttachDocument(APP, CALL, doc, DURING), SUBMITTED) == [attached]
    assert decide(AttachDocument(APP, CALL, doc, DURING), SUBMITTED, attached) == []


def test_an_amendment_replaces_the_documents_on_file() -> None:
    doc = Document("charter", "устав.pdf", "application/pdf", 10, SHA)
    state = application_decider.fold([SUBMITTED, DocumentAttached(APP, doc)])
    assert state.documents == (doc,)  # type: ignore[union-attr]
    state = application_decider.fold([ApplicationAmended(APP, 2, CONTENT)], state)
    assert state.documents == ()  # type: ignore[union-attr]


def test_commands_on_an_unknown_application_are_not_found() -> None:
    error = refusal(WithdrawApplication(APP, CALL, "x", DURING))
    assert (error.code, type(error)) == ("application_not_found", NotFound)
