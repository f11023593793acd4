"""Application bodies: the JSON models, the protobuf mapping onto them, and parsing.

One validation path for both media types: a protobuf body (`konkurs.intake.v1.
ApplicationContent`) is turned into the JSON shape and validated by the same models, so a
fault gets the same pointer and reason whichever way it was sent.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from google.protobuf.message import DecodeError, Message
from google.protobuf.unknown_fields import UnknownFieldSet
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from konkurs.intake.v1 import application_pb2
from konkurs_intake.adapters.codec import PARTICIPANT_KINDS
from konkurs_intake.domain.applications import (
    ApplicationContent,
    Cluster,
    CoFinancing,
    ContactPerson,
    Document,
    Money,
    Organisation,
    Participant,
    ParticipantKind,
    SupportRequest,
)
from konkurs_intake.domain.identifiers import bin_problem, oked_problem
from konkurs_platform.problems import (
    MALFORMED_JSON,
    VALIDATION_FAILED,
    FieldError,
    Problem,
    ProblemType,
    field_errors,
)

M = TypeVar("M", bound=BaseModel)

JSON = "application/json"
PROTOBUF = "application/x-protobuf"
MEDIA_TYPES = (JSON, PROTOBUF)

MALFORMED_PROTOBUF = ProblemType(
    "malformed-protobuf",
    400,
    "The request body is not valid protobuf",
    "The body cannot be parsed as the protobuf message the endpoint takes "
    "(konkurs.intake.v1.ApplicationContent).",
)

_Strict = ConfigDict(extra="forbid")


def _valid_bin(value: str) -> str:
    if problem := bin_problem(value):
        raise ValueError(problem)
    return value


def _valid_oked(value: str) -> str:
    if problem := oked_problem(value):
        raise ValueError(problem)
    return value


Bin = Annotated[
    str,
    Field(description="Business identification number: 12 digits with a check digit."),
    AfterValidator(_valid_bin),
]
Oked = Annotated[
    str, Field(description="OKED code of 5 digits", examples=["31090"]), AfterValidator(_valid_oked)
]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Name = Annotated[str, Field(min_length=1, max_length=500)]


class MoneyBody(BaseModel):
    model_config = _Strict
    currency: Literal["KZT"] = Field(description="ISO 4217 code; the programme pays in KZT.")
    minor_units: int = Field(ge=0, le=10**17, description="Amount in tiyn (1 tenge = 100 tiyn).")

    def domain(self) -> Money:
        return Money(self.currency, self.minor_units)


class ClusterBody(BaseModel):
    model_config = _Strict
    name: str = Field(min_length=1, max_length=300)
    description: str = Field(min_length=1, max_length=5000)
    region_code: str = Field(pattern=r"^KZ-[0-9]{2}$", examples=["KZ-63"])
    specialisation_oked_codes: list[Oked] = Field(min_length=1, max_length=10)


class OrganisationBody(BaseModel):
    model_config = _Strict
    bin: Bin
    name: Name


class ParticipantBody(BaseModel):
    model_config = _Strict
    bin: Bin
    name: Name
    kind: ParticipantKind
    employees: int = Field(ge=0, le=10_000_000)
    annual_revenue: MoneyBody
    export_share_percent: int = Field(ge=0, le=100)


class SupportRequestBody(BaseModel):
    model_config = _Strict
    kind: Slug = Field(examples=["consulting"])
    description: str = Field(min_length=1, max_length=5000)
    amount: MoneyBody


class CoFinancingBody(BaseModel):
    model_config = _Strict
    amount: MoneyBody
    share_percent: int = Field(ge=0, le=100)


class ContactBody(BaseModel):
    model_config = _Strict
    name: Name
    phone: str = Field(pattern=r"^\+?[0-9][0-9 ()-]{4,29}$", examples=["+7 701 234 5678"])
    email: str = Field(pattern=r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,63}$", max_length=254)


class DocumentBody(BaseModel):
    model_config = _Strict
    kind: Slug = Field(examples=["charter"])
    filename: str = Field(min_length=1, max_length=255)
    media_type: str = Field(min_length=3, max_length=127, pattern=r"^[\w.+-]+/[\w.+-]+$")
    size_bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    def domain(self) -> Document:
        return Document(self.kind, self.filename, self.media_type, self.size_bytes, self.sha256)


class ApplicationBody(BaseModel):
    """An application's content: the cluster, who takes part, what it asks for."""

    model_config = _Strict
    cluster: ClusterBody
    coordinator: OrganisationBody
    participants: list[ParticipantBody] = Field(min_length=1, max_length=500)
    strategy_summary: str = Field(min_length=1, max_length=20000)
    requested_support: list[SupportRequestBody] = Field(default_factory=list, max_length=50)
    co_financing: CoFinancingBody
    contact: ContactBody
    documents: list[DocumentBody] = Field(default_factory=list, max_length=100)

    def domain(self) -> ApplicationContent:
        c = self.cluster
        return ApplicationContent(
            cluster=Cluster(
                c.name, c.description, c.region_code, tuple(c.specialisation_oked_codes)
            ),
            coordinator=Organisation(self.coordinator.bin, self.coordinator.name),
            participants=tuple(
                Participant(
                    p.bin,
                    p.name,
                    p.kind,
                    p.employees,
                    p.annual_revenue.domain(),
                    p.export_share_percent,
                )
                for p in self.participants
            ),
            strategy_summary=self.strategy_summary,
            requested_support=tuple(
                SupportRequest(s.kind, s.description, s.amount.domain())
                for s in self.requested_support
            ),
            co_financing=CoFinancing(
                self.co_financing.amount.domain(), self.co_financing.share_percent
            ),
            contact=ContactPerson(self.contact.name, self.contact.phone, self.contact.email),
            documents=tuple(d.domain() for d in self.documents),
        )


def _money_json(m: Money) -> dict[str, Any]:
    return {"currency": m.currency, "minor_units": m.minor_units}


def document_json(d: Document) -> dict[str, Any]:
    return {
        "kind": d.kind,
        "filename": d.filename,
        "media_type": d.media_type,
        "size_bytes": d.size_bytes,
        "sha256": d.sha256,
    }


def content_json(c: ApplicationContent) -> dict[str, Any]:
    """The JSON shape of `c`, as `ApplicationBody` reads it."""
    return {
        "cluster": {
            "name": c.cluster.name,
            "description": c.cluster.description,
            "region_code": c.cluster.region_code,
            "specialisation_oked_codes": list(c.cluster.specialisation),
        },
        "coordinator": {"bin": c.coordinator.bin, "name": c.coordinator.name},
        "participants": [
            {
                "bin": p.bin,
                "name": p.name,
                "kind": p.kind.value,
                "employees": p.employees,
                "annual_revenue": _money_json(p.annual_revenue),
                "export_share_percent": p.export_share_percent,
            }
            for p in c.participants
        ],
        "strategy_summary": c.strategy_summary,
        "requested_support": [
            {"kind": s.kind, "description": s.description, "amount": _money_json(s.amount)}
            for s in c.requested_support
        ],
        "co_financing": {
            "amount": _money_json(c.co_financing.amount),
            "share_percent": c.co_financing.share_percent,
        },
        "contact": {"name": c.contact.name, "phone": c.contact.phone, "email": c.contact.email},
        "documents": [document_json(d) for d in c.documents],
    }


# Protobuf -> the JSON shape ---------------------------------------------------------------

_KIND_NAMES = {number: kind.value for kind, number in PARTICIPANT_KINDS.items()}


def _present(msg: Message, name: str) -> bool:
    return bool(msg.HasField(name))


def _pb_money(m: Any) -> dict[str, Any]:
    return {"currency": m.currency, "minor_units": m.minor_units}


def _put(target: dict[str, Any], key: str, msg: Message, convert: Any) -> None:
    # A message field left unset is missing ("is required"), not an empty object.
    if _present(msg, key):
        target[key] = convert(getattr(msg, key))


def _pb_participant(p: application_pb2.Participant) -> dict[str, Any]:
    out: dict[str, Any] = {
        "bin": p.bin,
        "name": p.name,
        "employees": p.employees,
        "export_share_percent": p.export_share_percent,
    }
    if p.kind in _KIND_NAMES:
        out["kind"] = _KIND_NAMES[p.kind]
    elif p.kind != application_pb2.PARTICIPANT_KIND_UNSPECIFIED:
        out["kind"] = f"unknown kind {p.kind}"
    _put(out, "annual_revenue", p, _pb_money)
    return out


def content_json_of_pb(m: application_pb2.ApplicationContent) -> dict[str, Any]:
    """The JSON shape of a protobuf request body, for validation by `ApplicationBody`."""
    out: dict[str, Any] = {
        "participants": [_pb_participant(p) for p in m.participants],
        "strategy_summary": m.strategy_summary,
        "requested_support": [],
        "documents": [
            {
                "kind": d.kind,
                "filename": d.filename,
                "media_type": d.media_type,
                "size_bytes": d.size_bytes,
                "sha256": d.sha256,
            }
            for d in m.documents
        ],
    }
    for s in m.requested_support:
        support: dict[str, Any] = {"kind": s.kind, "description": s.description}
        _put(support, "amount", s, _pb_money)
        out["requested_support"].append(support)
    _put(
        out,
        "cluster",
        m,
        lambda c: {
            "name": c.name,
            "description": c.description,
            "region_code": c.region_code,
            "specialisation_oked_codes": list(c.specialisation_oked_codes),
        },
    )
    _put(out, "coordinator", m, lambda o: {"bin": o.bin, "name": o.name})

    def co_financing(c: application_pb2.CoFinancing) -> dict[str, Any]:
        value: dict[str, Any] = {"share_percent": c.share_percent}
        _put(value, "amount", c, _pb_money)
        return value

    _put(out, "co_financing", m, co_financing)
    _put(out, "contact", m, lambda c: {"name": c.name, "phone": c.phone, "email": c.email})
    return out


def _unknown_fields(msg: Message, at: str = "") -> list[FieldError]:
    """Fields the schema does not know, anywhere in `msg` (a client on a newer or wrong
    schema): refused like unknown JSON members rather than silently dropped."""
    errors = [
        FieldError(at, f"unknown field number {f.field_number}") for f in UnknownFieldSet(msg)
    ]
    for descriptor, value in msg.ListFields():
        if descriptor.message_type is None:
            continue
        items = value if descriptor.is_repeated else [value]
        for i, item in enumerate(items):
            suffix = f"/{i}" if descriptor.is_repeated else ""
            errors.extend(_unknown_fields(item, f"{at}/{descriptor.name}{suffix}"))
    return errors


def _invalid(errors: list[FieldError]) -> Problem:
    count = len(errors)
    return Problem(
        VALIDATION_FAILED,
        f"{count} input{'s are' if count != 1 else ' is'} not valid.",
        errors=errors,
    )


def parse_application(raw: bytes, media_type: str) -> ApplicationBody:
    """The validated body, or the problem: 400 for bytes that do not parse, 422 for
    content that breaks the schema (one error per field)."""
    if media_type == PROTOBUF:
        try:
            message = application_pb2.ApplicationContent.FromString(raw)
        except DecodeError as exc:
            raise Problem(
                MALFORMED_PROTOBUF,
                f"The body is not a valid konkurs.intake.v1.ApplicationContent: {exc}.",
                errors=[FieldError("", "invalid protobuf")],
            ) from exc
        if unknown := _unknown_fields(message):
            raise _invalid(unknown)
        try:
            return ApplicationBody.model_validate(content_json_of_pb(message))
        except ValidationError as exc:
            raise _invalid(field_errors(exc)) from exc
    return parse_json_model(ApplicationBody, raw)


def parse_json_model(model: type[M], raw: bytes) -> M:
    """`raw` as `model`, or a 400 (not JSON) or 422 (invalid fields) problem."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        for error in exc.errors():
            if error["type"] == "json_invalid":
                cause = str(error.get("msg", "invalid JSON"))
                raise Problem(
                    MALFORMED_JSON,
                    f"The body is not valid JSON: {cause}.",
                    errors=[FieldError("", cause)],
                ) from exc
        raise _invalid(field_errors(exc)) from exc
