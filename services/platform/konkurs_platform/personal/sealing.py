"""The personal fields of a protobuf message, found by reflection, sealed and opened.

Pure functions over messages and keys: no I/O. The key store hands the keys in.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from konkurs.types.v1 import personal_pb2

# What a reader gets where the subject's key was destroyed.
ERASED = "[erased]"
# The text form of a sealed value; the version names the algorithm and layout, so that a
# later form can be told apart from this one in events kept forever.
SEALED_PREFIX = "pd1:"
_NONCE_BYTES = 12
_KIND_PREFIX = "PERSONAL_DATA_KIND_"


@dataclass(frozen=True)
class PersonalField:
    """One marked field set in one message: whose value it is, what kind, and where."""

    subject_id: str
    kind: str
    path: str
    field: FieldDescriptor
    holder: Message

    @property
    def value(self) -> str:
        return str(getattr(self.holder, self.field.name))

    def replace(self, value: str) -> None:
        """Put `value` in place of the field's value (in the message, in memory)."""
        setattr(self.holder, self.field.name, value)


def personal_data_kinds() -> tuple[str, ...]:
    """Every kind of personal data a field may be marked with."""
    return tuple(
        name.removeprefix(_KIND_PREFIX).lower()
        for name, number in personal_pb2.PersonalDataKind.items()
        if number != personal_pb2.PERSONAL_DATA_KIND_UNSPECIFIED
    )


def subject_id(stream_id: str, path: str) -> str:
    """The data subject of the values in the message at `path` of an event of `stream_id`."""
    return f"{stream_id}/{path}"


def kind_of(field: FieldDescriptor) -> str:
    """The field's kind of personal data (`contact`, ...); empty when it is not marked."""
    kind = field.GetOptions().Extensions[personal_pb2.personal]
    if kind == personal_pb2.PERSONAL_DATA_KIND_UNSPECIFIED:
        return ""
    return personal_pb2.PersonalDataKind.Name(kind).removeprefix(_KIND_PREFIX).lower()


@functools.cache
def holds_personal_data(descriptor: Descriptor) -> bool:
    """Whether a message of this type may hold a marked field, at any depth."""
    return _holds(descriptor, frozenset())


def _holds(descriptor: Descriptor, seen: frozenset[str]) -> bool:
    if descriptor.full_name in seen:
        return False  # a recursive type holds what its first occurrence holds
    inner = seen | {descriptor.full_name}
    for field in descriptor.fields:
        if field.message_type is not None:
            if _holds(field.message_type, inner):
                return True
        elif kind_of(field):
            return True
    return False


def personal_fields(message: Message, stream_id: str, path: str = "") -> list[PersonalField]:
    """The marked fields set in `message` (an event of `stream_id`), depth first.

    Refuses a schema the subject rule cannot serve rather than leave a value in clear: a
    marked field that is not a string, or persons in a repeated message (their positions
    are no stable identity; such a schema needs a subject id of its own first).
    """
    found: list[PersonalField] = []
    for field, value in message.ListFields():
        where = f"{path}.{field.name}" if path else field.name
        if field.message_type is not None:
            if not holds_personal_data(field.message_type):
                continue
            if field.is_repeated:
                raise TypeError(f"{field.full_name}: personal data in a repeated message")
            found.extend(personal_fields(value, stream_id, where))
            continue
        kind = kind_of(field)
        if not kind:
            continue
        if field.type != FieldDescriptor.TYPE_STRING or field.is_repeated:
            raise TypeError(f"{field.full_name}: only a singular string field can be personal")
        found.append(PersonalField(subject_id(stream_id, path), kind, where, field, message))
    return found


def message_class(event_type: str) -> type[Message]:
    """The generated class of `event_type` (its module must have been imported)."""
    descriptor = descriptor_pool.Default().FindMessageTypeByName(event_type)
    return message_factory.GetMessageClass(descriptor)


def is_sealed(value: str) -> bool:
    """Whether a field's value is the sealed form (events recorded before sealing began,
    or by a producer that does not seal, hold their values in clear)."""
    return value.startswith(SEALED_PREFIX)


def _aad(subject: str, field_name: str) -> bytes:
    # Binds the ciphertext to whose value it is and which field it fills.
    return f"{subject}\x00{field_name}".encode()


def seal_text(key: bytes, subject: str, field_name: str, clear: str) -> str:
    """The sealed form of `clear`, the value of field `field_name` (full name) of `subject`."""
    nonce = os.urandom(_NONCE_BYTES)
    ciphertext = AESGCM(key).encrypt(nonce, clear.encode(), _aad(subject, field_name))
    return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + ciphertext).decode()


def open_text(key: bytes | None, subject: str, field_name: str, sealed: str) -> str:
    """The clear value of a sealed one, or `ERASED` when the key that sealed it is gone.

    A tag that does not verify means the value was sealed under a key destroyed since (the
    subject gave new data after an erasure and got a new key): erased too.
    """
    if key is None:
        return ERASED
    try:
        raw = base64.urlsafe_b64decode(sealed.removeprefix(SEALED_PREFIX))
        clear = AESGCM(key).decrypt(
            raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _aad(subject, field_name)
        )
    except (InvalidTag, binascii.Error, ValueError):
        return ERASED
    return clear.decode()


def seal_all(fields: list[PersonalField], keys: Mapping[str, bytes]) -> None:
    """Seal every clear field in place with its subject's key (already sealed ones stay)."""
    for f in fields:
        if not is_sealed(f.value):
            f.replace(seal_text(keys[f.subject_id], f.subject_id, f.field.full_name, f.value))


def unseal_all(fields: list[PersonalField], keys: Mapping[str, bytes]) -> None:
    """Open every sealed field in place; where a subject has no key, `ERASED`."""
    for f in fields:
        if is_sealed(f.value):
            f.replace(open_text(keys.get(f.subject_id), f.subject_id, f.field.full_name, f.value))
