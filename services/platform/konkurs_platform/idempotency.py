"""`Idempotency-Key` for creating requests: a replay returns the first answer.

The key is scoped to the caller (token subject) and stored in the service's schema in the
same transaction as the events the request appended, so an answer is remembered exactly
when its effect happened.

A request claims its key with one statement: it inserts the key's row with no answer yet
(status 0), or, when the row exists, locks it and reads it. Concurrent requests with the
same key therefore queue on that row until the first commits (and then find its answer) or
rolls back (and the next claims the key afresh). A row left without an answer (the request
answered with a status that is not remembered) counts as unused.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from konkurs_platform.db import Connection, check_schema_name

_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


class IdempotencyKeyError(ValueError):
    """The key is malformed, or (`reused`) was already used for a different request."""

    def __init__(self, reason: str, *, reused: bool = False) -> None:
        super().__init__(reason)
        self.reused = reused


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same": method, path and exact body bytes."""
    h = hashlib.sha256()
    for part in (method.encode(), b"\0", path.encode(), b"\0", body):
        h.update(part)
    return h.hexdigest()


def check_key(key: str) -> str:
    if not _KEY.match(key):
        raise IdempotencyKeyError("must be 1 to 255 visible ASCII characters")
    return key


# A claimed key whose request has not (or not yet) stored an answer.
_NO_ANSWER = 0


class IdempotencyStore:
    """`<schema>.idempotency_keys`."""

    def __init__(self, schema: str) -> None:
        s = check_schema_name(schema)
        # A conflict locks the existing row (DO UPDATE, even of nothing, takes the row lock
        # and waits for a transaction still holding it), and `xmax = 0` tells a row this
        # statement inserted from one it found.
        self._claim_sql = f"""
            INSERT INTO {s}.idempotency_keys
                (principal, key, request_hash, status, headers, body)
            VALUES ($1, $2, $3, {_NO_ANSWER}, '{{}}', '')
            ON CONFLICT (principal, key) DO UPDATE SET principal = excluded.principal
            RETURNING xmax = 0 AS claimed, request_hash, status, headers, body"""
        self._save_sql = (
            f"UPDATE {s}.idempotency_keys SET request_hash = $3, status = $4, "
            "headers = $5::jsonb, body = $6 WHERE principal = $1 AND key = $2"
        )

    async def begin(
        self, conn: Connection, principal: str, key: str, fingerprint: str
    ) -> StoredAnswer | None:
        """Claim the key for this transaction and return the first answer if there was one.

        Raises `IdempotencyKeyError` when the key was used for a different request.
        """
        if not conn.is_in_transaction():
            raise RuntimeError("IdempotencyStore.begin must run inside a transaction")
        row = await conn.fetchrow(self._claim_sql, principal, key, fingerprint)
        assert row is not None, "an upsert returns its row"
        if row["claimed"] or row["status"] == _NO_ANSWER:
            return None
        if row["request_hash"] != fingerprint:
            raise IdempotencyKeyError("was already used for a different request", reused=True)
        return StoredAnswer(row["status"], json.loads(row["headers"]), row["body"])

    async def save(
        self,
        conn: Connection,
        principal: str,
        key: str,
        fingerprint: str,
        answer: StoredAnswer,
    ) -> None:
        """Remember the answer on the key `begin` claimed; commits with the request's effect."""
        await conn.execute(
            self._save_sql,
            principal,
            key,
            fingerprint,
            answer.status,
            json.dumps(answer.headers),
            answer.body,
        )
