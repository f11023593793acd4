"""Wiring every service's HTTP API shares: readiness checks, the command's metadata,
domain errors as problems, and `Idempotency-Key` around creating requests."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import asyncpg
from aiokafka.client import AIOKafkaClient
from fastapi import Request, Response

from konkurs_platform.auth import Principal
from konkurs_platform.db import Connection
from konkurs_platform.domain import Conflict, DomainError, Forbidden, NotFound
from konkurs_platform.eventstore import ConcurrencyError, Metadata
from konkurs_platform.idempotency import (
    IdempotencyKeyError,
    IdempotencyStore,
    StoredAnswer,
    check_key,
    request_fingerprint,
)
from konkurs_platform.logs import get_correlation_id, get_request_id
from konkurs_platform.problems import BAD_REQUEST, FieldError, Problem, ProblemType
from konkurs_platform.settings import Settings
from konkurs_platform.web import version_conflict

IDEMPOTENCY_KEY_REUSED = ProblemType(
    "idempotency-key-reused",
    422,
    "Idempotency-Key already used",
    "The key was already used for a different request; use a new key for a new request.",
)
_REPLAYED_HEADERS = ("location", "etag", "content-type")


def postgres_check(pool: Callable[[], asyncpg.Pool]) -> Callable[[], Awaitable[None]]:
    """A readiness check that runs `SELECT 1` on the service's pool."""

    async def check() -> None:
        async with pool().acquire() as conn:
            await conn.fetchval("SELECT 1")

    return check


def kafka_check(settings: Settings) -> Callable[[], Awaitable[None]]:
    """A readiness check that fetches the cluster's metadata from the bootstrap servers."""

    async def check() -> None:
        client = AIOKafkaClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=2000)
        try:
            await client.bootstrap()
        finally:
            await client.close()

    return check


def command_metadata(principal: Principal, *, imported: bool = False) -> Metadata:
    """Who acts, the conversation the request belongs to, and the request itself as the
    cause, for the events it appends."""
    request_id = get_request_id()
    return Metadata(
        actor=principal.actor(),
        correlation_id=get_correlation_id() or str(uuid.uuid4()),
        causation_id=f"request:{request_id}" if request_id else None,
        imported=imported,
    )


# The one place a domain refusal's kind becomes an HTTP status.
_REFUSAL_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (NotFound, 404),
    (Forbidden, 403),
    (Conflict, 409),
    (DomainError, 422),
)


def domain_problem(error: DomainError) -> Problem:
    """A refused command as a problem document; the rule's code becomes the problem type."""
    status = next(code for kind, code in _REFUSAL_STATUS if isinstance(error, kind))
    kind = ProblemType(error.code.replace("_", "-"), status, error.detail, error.detail)
    return Problem(
        kind,
        error.detail,
        errors=[FieldError(issue.pointer, issue.reason) for issue in error.errors],
    )


def command_problem(error: Exception, if_match: int | None = None) -> Problem:
    """Domain refusals and lost races as problems; anything else is re-raised by the caller."""
    if isinstance(error, DomainError):
        return domain_problem(error)
    if isinstance(error, ConcurrencyError):
        return version_conflict(if_match)
    raise error


@contextmanager
def refusals_as_problems(
    if_match: int | None = None,
    problem: Callable[[Exception, int | None], Problem] = command_problem,
) -> Iterator[None]:
    """Around a command: a domain refusal or a lost race leaves as its problem (`problem`
    maps them; a service with its own catalogue of problem types passes its own)."""
    try:
        yield
    except (DomainError, ConcurrencyError) as exc:
        raise problem(exc, if_match) from exc


async def idempotent(
    request: Request,
    principal: Principal,
    pool: asyncpg.Pool,
    store: IdempotencyStore,
    run: Callable[[Connection], Awaitable[Response]],
) -> Response:
    """Run a creating request once per `Idempotency-Key`.

    Without the header, `run` simply runs. With it, the first answer is stored in the
    transaction that holds the request's effect; a retry with the same key and the same body
    gets that answer again (`Idempotent-Replayed: true`), a different body a 422 problem.
    """
    raw_key = request.headers.get("idempotency-key")
    async with pool.acquire() as conn, conn.transaction():
        if raw_key is None:
            return await run(conn)
        try:
            key = check_key(raw_key)
            fingerprint = request_fingerprint(
                request.method, request.url.path, await request.body()
            )
            owner = f"{principal.role}:{principal.subject}"
            prior = await store.begin(conn, owner, key, fingerprint)
        except IdempotencyKeyError as exc:
            # A malformed key is a bad header (400); a key reused for another request is 422.
            kind = IDEMPOTENCY_KEY_REUSED if exc.reused else BAD_REQUEST
            raise Problem(
                kind,
                f"Idempotency-Key {exc}.",
                errors=[FieldError.of_parameter("header", "Idempotency-Key", str(exc))],
            ) from exc
        if prior is not None:
            headers = dict(prior.headers) | {"Idempotent-Replayed": "true"}
            return Response(prior.body, prior.status, headers=headers)
        response = await run(conn)
        if response.status_code < 300:
            headers = {k: v for k, v in response.headers.items() if k.lower() in _REPLAYED_HEADERS}
            await store.save(
                conn,
                owner,
                key,
                fingerprint,
                StoredAnswer(response.status_code, headers, bytes(response.body)),
            )
        return response
