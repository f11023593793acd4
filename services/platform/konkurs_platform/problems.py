"""RFC 9457 problem details: every error a konkurs service answers with.

A problem body is `application/problem+json`:

    {"type": "https://konkurs.kz/problems/validation-failed", "title": "The request is not valid",
     "status": 422, "detail": "2 fields are not valid", "instance": "/calls/7/applications",
     "errors": [{"pointer": "/participants/2/bin", "reason": "is required"},
                {"parameter": "limit", "in": "query", "reason": "Input should be ..."}],
     "correlation_id": "6f1c..."}

Where an error points into the JSON body it carries `pointer` (RFC 6901, "" is the whole
body); where it concerns a query, path, header or cookie parameter it carries `parameter`
and `in` instead, because those are not part of any JSON document a pointer could address.

Services raise `Problem(kind, detail, errors=...)`; `install_problem_handlers` turns it, and
FastAPI's own validation and HTTP errors, into problem responses. Types are declared once as
`ProblemType` values; a service declares its domain types the same way and lists them in a
route's `responses=problem_responses(...)` so that OpenAPI documents them.
"""

from __future__ import annotations

import http
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from konkurs_platform.logs import get_correlation_id

PROBLEM_BASE = "https://konkurs.kz/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

ParameterLocation = Literal["query", "path", "header", "cookie"]


@dataclass(frozen=True)
class ProblemType:
    """One kind of problem: its URI is `PROBLEM_BASE + slug`, its status never varies."""

    slug: str
    status: int
    title: str
    description: str

    @property
    def uri(self) -> str:
        return PROBLEM_BASE + self.slug


BAD_REQUEST = ProblemType(
    "bad-request", 400, "The request is malformed", "A header or parameter cannot be parsed."
)
MALFORMED_JSON = ProblemType(
    "malformed-json",
    400,
    "The request body is not valid JSON",
    "The body cannot be parsed; the error's reason names the line and column.",
)
UNAUTHENTICATED = ProblemType(
    "unauthenticated",
    401,
    "Authentication is required",
    "The bearer token is missing, malformed, expired or not issued for konkurs; "
    "`detail` says which.",
)
FORBIDDEN = ProblemType(
    "forbidden", 403, "Not allowed", "The caller's role or scope may not perform this request."
)
NOT_FOUND = ProblemType("not-found", 404, "Not found", "No such resource.")
METHOD_NOT_ALLOWED = ProblemType(
    "method-not-allowed", 405, "Method not allowed", "See the `Allow` header."
)
VERSION_CONFLICT = ProblemType(
    "version-conflict",
    409,
    "The resource was changed concurrently",
    "Another write reached the resource first. Read it again and retry; "
    "send `If-Match` to make the write conditional.",
)
PRECONDITION_FAILED = ProblemType(
    "precondition-failed",
    412,
    "The resource is not at the version in If-Match",
    "The `If-Match` ETag is stale: read the resource again and retry.",
)
CONTENT_TOO_LARGE = ProblemType(
    "content-too-large", 413, "The request body is too large", "`detail` names the limit."
)
UNSUPPORTED_MEDIA_TYPE = ProblemType(
    "unsupported-media-type",
    415,
    "Unsupported media type",
    "The `Content-Type` is not accepted here; the `Accept` header lists what is.",
)
VALIDATION_FAILED = ProblemType(
    "validation-failed",
    422,
    "The request is not valid",
    "`errors` lists every invalid field with a pointer into the body or the parameter name.",
)
INTERNAL_ERROR = ProblemType(
    "internal-error",
    500,
    "Internal error",
    "Something failed on our side. Quote `correlation_id` when reporting it.",
)
NOT_READY = ProblemType(
    "not-ready",
    503,
    "The service is not ready",
    "A dependency is unreachable; `checks` says which.",
)

CATALOGUE: Mapping[str, ProblemType] = {
    kind.slug: kind
    for kind in (
        BAD_REQUEST,
        MALFORMED_JSON,
        UNAUTHENTICATED,
        FORBIDDEN,
        NOT_FOUND,
        METHOD_NOT_ALLOWED,
        VERSION_CONFLICT,
        PRECONDITION_FAILED,
        CONTENT_TOO_LARGE,
        UNSUPPORTED_MEDIA_TYPE,
        VALIDATION_FAILED,
        INTERNAL_ERROR,
        NOT_READY,
    )
}

# The type a bare HTTPException (raised by Starlette's router, FastAPI or a library) is
# reported as. Statuses with several meanings (409, 422) are absent on purpose: a bare 409 is
# not necessarily a version conflict, so it is reported as "about:blank" (RFC 9457 §4.2.1).
_GENERIC_BY_STATUS: Mapping[int, ProblemType] = {
    kind.status: kind
    for kind in (
        BAD_REQUEST,
        UNAUTHENTICATED,
        FORBIDDEN,
        NOT_FOUND,
        METHOD_NOT_ALLOWED,
        CONTENT_TOO_LARGE,
        UNSUPPORTED_MEDIA_TYPE,
        INTERNAL_ERROR,
    )
}

_STANDARD_MEMBERS = frozenset(
    {"type", "title", "status", "detail", "instance", "errors", "correlation_id"}
)


def json_pointer(*tokens: str | int) -> str:
    """The RFC 6901 pointer to `tokens`: `json_pointer("participants", 2, "bin")` is
    `/participants/2/bin`; no tokens is "", the whole document."""
    return "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in tokens)


@dataclass(frozen=True)
class FieldError:
    """One invalid input: `pointer` into the JSON body, or a named `parameter` `location`."""

    pointer: str | None
    reason: str
    parameter: str | None = None
    location: ParameterLocation | None = None

    def __post_init__(self) -> None:
        if (self.pointer is None) == (self.parameter is None):
            raise ValueError("a FieldError has either a pointer or a parameter")
        if (self.parameter is None) != (self.location is None):
            raise ValueError("a parameter FieldError says where the parameter is")

    @classmethod
    def of_parameter(cls, location: ParameterLocation, name: str, reason: str) -> FieldError:
        """An error in the query, path, header or cookie parameter `name`."""
        return cls(None, reason, parameter=name, location=location)

    def to_json(self) -> dict[str, str]:
        """The member of a problem's `errors` array."""
        if self.pointer is not None:
            return {"pointer": self.pointer, "reason": self.reason}
        assert self.parameter is not None and self.location is not None
        return {"parameter": self.parameter, "in": self.location, "reason": self.reason}


class Problem(HTTPException):
    """An error answered as a problem document.

    It is a Starlette `HTTPException` so that it keeps working where FastAPI treats those
    specially: raised while FastAPI reads the body (the body-size limit does that) it would
    otherwise become a generic 400, and in dependencies it carries response headers
    (`WWW-Authenticate`).
    """

    def __init__(
        self,
        kind: ProblemType,
        detail: str | None = None,
        *,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, object] | None = None,
    ) -> None:
        clash = _STANDARD_MEMBERS.intersection(extensions or {})
        if clash:
            raise ValueError(f"extension members clash with standard ones: {sorted(clash)}")
        super().__init__(kind.status, detail, dict(headers) if headers else None)
        self.kind = kind
        self.errors = tuple(errors)
        self.extensions = dict(extensions or {})
        # Starlette fills a missing detail with the status phrase; keep the caller's value.
        self.problem_detail = detail

    def body(self, instance: str | None = None) -> dict[str, object]:
        """The problem document, with `instance` and the bound correlation id."""
        return _body(
            type_=self.kind.uri,
            title=self.kind.title,
            status=self.kind.status,
            detail=self.problem_detail,
            instance=instance,
            errors=self.errors,
            extensions=self.extensions,
        )


class ProblemResponse(JSONResponse):
    """A JSON response with the problem media type."""

    media_type = PROBLEM_MEDIA_TYPE


def problem_response(problem: Problem, *, instance: str | None = None) -> ProblemResponse:
    """The `application/problem+json` response for `problem`; `instance` is the request path."""
    return ProblemResponse(problem.body(instance), problem.kind.status, problem.headers)


def _body(
    *,
    type_: str,
    title: str,
    status: int,
    detail: str | None,
    instance: str | None,
    errors: Sequence[FieldError],
    extensions: Mapping[str, object],
) -> dict[str, object]:
    body: dict[str, object] = {"type": type_, "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    if errors:
        body["errors"] = [e.to_json() for e in errors]
    correlation_id = get_correlation_id()
    if correlation_id is not None:
        body["correlation_id"] = correlation_id
    body.update(extensions)
    return body


# ---------------------------------------------------------------------------------------------
# Exception handlers


async def _problem_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc, instance=request.url.path)


async def _http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status in (204, 304):
        # These statuses have no body by definition.
        return Response(status_code=status, headers=exc.headers)
    phrase = _phrase(status)
    # Starlette uses the status phrase as the default detail; that adds nothing to `title`.
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
    kind = _GENERIC_BY_STATUS.get(status)
    body = _body(
        type_=kind.uri if kind else "about:blank",
        title=kind.title if kind else phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
        errors=(),
        extensions={},
    )
    return ProblemResponse(body, status, exc.headers)


async def _validation_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return problem_response(_validation_problem(exc), instance=request.url.path)


def install_problem_handlers(app: FastAPI) -> None:
    """Answer `Problem`, `HTTPException` and request validation errors with problem details.

    Unexpected exceptions are not handled here: `konkurs_platform.web` answers them inside its
    request middleware, where the correlation id is still bound.
    """
    app.add_exception_handler(Problem, _problem_handler)
    app.add_exception_handler(HTTPException, _http_exception_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# ---------------------------------------------------------------------------------------------
# Request validation errors -> one FieldError per invalid input

_PARAMETER_LOCATIONS: Mapping[str, ParameterLocation] = {
    "query": "query",
    "path": "path",
    "header": "header",
    "cookie": "cookie",
}


def _validation_problem(exc: RequestValidationError) -> Problem:
    """The problem for FastAPI's validation error: malformed JSON (400), a body that is not
    JSON at all (415), or invalid fields (422, one `FieldError` each)."""
    errors = list(exc.errors())
    for error in errors:
        if error.get("type") == "json_invalid" and tuple(error.get("loc", ()))[:1] == ("body",):
            return _malformed_json(error, exc.body)
    # FastAPI leaves the body as bytes when its Content-Type is not JSON; pydantic then says
    # "Input should be a valid dictionary", which misnames the problem.
    if isinstance(exc.body, bytes) and any(_location(e) == "body" for e in errors):
        return Problem(
            UNSUPPORTED_MEDIA_TYPE,
            "The request body must be JSON (Content-Type: application/json).",
            headers={"Accept": "application/json"},
        )
    invalid = [_field_error(e) for e in errors]
    count = len(invalid)
    return Problem(
        VALIDATION_FAILED,
        f"{count} input{'s are' if count != 1 else ' is'} not valid.",
        errors=invalid,
    )


def field_errors(error: ValidationError, *prefix: str | int) -> list[FieldError]:
    """One `FieldError` per error of a pydantic model validated by hand (a protobuf or bulk
    body), its pointer below `prefix`: `field_errors(e, "applications", 17)`."""
    return [FieldError(json_pointer(*prefix, *e["loc"]), _reason(e)) for e in error.errors()]


def _location(error: Mapping[str, Any]) -> str | None:
    loc = tuple(error.get("loc", ()))
    return str(loc[0]) if loc else None


def _field_error(error: Mapping[str, Any]) -> FieldError:
    loc = tuple(error.get("loc", ()))
    reason = _reason(error)
    where = str(loc[0]) if loc else "body"
    location = _PARAMETER_LOCATIONS.get(where)
    if location is not None and len(loc) > 1:
        return FieldError.of_parameter(location, str(loc[1]), reason)
    if loc == ("body",) and error.get("type") == "missing":
        return FieldError("", "a request body is required")
    return FieldError(json_pointer(*loc[1:]), reason)


_PREFIXES = {"value_error": "Value error, ", "assertion_error": "Assertion failed, "}


def _reason(error: Mapping[str, Any]) -> str:
    kind = error.get("type")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown field"
    message = str(error.get("msg", "is not valid"))
    # A validator's own message ("BIN must have 12 digits") reads better without pydantic's
    # prefix; never echo the input itself, which may be personal data.
    prefix = _PREFIXES.get(str(kind))
    if prefix and message.startswith(prefix):
        message = message[len(prefix) :]
    return message


def _malformed_json(error: Mapping[str, Any], document: object) -> Problem:
    loc = tuple(error.get("loc", ()))
    position = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
    cause = str((error.get("ctx") or {}).get("error", "not valid JSON"))
    if position is None:
        where = ""
    elif isinstance(document, str):
        line = document.count("\n", 0, position) + 1
        column = position - (document.rfind("\n", 0, position) + 1) + 1
        where = f" at line {line}, column {column}"
    else:
        where = f" at character {position}"
    return Problem(
        MALFORMED_JSON,
        f"The body is not valid JSON{where}: {cause}.",
        errors=[FieldError("", f"invalid JSON{where}: {cause}")],
    )


# ---------------------------------------------------------------------------------------------
# OpenAPI


class FieldErrorModel(BaseModel):
    """One invalid input of a problem (schema only)."""

    model_config = ConfigDict(populate_by_name=True)

    pointer: str | None = Field(
        default=None,
        description='RFC 6901 JSON pointer into the request body ("" is the whole body).',
        examples=["/participants/2/bin"],
    )
    parameter: str | None = Field(
        default=None, description="The query, path, header or cookie parameter at fault."
    )
    in_: ParameterLocation | None = Field(
        default=None, alias="in", description="Where `parameter` is."
    )
    reason: str = Field(description="What is wrong, for a person to read.")


class ProblemModel(BaseModel):
    """An RFC 9457 problem document (schema only); services may add extension members."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="The problem type URI.", examples=[VALIDATION_FAILED.uri])
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(default=None, description="The request path.")
    errors: list[FieldErrorModel] | None = None
    correlation_id: str | None = Field(
        default=None, description="The request's X-Correlation-ID: quote it when reporting."
    )


_SCHEMA_REF = "#/components/schemas/{model}"


def problem_responses(*kinds: int | ProblemType) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entries documenting problem bodies for route decorators.

    An int stands for every catalogue type with that status; a `ProblemType` (a service's
    own domain type) for itself. `problem_responses(401, 403, 422, CALL_CLOSED)`.
    """
    by_status: dict[int, list[ProblemType]] = {}
    for kind in kinds:
        members = (
            [kind]
            if isinstance(kind, ProblemType)
            else [k for k in CATALOGUE.values() if k.status == kind]
        )
        if not members:
            raise ValueError(f"no problem type in the catalogue has status {kind}")
        for member in members:
            listed = by_status.setdefault(member.status, [])
            if member not in listed:
                listed.append(member)
    return {status: _response(status, members) for status, members in sorted(by_status.items())}


def _response(status: int, kinds: Sequence[ProblemType]) -> dict[str, Any]:
    lines = [f"- `{k.uri}`: {k.title}. {k.description}" for k in kinds]
    return {
        "description": f"{_phrase(status)}: a problem document of type\n\n" + "\n".join(lines),
        "content": {
            PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _SCHEMA_REF.format(model="ProblemModel")}}
        },
    }


def catalogue_markdown() -> str:
    """The catalogue as a Markdown table, for the API description."""
    rows = [f"| `{k.uri}` | {k.status} | {k.title} |" for k in CATALOGUE.values()]
    return "\n".join(["| type | status | title |", "| --- | --- | --- |", *rows])


def document_problems(openapi: dict[str, Any]) -> dict[str, Any]:
    """Add the problem schemas to an OpenAPI document and replace FastAPI's default 422
    (`HTTPValidationError`, which this platform never sends) with the problem response."""
    schema = ProblemModel.model_json_schema(ref_template=_SCHEMA_REF)
    components = openapi.setdefault("components", {}).setdefault("schemas", {})
    components.update(schema.pop("$defs", {}))
    components["ProblemModel"] = schema
    default_422 = _SCHEMA_REF.format(model="HTTPValidationError")
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {}) if isinstance(operation, dict) else {}
            if default_422 in json.dumps(responses.get("422", {})):
                responses["422"] = _response(422, [VALIDATION_FAILED])
    if default_422 not in json.dumps(openapi.get("paths", {})):
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
    return openapi
