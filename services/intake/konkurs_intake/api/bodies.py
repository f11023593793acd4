"""Application bodies: the JSON models and parsing of both media types.

One validation path for both media types: a protobuf body (`konkurs.intake.v1.
ApplicationContent`) is read into the JSON shape by its adapter and validated by the same
models, so a fault gets the same pointer and reason whichever way it was sent. The models
check structure only (required fields, lengths, list sizes, text a person can write); what
the values mean (a BIN's check digit, an OKED code, the call's regions) is the decider's.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from konkurs_intake.adapters.protobuf_bodies import (
    MESSAGE,
    MalformedMessage,
    UnknownFields,
    application_content_json,
)
from konkurs_intake.api.text import Line, Prose
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
    f"The body cannot be parsed as the protobuf message the endpoint takes ({MESSAGE}).",
)

_Strict = ConfigDict(extra="forbid")

# The decider checks what a BIN and an OKED code must be; the edge only bounds their size.
Bin = Annotated[
    Line,
    Field(
        max_length=64,
        description="Business identification number: 12 digits with a check digit.",
    ),
]
Oked = Annotated[
    Line, Field(max_length=64, description="OKED code of 5 digits", examples=["31090"])
]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Name = Annotated[Line, Field(min_length=1, max_length=500)]


class MoneyBody(BaseModel):
    model_config = _Strict
    currency: Literal["KZT"] = Field(description="ISO 4217 code; the programme pays in KZT.")
    minor_units: int = Field(ge=0, le=10**17, description="Amount in tiyn (1 tenge = 100 tiyn).")

    def domain(self) -> Money:
        return Money(self.currency, self.minor_units)


class ClusterBody(BaseModel):
    model_config = _Strict
    name: Line = Field(min_length=1, max_length=300)
    description: Prose = Field(min_length=1, max_length=5000)
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
    description: Prose = Field(min_length=1, max_length=5000)
    amount: MoneyBody


class CoFinancingBody(BaseModel):
    model_config = _Strict
    amount: MoneyBody
    share_percent: int = Field(ge=0, le=100)


class ContactBody(BaseModel):
    model_config = _Strict
    name: Name
    phone: str = Field(pattern=r"^\+?[0-9][0-9 ()-]{4,29}$", examples=["+7 701 234 5678"])
    email: Line = Field(pattern=r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,63}$", max_length=254)


class DocumentBody(BaseModel):
    model_config = _Strict
    kind: Slug = Field(examples=["charter"])
    filename: Line = Field(min_length=1, max_length=255)
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
    strategy_summary: Prose = Field(min_length=1, max_length=20000)
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
            shape = application_content_json(raw)
        except MalformedMessage as exc:
            raise Problem(
                MALFORMED_PROTOBUF, str(exc), errors=[FieldError("", "invalid protobuf")]
            ) from exc
        except UnknownFields as exc:
            raise _invalid([FieldError(at, reason) for at, reason in exc.fields]) from exc
        try:
            return ApplicationBody.model_validate(shape)
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
