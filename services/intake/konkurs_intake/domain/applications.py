"""The application: a cluster's bid in a call, amended until the call closes.

Commands: SubmitApplication, AmendApplication, WithdrawApplication, AttachDocument.
Events: ApplicationSubmitted, ApplicationAmended, ApplicationWithdrawn, DocumentAttached.

The call is read by the handler and handed in with the command (`call`), as is `now`, the
application id and the registration number: the decider stays pure. For a historical
import `now` is the moment the application was received on paper.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from konkurs_intake.domain.calls import AnnouncedCall, CallState, ClosedCall, NoCall
from konkurs_intake.domain.identifiers import bin_problem, oked_problem
from konkurs_platform.domain import Conflict, Decider, DomainError, FieldIssue, NotFound


class ParticipantKind(StrEnum):
    LARGE_ENTERPRISE = "large_enterprise"
    SME = "sme"
    UNIVERSITY = "university"
    RESEARCH_ORGANISATION = "research_organisation"
    PUBLIC_BODY = "public_body"
    OTHER = "other"


@dataclass(frozen=True)
class Money:
    """An amount in integer minor units (tiyn for KZT)."""

    currency: str
    minor_units: int


@dataclass(frozen=True)
class Organisation:
    bin: str
    name: str


@dataclass(frozen=True)
class Participant:
    bin: str
    name: str
    kind: ParticipantKind
    employees: int
    annual_revenue: Money
    export_share_percent: int


@dataclass(frozen=True)
class Cluster:
    name: str
    description: str
    region_code: str
    specialisation: tuple[str, ...]


@dataclass(frozen=True)
class SupportRequest:
    kind: str
    description: str
    amount: Money


@dataclass(frozen=True)
class CoFinancing:
    amount: Money
    share_percent: int


@dataclass(frozen=True)
class ContactPerson:
    name: str
    phone: str
    email: str


@dataclass(frozen=True)
class Document:
    """A filed document; its bytes live in the document store under `sha256`."""

    kind: str
    filename: str
    media_type: str
    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class ApplicationContent:
    """What an application says, complete at each revision."""

    cluster: Cluster
    coordinator: Organisation
    participants: tuple[Participant, ...]
    strategy_summary: str
    requested_support: tuple[SupportRequest, ...]
    co_financing: CoFinancing
    contact: ContactPerson
    documents: tuple[Document, ...] = ()


# Commands ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmitApplication:
    application_id: str
    call_id: str
    call: CallState
    content: ApplicationContent
    registration_number: str
    now: datetime
    illustrative: bool = False


@dataclass(frozen=True)
class AmendApplication:
    application_id: str
    call: CallState
    content: ApplicationContent
    now: datetime


@dataclass(frozen=True)
class WithdrawApplication:
    application_id: str
    call: CallState
    reason: str
    now: datetime


@dataclass(frozen=True)
class AttachDocument:
    application_id: str
    call: CallState
    document: Document
    now: datetime


ApplicationCommand = SubmitApplication | AmendApplication | WithdrawApplication | AttachDocument

# Events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplicationSubmitted:
    application_id: str
    call_id: str
    registration_number: str
    content: ApplicationContent
    illustrative: bool = False


@dataclass(frozen=True)
class ApplicationAmended:
    application_id: str
    revision: int
    content: ApplicationContent


@dataclass(frozen=True)
class ApplicationWithdrawn:
    application_id: str
    reason: str


@dataclass(frozen=True)
class DocumentAttached:
    application_id: str
    document: Document


ApplicationEvent = (
    ApplicationSubmitted | ApplicationAmended | ApplicationWithdrawn | DocumentAttached
)

# State ------------------------------------------------------------------------------------


class ApplicationStatus(StrEnum):
    SUBMITTED = "submitted"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class NoApplication:
    pass


@dataclass(frozen=True)
class Application:
    """A submitted (possibly withdrawn) application at its latest revision."""

    application_id: str
    call_id: str
    registration_number: str
    content: ApplicationContent
    revision: int = 1
    status: ApplicationStatus = ApplicationStatus.SUBMITTED
    # Filed after the latest revision; an amendment's content lists every document it keeps.
    attached: tuple[Document, ...] = field(default_factory=tuple)
    withdrawal_reason: str = ""
    illustrative: bool = False

    @property
    def documents(self) -> tuple[Document, ...]:
        """Every document on file now: the revision's and those attached since."""
        return self.content.documents + self.attached


ApplicationState = NoApplication | Application

# Rules ------------------------------------------------------------------------------------

SHA256_HEX_DIGITS = 64


def registration_number(region_code: str, year: int, number: int) -> str:
    """The readable number of the `number`-th application of a region in a call opening in
    `year`: "KZ-75-2017-0004". Each region keeps its own gapless series per call, as the
    regional journals do."""
    return f"{region_code}-{year}-{number:04d}"


def check_content(content: ApplicationContent, accepted_regions: Sequence[str]) -> list[FieldIssue]:
    """Every rule of an application's content that `content` breaks, with its pointer.

    The structure (required fields, lengths, list sizes) is checked where the content is
    parsed; these are the rules that need to know what the values mean.
    """
    issues: list[FieldIssue] = []
    c = content.cluster
    if c.region_code not in accepted_regions:
        issues.append(
            FieldIssue("/cluster/region_code", f"{c.region_code} is not a region this call accepts")
        )
    codes = "/cluster/specialisation_oked_codes"  # as the API names the field
    if not c.specialisation:
        issues.append(FieldIssue(codes, "name at least one OKED code"))
    seen_codes: dict[str, int] = {}
    for i, code in enumerate(c.specialisation):
        if problem := oked_problem(code):
            issues.append(FieldIssue(f"{codes}/{i}", problem))
        elif code in seen_codes:
            listed = f"{codes}/{seen_codes[code]}"
            issues.append(FieldIssue(f"{codes}/{i}", f"{code} is already listed at {listed}"))
        seen_codes.setdefault(code, i)
    if problem := bin_problem(content.coordinator.bin):
        issues.append(FieldIssue("/coordinator/bin", problem))
    if not content.participants:
        issues.append(FieldIssue("/participants", "list at least one participant"))
    seen_bins: dict[str, int] = {}
    for i, p in enumerate(content.participants):
        at = f"/participants/{i}"
        if problem := bin_problem(p.bin):
            issues.append(FieldIssue(f"{at}/bin", problem))
        elif p.bin in seen_bins:
            issues.append(
                FieldIssue(
                    f"{at}/bin",
                    f"this participant is already listed at /participants/{seen_bins[p.bin]}",
                )
            )
        seen_bins.setdefault(p.bin, i)
        if p.employees < 0:
            issues.append(FieldIssue(f"{at}/employees", "cannot be negative"))
        if p.annual_revenue.minor_units < 0:
            issues.append(FieldIssue(f"{at}/annual_revenue/minor_units", "cannot be negative"))
        if not 0 <= p.export_share_percent <= 100:
            issues.append(FieldIssue(f"{at}/export_share_percent", "must be between 0 and 100"))
    for i, s in enumerate(content.requested_support):
        if s.amount.minor_units < 0:
            issues.append(
                FieldIssue(f"/requested_support/{i}/amount/minor_units", "cannot be negative")
            )
    if content.co_financing.amount.minor_units < 0:
        issues.append(FieldIssue("/co_financing/amount/minor_units", "cannot be negative"))
    if not 0 <= content.co_financing.share_percent <= 100:
        issues.append(FieldIssue("/co_financing/share_percent", "must be between 0 and 100"))
    for i, d in enumerate(content.documents):
        issues.extend(check_document(d, f"/documents/{i}"))
    return issues


def check_document(d: Document, at: str = "") -> list[FieldIssue]:
    """The rules a filed document's record breaks."""
    issues: list[FieldIssue] = []
    if len(d.sha256) != SHA256_HEX_DIGITS or any(ch not in "0123456789abcdef" for ch in d.sha256):
        issues.append(FieldIssue(f"{at}/sha256", "must be 64 lowercase hexadecimal digits"))
    if d.size_bytes < 0:
        issues.append(FieldIssue(f"{at}/size_bytes", "cannot be negative"))
    return issues


def _accepting(call_id: str, call: CallState, now: datetime) -> AnnouncedCall | ClosedCall:
    """The call if it accepts applications at `now`, else the refusal.

    A closed call still accepts a historical import received before it closed.
    """
    if isinstance(call, NoCall):
        raise NotFound("call_not_found", f"There is no call {call_id}.")
    d = call.definition
    if now < d.opens_at:
        raise Conflict(
            "call_not_open", f"Call {call_id} accepts applications from {d.opens_at.isoformat()}."
        )
    closed_at = call.closed_at if isinstance(call, ClosedCall) else d.closes_at
    if now >= min(closed_at, d.closes_at):
        raise Conflict(
            "call_closed",
            f"Call {call_id} closed at {min(closed_at, d.closes_at).isoformat()}; "
            "it no longer accepts applications or changes to them.",
        )
    return call


def _invalid(issues: Sequence[FieldIssue]) -> DomainError:
    count = len(issues)
    return DomainError(
        "invalid_application",
        f"The application breaks {count} rule{'s' if count != 1 else ''} of the call.",
        issues,
    )


def check_submission(command: SubmitApplication) -> None:
    """Refuse a submission the call cannot take; run before a registration number is drawn."""
    call = _accepting(command.call_id, command.call, command.now)
    if issues := check_content(command.content, call.definition.regions):
        raise _invalid(issues)


def _existing(application_id: str, state: ApplicationState) -> Application:
    if isinstance(state, NoApplication):
        raise NotFound("application_not_found", f"There is no application {application_id}.")
    return state


def _active(application_id: str, state: ApplicationState) -> Application:
    current = _existing(application_id, state)
    if current.status is ApplicationStatus.WITHDRAWN:
        raise Conflict(
            "application_withdrawn",
            f"Application {application_id} was withdrawn; it can no longer change.",
        )
    return current


def decide(command: ApplicationCommand, state: ApplicationState) -> Sequence[ApplicationEvent]:
    """What the application answers to `command` in `state`."""
    match command:
        case SubmitApplication():
            if not isinstance(state, NoApplication):
                raise Conflict(
                    "application_exists", f"Application {command.application_id} already exists."
                )
            check_submission(command)
            return [
                ApplicationSubmitted(
                    command.application_id,
                    command.call_id,
                    command.registration_number,
                    command.content,
                    command.illustrative,
                )
            ]
        case AmendApplication(application_id, call, content, now):
            current = _active(application_id, state)
            accepting = _accepting(current.call_id, call, now)
            issues = check_content(content, accepting.definition.regions)
            old = current.content
            if content.cluster.region_code != old.cluster.region_code:
                issues.append(
                    FieldIssue(
                        "/cluster/region_code",
                        "cannot change after submission: the registration number belongs to "
                        f"the series of {old.cluster.region_code}; withdraw and submit anew",
                    )
                )
            if content.coordinator.bin != old.coordinator.bin:
                issues.append(
                    FieldIssue(
                        "/coordinator/bin",
                        "the coordinating organisation cannot change after submission; "
                        "withdraw and submit anew",
                    )
                )
            if issues:
                raise _invalid(issues)
            if content == old and not current.attached:
                return []
            return [ApplicationAmended(application_id, current.revision + 1, content)]
        case WithdrawApplication(application_id, call, reason, now):
            current = _existing(application_id, state)
            if current.status is ApplicationStatus.WITHDRAWN:
                return []  # a retried withdrawal changes nothing
            _accepting(current.call_id, call, now)
            return [ApplicationWithdrawn(application_id, reason)]
        case AttachDocument(application_id, call, document, now):
            current = _active(application_id, state)
            _accepting(current.call_id, call, now)
            if issues := check_document(document):
                raise _invalid(issues)
            if any(d.sha256 == document.sha256 for d in current.documents):
                return []  # the same bytes are already on file
            return [DocumentAttached(application_id, document)]
    raise TypeError(f"not an application command: {command!r}")


def evolve(state: ApplicationState, event: ApplicationEvent) -> ApplicationState:
    """The application's state after `event`."""
    match event:
        case ApplicationSubmitted(application_id, call_id, number, content, illustrative):
            return Application(application_id, call_id, number, content, illustrative=illustrative)
        case ApplicationAmended(_, revision, content):
            assert isinstance(state, Application)
            return replace(state, content=content, revision=revision, attached=())
        case ApplicationWithdrawn(_, reason):
            assert isinstance(state, Application)
            return replace(state, status=ApplicationStatus.WITHDRAWN, withdrawal_reason=reason)
        case DocumentAttached(_, document):
            assert isinstance(state, Application)
            return replace(state, attached=(*state.attached, document))
    raise TypeError(f"not an application event: {event!r}")


application_decider: Decider[ApplicationCommand, ApplicationState, ApplicationEvent] = Decider(
    NoApplication(), decide, evolve
)
