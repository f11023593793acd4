"""The intake service's own problem types, and domain refusals as problems."""

from __future__ import annotations

from konkurs_platform.domain import DomainError
from konkurs_platform.problems import FieldError, Problem, ProblemType
from konkurs_platform.service import command_problem

PRECONDITION_REQUIRED = ProblemType(
    "precondition-required",
    428,
    "If-Match is required",
    "Send the ETag you last read in `If-Match`, so that you change what you saw.",
)
CALL_NOT_FOUND = ProblemType("call-not-found", 404, "No such call", "The call does not exist.")
APPLICATION_NOT_FOUND = ProblemType(
    "application-not-found", 404, "No such application", "The application does not exist."
)
CALL_CLOSED = ProblemType(
    "call-closed",
    409,
    "The call is closed",
    "The call no longer accepts applications, amendments or withdrawals.",
)
CALL_NOT_OPEN = ProblemType(
    "call-not-open", 409, "The call is not open yet", "The call's window has not opened."
)
APPLICATION_WITHDRAWN = ProblemType(
    "application-withdrawn",
    409,
    "The application was withdrawn",
    "A withdrawn application cannot change.",
)
APPLICATION_EXISTS = ProblemType(
    "application-exists", 409, "The application exists", "An application with this id exists."
)
INVALID_APPLICATION = ProblemType(
    "invalid-application",
    422,
    "The application breaks the call's rules",
    "`errors` names each field at fault: a BIN with a wrong check digit, a participant "
    "listed twice, a region the call does not accept, an OKED code of the wrong form, ...",
)
CALL_EXISTS = ProblemType(
    "call-exists", 409, "The call exists", "A call with this id has already been announced."
)
CALL_ALREADY_OPEN = ProblemType(
    "call-already-open",
    409,
    "The call has opened",
    "A call can be amended only before its window opens.",
)
INVALID_CALL = ProblemType(
    "invalid-call",
    422,
    "The call breaks the rules of a call",
    "`errors` names each field at fault: weights that do not sum to 100, a window out of "
    "order or in the past, a region outside the call's region set, a threshold off the scale.",
)
DOCUMENT_TYPE_MISMATCH = ProblemType(
    "document-type-mismatch",
    422,
    "The document is not what its Content-Type says",
    "The bytes of a filed document must bear out its declared media type: HTML or a script "
    "filed as a picture or a PDF is refused.",
)
CALL_PROBLEMS = (CALL_NOT_FOUND, CALL_EXISTS, CALL_ALREADY_OPEN, INVALID_CALL)
DOMAIN_PROBLEMS = (
    CALL_EXISTS,
    CALL_ALREADY_OPEN,
    INVALID_CALL,
    CALL_NOT_FOUND,
    APPLICATION_NOT_FOUND,
    CALL_CLOSED,
    CALL_NOT_OPEN,
    APPLICATION_WITHDRAWN,
    APPLICATION_EXISTS,
    INVALID_APPLICATION,
)


def problem_of(exc: Exception, if_match: int | None = None) -> Problem:
    """A domain refusal as one of the problem types above (the generic mapping otherwise);
    a lost race as 409, or 412 with If-Match."""
    if isinstance(exc, DomainError):
        kind = next((k for k in DOMAIN_PROBLEMS if k.slug == exc.code.replace("_", "-")), None)
        if kind is not None:
            return Problem(
                kind, exc.detail, errors=[FieldError(i.pointer, i.reason) for i in exc.errors]
            )
    return command_problem(exc, if_match)
