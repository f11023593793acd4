"""The key store: one random data key per data subject, destroyed to erase the subject.

Schema `keystore` (`KEY_STORE_SCHEMA`), migrated and granted by `konkurs_platform.db` to the
services whose spec asks (`ServiceSpec.personal_data`); every other role is refused by
PostgreSQL itself, so a service without the grant cannot open a sealed value.

Erasing and reading a subject exclude each other on a transaction-level advisory lock per
subject: a reader that stores clear values (the readside's read models) takes it shared
(`hold=True`) until it commits, an erasure takes it exclusive. So an erasure waits for a
projection that read the key to commit, and its event then finds the rows to erase; or the
projection waits for the erasure and finds no key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from konkurs_platform.db import KEY_STORE_SCHEMA, Connection, check_schema_name


@dataclass(frozen=True)
class Erasure:
    """The tombstone of a destroyed key: who erased whom, when and why."""

    subject_id: str
    kind: str
    erased_at: datetime
    erased_by: str
    reason: str
    retention_rule: str = ""


@dataclass(frozen=True)
class SubjectRecord:
    """What the key store holds about one subject (for an access request)."""

    subject_id: str
    kind: str | None
    key_created_at: datetime | None
    erasures: tuple[Erasure, ...]

    @property
    def erased(self) -> bool:
        return self.key_created_at is None and bool(self.erasures)


def _lock_key(subject: str) -> str:
    return f"konkurs.subject:{subject}"


class KeyStore:
    """The data keys, read and written on the caller's connection (inside its transaction)."""

    def __init__(self, schema: str = KEY_STORE_SCHEMA) -> None:
        s = self.schema = check_schema_name(schema)
        # The keys this statement made, and those that were there: one round trip.
        self._seal_sql = f"""
            WITH made AS (
                INSERT INTO {s}.subject_keys (subject_id, kind, data_key)
                SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])
                ON CONFLICT (subject_id) DO NOTHING
                RETURNING subject_id, data_key)
            SELECT subject_id, data_key FROM made
            UNION ALL
            SELECT subject_id, data_key FROM {s}.subject_keys
            WHERE subject_id = ANY($1) AND subject_id NOT IN (SELECT subject_id FROM made)"""
        self._keys_sql = (
            f"SELECT subject_id, data_key FROM {s}.subject_keys WHERE subject_id = ANY($1)"
        )

    async def keys_for_sealing(
        self, conn: Connection, subjects: Mapping[str, str]
    ) -> dict[str, bytes]:
        """The key of each subject (id -> kind), a new random one for a subject without."""
        wanted = sorted(subjects)
        keys: dict[str, bytes] = {}
        # A concurrent first sealer of the same subject makes our insert skip the row, and
        # this statement's snapshot may not show theirs yet: the next round does.
        for _ in range(3):
            missing = [s for s in wanted if s not in keys]
            if not missing:
                return keys
            rows = await conn.fetch(
                self._seal_sql,
                missing,
                [subjects[s] for s in missing],
                [AESGCM.generate_key(bit_length=256) for _ in missing],
            )
            keys.update({r["subject_id"]: bytes(r["data_key"]) for r in rows})
        raise RuntimeError(f"no key could be made for {sorted(set(wanted) - set(keys))}")

    async def keys(
        self, conn: Connection, subjects: Iterable[str], *, hold: bool = False
    ) -> dict[str, bytes]:
        """The keys of those `subjects` that have one; an erased subject has none.

        With `hold`, erasures of these subjects wait until the caller's transaction ends
        (take it when the clear values read will be stored).
        """
        wanted = sorted(set(subjects))
        if hold:
            # Sorted, so that two holders and an erasure never wait on each other in a cycle.
            # One statement: it takes the locks row by row, in the (sorted) array's order.
            await conn.execute(
                "SELECT count(pg_advisory_xact_lock_shared(hashtext(k)))"
                " FROM unnest($1::text[]) AS k",
                [_lock_key(s) for s in wanted],
            )
        rows = await conn.fetch(self._keys_sql, wanted)
        return {r["subject_id"]: bytes(r["data_key"]) for r in rows}

    async def erase(
        self,
        conn: Connection,
        subject: str,
        *,
        erased_by: str,
        reason: str,
        at: datetime,
        retention_rule: str = "",
    ) -> Erasure | None:
        """Destroy the subject's key and record the tombstone; None if it had no key."""
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", _lock_key(subject))
        kind = await conn.fetchval(
            f"DELETE FROM {self.schema}.subject_keys WHERE subject_id = $1 RETURNING kind",
            subject,
        )
        if kind is None:
            return None
        erasure = Erasure(subject, kind, at, erased_by, reason, retention_rule)
        await conn.execute(
            f"""INSERT INTO {self.schema}.erasures
                    (subject_id, kind, erased_at, erased_by, reason, retention_rule)
                VALUES ($1, $2, $3, $4, $5, $6)""",
            subject,
            kind,
            at,
            erased_by,
            reason,
            retention_rule,
        )
        return erasure

    async def record(self, conn: Connection, subject: str) -> SubjectRecord:
        """The subject's key (its kind and age, never its bytes) and tombstones."""
        key = await conn.fetchrow(
            f"SELECT kind, created_at FROM {self.schema}.subject_keys WHERE subject_id = $1",
            subject,
        )
        rows = await conn.fetch(
            f"""SELECT subject_id, kind, erased_at, erased_by, reason, retention_rule
                FROM {self.schema}.erasures WHERE subject_id = $1 ORDER BY erased_at""",
            subject,
        )
        erasures = tuple(Erasure(**dict(r)) for r in rows)
        kind = key["kind"] if key else (erasures[-1].kind if erasures else None)
        return SubjectRecord(subject, kind, key["created_at"] if key else None, erasures)
