"""What the streamed exports share: CSV values and a sink that hands Parquet's bytes on as
they are written."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def csv_value(value: Any) -> Any:
    """A value as a CSV cell: lists joined with ';', times in ISO 8601."""
    if isinstance(value, list):
        return ";".join(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class Chunks:
    """A write-only file for ParquetWriter whose bytes are taken out as they are written."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        """The bytes written since the last take."""
        out = b"".join(self._parts)
        self._parts.clear()
        return out
