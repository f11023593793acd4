"""The historical-import path: events recorded with the moment they happened in the past.

Normal commands occur when they are recorded (the server clock). An import (applications
received on paper, the 2017 competition as demo data) records each event with its
historical `occurred_at` and `imported=True` in the metadata.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Generic, TypeVar

from konkurs_platform.envelope import Envelope
from konkurs_platform.eventstore import Metadata, NewEvent
from konkurs_platform.handler import CommandHandler, EventCodec

C = TypeVar("C")
S = TypeVar("S")
E = TypeVar("E")


class HistoricalCodec(Generic[E]):
    """`codec`, but every event it encodes occurred at `occurred_at`."""

    def __init__(self, codec: EventCodec[E], occurred_at: datetime) -> None:
        self.codec = codec
        self.occurred_at = occurred_at

    def encode(self, event: E) -> NewEvent:
        return replace(self.codec.encode(event), occurred_at=self.occurred_at)

    def decode(self, envelope: Envelope) -> E:
        return self.codec.decode(envelope)


def handler_for(
    handler: CommandHandler[C, S, E], meta: Metadata, now: datetime
) -> CommandHandler[C, S, E]:
    """`handler` itself for a live command; for an import, one that records at `now`."""
    if not meta.imported:
        return handler
    # The same timers: an imported call that is still open must close at its time.
    return handler.with_codec(HistoricalCodec(handler.codec, now))
