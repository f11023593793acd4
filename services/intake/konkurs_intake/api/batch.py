"""Bulk intake: a stream of applications, submitted a chunk at a time.

The body is read chunk by chunk and split into items as it arrives, so memory holds one
chunk of items however large the request. Each item is parsed and checked on its own; the
ones that pass are submitted together in one transaction per chunk (a few statements for
the whole chunk), so a refused line leaves the others standing. The answer has one small
result per item, in order, spooled to a temporary file when it grows."""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import IO, Any

from fastapi import Request

from konkurs_intake.api.bodies import JSON, PROTOBUF, parse_application
from konkurs_intake.api.deps import Intake
from konkurs_intake.api.errors import problem_of
from konkurs_intake.app.applications import Submission
from konkurs_intake.domain.applications import Application
from konkurs_platform.auth import Principal
from konkurs_platform.db import Connection
from konkurs_platform.domain import DomainError
from konkurs_platform.eventstore import ConcurrencyError
from konkurs_platform.idempotency import (
    IdempotencyKeyError,
    StoredAnswer,
    check_key,
    request_fingerprint,
)
from konkurs_platform.problems import BAD_REQUEST, FieldError, Problem
from konkurs_platform.service import command_metadata

NDJSON = "application/x-ndjson"
DELIMITED = "application/x-protobuf-delimited"
MEDIA_TYPES = (NDJSON, DELIMITED)

# OpenAPI has no word for "a stream of JSON values, one a line": the body is described as
# the array of its lines' values (each an `ApplicationBody`), which is what a client or a
# fuzzer generates before it writes them out one a line.
REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        NDJSON: {
            "schema": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/ApplicationBody"},
                "description": "JSON lines: each item is written as one line of JSON (UTF-8, "
                "ending in a line feed), not as a JSON array. A line may be at most the "
                "service's body limit for one application; blank lines are counted and "
                "skipped.",
            },
            "example": "{...one ApplicationBody...}\n{...another...}\n",
        },
        DELIMITED: {
            "schema": {
                "type": "string",
                "format": "binary",
                "description": "konkurs.intake.v1.ApplicationContent messages, each preceded "
                "by its length as a varint (protobuf's writeDelimitedTo).",
            }
        },
    },
}
RESULT_LINES_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "JSON lines: one result a line, in input order.",
    "items": {
        "type": "object",
        "required": ["line", "status"],
        "properties": {
            "line": {"type": "integer", "minimum": 1},
            "status": {"type": "integer", "description": "201, or the line's problem status"},
            "application_id": {"type": "string", "format": "uuid"},
            "registration_number": {"type": "string"},
            "version": {"type": "integer"},
            "replayed": {"type": "boolean", "description": "Answered from an earlier try."},
            "problem": {"$ref": "#/components/schemas/ProblemModel"},
        },
    },
}


@dataclass(frozen=True)
class Item:
    """One line (JSON) or message (protobuf), numbered from 1; `problem` when it could not
    even be cut out of the stream."""

    number: int
    data: bytes
    problem: str | None = None


async def json_lines(chunks: AsyncIterator[bytes], max_item_bytes: int) -> AsyncIterator[Item]:
    """The lines of a JSON-lines stream; blank lines count but are skipped."""
    buffer = bytearray()
    number = 0
    skipping = False  # inside a line that already ran over the limit
    async for chunk in chunks:
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                if not skipping:
                    buffer += chunk[start:]
                    if len(buffer) > max_item_bytes:
                        skipping = True
                        buffer.clear()
                break
            number += 1
            if skipping:
                yield Item(number, b"", f"the line is longer than {max_item_bytes} bytes")
                skipping = False
            else:
                buffer += chunk[start:end]
                if len(buffer) > max_item_bytes:
                    yield Item(number, b"", f"the line is longer than {max_item_bytes} bytes")
                elif buffer.strip():
                    yield Item(number, bytes(buffer))
            buffer.clear()
            start = end + 1
    if skipping:
        yield Item(number + 1, b"", f"the line is longer than {max_item_bytes} bytes")
    elif buffer.strip():
        yield Item(number + 1, bytes(buffer))


async def delimited_messages(
    chunks: AsyncIterator[bytes], max_item_bytes: int
) -> AsyncIterator[Item]:
    """The messages of a length-delimited protobuf stream (each preceded by its length as a
    base-128 varint, as protobuf's writeDelimitedTo writes them)."""
    buffer = bytearray()
    number = 0
    stream = aiter(chunks)
    exhausted = False

    async def fill() -> bool:
        nonlocal exhausted
        try:
            buffer.extend(await anext(stream))
        except StopAsyncIteration:
            exhausted = True
        return not exhausted

    while True:
        # The varint: at most 10 bytes.
        length = shift = 0
        i = 0
        while True:
            while i >= len(buffer) and not exhausted:
                await fill()
            if i >= len(buffer):
                if i > 0:
                    yield Item(number + 1, b"", "the stream ends inside a length prefix")
                return
            byte = buffer[i]
            length |= (byte & 0x7F) << shift
            i += 1
            if not byte & 0x80:
                break
            shift += 7
            if shift >= 64:
                yield Item(number + 1, b"", "the length prefix is not a valid varint")
                return
        number += 1
        del buffer[:i]
        if length > max_item_bytes:
            # Too large to hold; skip its bytes as they arrive and carry on after it.
            yield Item(number, b"", f"the message is longer than {max_item_bytes} bytes")
            remaining = length
            while remaining:
                if not buffer and not await fill():
                    return
                taken = min(remaining, len(buffer))
                del buffer[:taken]
                remaining -= taken
            continue
        while len(buffer) < length and await fill():
            pass
        if len(buffer) < length:
            yield Item(number, b"", "the stream ends inside this message")
            return
        yield Item(number, bytes(buffer[:length]))
        del buffer[:length]


ScopeCheck = Callable[[Request, Principal, str, str], None]


# Items per transaction. Committing each item alone costs a WAL flush per application; a
# chunk shares one, while a savepoint per item keeps a refused line from undoing the others.
# Nothing is acknowledged before the whole answer is sent, so a crash mid-batch loses
# nothing acknowledged, and a retry with the same Idempotency-Key replays committed lines.
CHUNK_ITEMS = 200
# Results beyond this many bytes go to a temporary file, so memory stays flat however many
# lines a batch has.
RESULTS_IN_MEMORY = 1 << 20


async def submit_all(
    request: Request,
    principal: Principal,
    svc: Intake,
    call_id: str,
    media_type: str,
    max_item_bytes: int,
    check_scope: ScopeCheck,
) -> IO[bytes]:
    """Submit every item of the request; the NDJSON results, one line per item, in a file
    positioned at its start."""
    key = request.headers.get("idempotency-key")
    if key is not None:
        try:
            check_key(key)
        except IdempotencyKeyError as exc:
            raise Problem(
                BAD_REQUEST,
                f"Idempotency-Key {exc}.",
                errors=[FieldError.of_parameter("header", "Idempotency-Key", str(exc))],
            ) from exc
    split = json_lines if media_type == NDJSON else delimited_messages
    item_media_type = JSON if media_type == NDJSON else PROTOBUF
    out = tempfile.SpooledTemporaryFile(max_size=RESULTS_IN_MEMORY)
    chunk: list[Item] = []

    async def flush() -> None:
        # The chunk is read before the transaction opens: a slow client never holds locks.
        async with svc.pool.acquire() as conn, conn.transaction():
            results = await _submit_chunk(
                conn, request, principal, svc, call_id, chunk, item_media_type, key, check_scope
            )
        for result in results:
            out.write(answer_line(result))
        chunk.clear()

    async for item in split(request.stream(), max_item_bytes):
        chunk.append(item)
        if len(chunk) >= CHUNK_ITEMS:
            await flush()
    if chunk:
        await flush()
    out.seek(0)
    return out


async def _submit_chunk(
    conn: Connection,
    request: Request,
    principal: Principal,
    svc: Intake,
    call_id: str,
    chunk: list[Item],
    media_type: str,
    key: str | None,
    check_scope: ScopeCheck,
) -> list[dict[str, object]]:
    """One result per item of `chunk`, in order, all in the caller's transaction.

    Each line is parsed and checked on its own; the lines that pass are submitted together
    (`handle_submit_many`: a few statements for the whole chunk), and a line the domain
    refuses draws no number and leaves the others standing."""
    results: dict[int, dict[str, object]] = {}
    owner = f"{principal.role}:{principal.subject}"
    pending: list[tuple[Item, Submission, str | None, str]] = []
    for item in chunk:
        if item.problem is not None:
            results[item.number] = _failed(item.number, Problem(BAD_REQUEST, item.problem))
            continue
        try:
            content = parse_application(item.data, media_type).domain()
            check_scope(request, principal, content.cluster.region_code, content.coordinator.bin)
        except Problem as problem:
            results[item.number] = _failed(item.number, problem)
            continue
        # A line's key: the batch's key and the line number; its fingerprint, the line itself.
        line_key = f"{key}#{item.number}" if key is not None else None
        fingerprint = request_fingerprint("POST", request.url.path, item.data)
        if line_key is not None:
            try:
                prior = await svc.idempotency.begin(conn, owner, line_key, fingerprint)
            except IdempotencyKeyError as exc:
                results[item.number] = _failed(
                    item.number, Problem(BAD_REQUEST, f"Idempotency-Key {exc}.")
                )
                continue
            if prior is not None:
                results[item.number] = json.loads(prior.body) | {"replayed": True}
                continue
        submission = Submission(str(uuid.uuid4()), call_id, content, new_id=True)
        pending.append((item, submission, line_key, fingerprint))
    if pending:
        try:
            outcomes = await svc.applications.handle_submit_many(
                [submission for _, submission, _, _ in pending],
                call_id,
                svc.clock(),
                command_metadata(principal),
                conn,
            )
        except ConcurrencyError as exc:  # a fresh uuid already taken: practically never
            raise problem_of(exc) from exc
        for (item, _, line_key, fingerprint), outcome in zip(pending, outcomes, strict=True):
            if isinstance(outcome, DomainError):
                results[item.number] = _failed(item.number, problem_of(outcome))
                continue
            state = outcome.state
            assert isinstance(state, Application)
            result: dict[str, object] = {
                "line": item.number,
                "status": 201,
                "application_id": state.application_id,
                "registration_number": state.registration_number,
                "version": outcome.version,
            }
            results[item.number] = result
            if line_key is not None:
                answer = StoredAnswer(201, {}, json.dumps(result).encode())
                await svc.idempotency.save(conn, owner, line_key, fingerprint, answer)
    return [results[item.number] for item in chunk]


def _failed(number: int, problem: Problem) -> dict[str, object]:
    body = problem.body()
    body.pop("correlation_id", None)
    return {"line": number, "status": problem.kind.status, "problem": body}


# Characters JSON leaves raw that many line readers (Python's str.splitlines, JavaScript's
# older parsers) take for a line break: escaped, so an echoed hostile value never splits
# an answer line in two.
_LINE_BREAKS = str.maketrans({"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def answer_line(result: dict[str, object]) -> bytes:
    """One line of a batch's answer: JSON, UTF-8, with nothing in it a reader could split."""
    return json.dumps(result, ensure_ascii=False).translate(_LINE_BREAKS).encode() + b"\n"
