"""Kazakh identifiers: the BIN (with its check digit) and OKED activity codes.

Each check returns the reason a person reads, or None when the value is valid, so that the
API's pydantic models and the decider give the same words for the same fault.
"""

from __future__ import annotations

import re

_WEIGHTS_1 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_WEIGHTS_2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
_TWELVE_DIGITS = re.compile(r"[0-9]{12}")
_OKED = re.compile(r"[0-9]{5}")
# Digit 5: 4 resident legal entity, 5 non-resident legal entity, 6 individual entrepreneur
# (joint). Digit 6: 0 head office, 1 branch, 2 representative office, 3 peasant farm.
_ENTITY_TYPES = frozenset("456")
_ATTRIBUTES = frozenset("0123")


def check_digit(digits: str) -> int | None:
    """The check digit of the first 11 digits of a BIN or IIN; None when none exists."""
    values = [int(d) for d in digits[:11]]
    for weights in (_WEIGHTS_1, _WEIGHTS_2):
        remainder = sum(v * w for v, w in zip(values, weights, strict=True)) % 11
        if remainder != 10:
            return remainder
    return None


def bin_problem(value: str) -> str | None:
    """Why `value` is not a valid BIN, or None."""
    if not _TWELVE_DIGITS.fullmatch(value):
        return "a BIN has exactly 12 digits"
    month = int(value[2:4])
    if not 1 <= month <= 12:
        return "a BIN starts with the year and month of registration (YYMM); the month is not 01-12"
    if value[4] not in _ENTITY_TYPES:
        return "the 5th digit of a BIN (the kind of entity) must be 4, 5 or 6"
    if value[5] not in _ATTRIBUTES:
        return "the 6th digit of a BIN (head office, branch, ...) must be 0, 1, 2 or 3"
    expected = check_digit(value)
    if expected is None:
        return "this is not a valid BIN: its first 11 digits admit no check digit"
    if int(value[11]) != expected:
        return "the check digit (the last digit) does not match: the BIN has a typing error"
    return None


def oked_problem(value: str) -> str | None:
    """Why `value` is not an OKED code of the form a specialisation uses, or None."""
    if not _OKED.fullmatch(value):
        return "an OKED code has 5 digits, e.g. 62010 (computer programming)"
    if value[:2] == "00":
        return "OKED divisions start at 01"
    return None


def with_check_digit(first_eleven: str) -> str:
    """The BIN whose first 11 digits are `first_eleven` (demo data and tests build BINs so)."""
    digit = check_digit(first_eleven)
    if digit is None:
        raise ValueError(f"{first_eleven} admits no check digit")
    return first_eleven + str(digit)
