"""Signed checkpoints of the audit chain, kept where the database cannot reach them.

The hash chain proves that no link was changed *relative to its head*; someone able to
rewrite the whole table (a database superuser) could rewrite the head with it. A checkpoint
is the head `(seq, hash)` at a moment, signed with an Ed25519 key that the database never
sees, and written to places outside it: a JSON-lines file an auditor keeps, and the
analytics topic (CloudEvents headers, `ce_type` `kz.konkurs.audit.checkpoint.v1`). A rewrite
of the log before a checkpoint's link no longer matches the signed hash:
`konkurs audit verify --checkpoints FILE` says so.

The readside projector process takes one at an interval; `konkurs audit checkpoint` takes one
on demand.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from konkurs_platform.db import Connection
from konkurs_platform.kafka import make_producer
from konkurs_platform.settings import Settings

log = logging.getLogger(__name__)

CE_TYPE = "kz.konkurs.audit.checkpoint.v1"


@dataclass(frozen=True)
class Checkpoint:
    """The chain head at `taken_at`, signed by the key `key_id` names."""

    chain: str
    seq: int
    hash: bytes
    taken_at: datetime
    key_id: str
    signature: bytes = b""

    def signed_bytes(self) -> bytes:
        """What the signature covers: a canonical JSON of everything but the signature."""
        body = {
            "chain": self.chain,
            "seq": self.seq,
            "hash": self.hash.hex(),
            "taken_at": self.taken_at.astimezone(UTC).isoformat(),
            "key_id": self.key_id,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def to_json(self) -> str:
        body = json.loads(self.signed_bytes())
        body["signature"] = base64.b64encode(self.signature).decode()
        return json.dumps(body, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        body = json.loads(text)
        return cls(
            chain=str(body["chain"]),
            seq=int(body["seq"]),
            hash=bytes.fromhex(body["hash"]),
            taken_at=datetime.fromisoformat(body["taken_at"]),
            key_id=str(body["key_id"]),
            signature=base64.b64decode(body["signature"]),
        )


def key_id(public: Ed25519PublicKey) -> str:
    """A short name of a public key: the start of the base64 of its raw bytes."""
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).decode()[:16]


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The checkpoint signing key: `KONKURS_AUDIT_SIGNING_KEY` (PEM), or in development a key
    made once and kept in `<home>/keys/audit-signing.pem`, readable by its owner only."""
    if settings.audit_signing_key:
        key = load_pem_private_key(settings.audit_signing_key.encode(), password=None)
    else:
        path = settings.home / "keys" / "audit-signing.pem"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            pem = Ed25519PrivateKey.generate().private_bytes(
                Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
            )
            path.touch(mode=0o600)
            path.write_bytes(pem)
        key = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the audit signing key must be an Ed25519 private key")
    return key


def public_pem(key: Ed25519PrivateKey) -> str:
    """The public half, for the auditor to keep."""
    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_key(pem: str) -> Ed25519PublicKey:
    key = load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the audit verification key must be an Ed25519 public key")
    return key


async def take(conn: Connection, schema: str, key: Ed25519PrivateKey) -> Checkpoint:
    """Sign the current chain head."""
    head = await conn.fetchrow(f"SELECT seq, hash FROM {schema}.audit_chain_head")
    assert head is not None, "the chain head row is created by the migration"
    unsigned = Checkpoint(
        chain=schema,
        seq=int(head["seq"]),
        hash=bytes(head["hash"]),
        taken_at=datetime.now(UTC),
        key_id=key_id(key.public_key()),
    )
    return replace(unsigned, signature=key.sign(unsigned.signed_bytes()))


def append_to_file(path: Path, checkpoint: Checkpoint) -> None:
    """Add a line to the auditor's file (created, owner-only, on first use)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(checkpoint.to_json() + "\n")


def read_file(path: Path) -> list[Checkpoint]:
    return [
        Checkpoint.from_json(line)
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


async def publish(settings: Settings, checkpoint: Checkpoint) -> None:
    """Send the checkpoint to the analytics topic in CloudEvents' Kafka binary mode."""
    producer = make_producer(settings)
    await producer.start()
    try:
        headers = [
            ("ce_specversion", b"1.0"),
            ("ce_id", str(uuid.uuid5(uuid.NAMESPACE_URL, checkpoint.to_json())).encode()),
            ("ce_source", f"/konkurs/audit/{checkpoint.chain}".encode()),
            ("ce_type", CE_TYPE.encode()),
            ("ce_time", checkpoint.taken_at.isoformat().encode()),
            ("content-type", b"application/json"),
        ]
        await producer.send_and_wait(
            settings.analytics_topic,
            value=checkpoint.to_json().encode(),
            key=f"audit/{checkpoint.chain}".encode(),
            headers=headers,
        )
    finally:
        await producer.stop()


@dataclass(frozen=True)
class CheckpointCheck:
    """One checkpoint held against the chain as it is now."""

    checkpoint: Checkpoint
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


async def check(
    conn: Connection,
    schema: str,
    checkpoints: Iterable[Checkpoint],
    public: Ed25519PublicKey,
) -> list[CheckpointCheck]:
    """Does each checkpoint carry a valid signature, and does the chain still hold its link?"""
    results = []
    for cp in checkpoints:
        problem: str | None = None
        try:
            public.verify(cp.signature, cp.signed_bytes())
        except InvalidSignature:
            problem = "the signature is not valid for this key"
        if problem is None and cp.key_id != key_id(public):
            problem = f"signed by key {cp.key_id}, not {key_id(public)}"
        if problem is None and cp.seq > 0:
            stored = await conn.fetchval(
                f"SELECT hash FROM {schema}.audit_log WHERE seq = $1", cp.seq
            )
            if stored is None:
                problem = f"link {cp.seq} is no longer in the log"
            elif bytes(stored) != cp.hash:
                problem = f"link {cp.seq} differs from the signed hash: the log was rewritten"
        results.append(CheckpointCheck(cp, problem))
    return results


async def run_periodically(settings: Settings, schema: str, stop: asyncio.Event) -> None:
    """Take, file and publish a checkpoint every `audit_checkpoint_seconds` until `stop`,
    whenever the head moved since the last one."""
    from konkurs_platform.db import create_pool

    key = signing_key(settings)
    path = settings.home / "audit" / "checkpoints.jsonl"
    last: tuple[int, bytes] | None = None
    pool = await create_pool(settings, max_size=1)
    try:
        while not stop.is_set():
            try:
                async with pool.acquire() as conn:
                    cp = await take(conn, schema, key)
                if (cp.seq, cp.hash) != last and cp.seq > 0:
                    append_to_file(path, cp)
                    await publish(settings, cp)
                    last = (cp.seq, cp.hash)
                    log.info("audit checkpoint", extra={"seq": cp.seq, "file": str(path)})
            except Exception as exc:  # the next interval tries again
                log.warning("audit checkpoint failed", extra={"error": repr(exc)})
            try:
                await asyncio.wait_for(stop.wait(), timeout=settings.audit_checkpoint_seconds)
            except TimeoutError:
                pass
    finally:
        await pool.close()
