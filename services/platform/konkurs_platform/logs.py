"""Structured logging: one JSON object per line on stderr, with the correlation id.

    {"ts": "2017-06-08T09:00:00.123+00:00", "level": "INFO", "logger": "konkurs.http",
     "msg": "POST /calls/7/applications 201", "service": "intake",
     "correlation_id": "6f1c...", "method": "POST", "status": 201, "duration_ms": 12.3}

Fields passed as `extra={...}` become top-level keys. The correlation id comes from a context
variable: the HTTP middleware binds the request's `X-Correlation-ID`, a consumer binds the
envelope's `correlation_id`, so every line logged while handling it carries the id.

A service entry point calls `configure_logging(settings.log_level, service)` once and then
runs uvicorn with `log_config=None`, so that uvicorn keeps the handlers set up here instead of
installing its own plain-text ones.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_correlation_id: ContextVar[str | None] = ContextVar("konkurs_correlation_id", default=None)
_request_id: ContextVar[str | None] = ContextVar("konkurs_request_id", default=None)

# Attributes every LogRecord has; anything else on a record came from `extra`. uvicorn's
# `color_message` (the message with terminal colour codes) is left out too.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
) | {"message", "asctime", "taskName", "color_message"}

_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def get_correlation_id() -> str | None:
    """The correlation id bound in the current context, if any."""
    return _correlation_id.get()


@contextmanager
def bind_correlation_id(value: str) -> Iterator[str]:
    """Bind `value` as the correlation id for the duration of the block (and the tasks it
    starts, which copy the context)."""
    token = _correlation_id.set(value)
    try:
        yield value
    finally:
        _correlation_id.reset(token)


def get_request_id() -> str | None:
    """The id of the HTTP request being handled in the current context, if any."""
    return _request_id.get()


@contextmanager
def bind_request_id(value: str) -> Iterator[str]:
    """Bind `value` as the current request's id for the duration of the block."""
    token = _request_id.set(value)
    try:
        yield value
    finally:
        _request_id.reset(token)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: ts, level, logger, msg, service, correlation_id,
    the record's `extra` fields, and `exc` (the traceback) when there is one."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            key: value
            for key, value in vars(record).items()
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_")
        }
        entry.update(
            ts=datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            level=record.levelname,
            logger=record.name,
            msg=record.getMessage(),
            service=self.service,
            # An explicit `extra={"correlation_id": ...}` wins: a record may be logged outside
            # the context that handled its request (a background task, a relay batch).
            correlation_id=entry.get("correlation_id") or get_correlation_id(),
        )
        if (request_id := get_request_id()) is not None:
            entry.setdefault("request_id", request_id)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # default=str: an extra field that JSON cannot encode (a UUID, a datetime) is written
        # as text rather than losing the whole line.
        return json.dumps(entry, ensure_ascii=False, default=str)


class _UvicornAccessFields(logging.Filter):
    """Gives uvicorn's access lines the same structured fields as the request middleware's."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            client, method, path, http_version, status = args
            record.client = client
            record.method = method
            record.path = path
            record.http_version = http_version
            record.status = status
        return True


def configure_logging(level: str | int, service: str) -> None:
    """Send every logger's records, uvicorn's included, as JSON lines to stderr.

    Idempotent: calling it again replaces the handler instead of adding a second one.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        # A uvicorn.Config made earlier in the process (`log_level=`) leaves its own level on
        # these loggers: they follow the root's from here on.
        logger.setLevel(logging.NOTSET)
    access = logging.getLogger("uvicorn.access")
    for old_filter in list(access.filters):
        if isinstance(old_filter, _UvicornAccessFields):
            access.removeFilter(old_filter)
    access.addFilter(_UvicornAccessFields())
