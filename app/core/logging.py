"""Logging: JSON lines (or plain text in development), with the request or job they belong to.

Every record carries the fields of the current :func:`log_context` (a context variable, so it follows a
request into the thread that serves it and stays apart from other requests): the web binds
``request_id``; the worker binds ``job_id`` (and ``duty``) around each job it runs::

    with log_context(job_id=job.id, duty="robots.sweep"):
        log.info("started")      # {"msg": "started", "job_id": 42, "duty": "robots.sweep", ...}

``configure_logging()`` is called by ``dxhub serve`` (and handed to uvicorn for each of its processes)
and by every other ``dxhub`` command; ``DXHUB_LOG_FORMAT`` (``json``/``text``) and ``DXHUB_LOG_LEVEL``
choose the output.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

_context: ContextVar[dict[str, Any] | None] = ContextVar("dxhub_log_context", default=None)

# A request id a client may choose: what proxies and tracing systems send (uuids, hex, base64url).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def valid_request_id(value: str | None) -> str | None:
    """``value`` if it is safe to log and echo (short, plain characters), else None."""
    return value if value and _REQUEST_ID.fullmatch(value) else None


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every record logged inside the block (nested blocks add to the outer ones)."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> dict[str, Any]:
    return dict(_context.get() or {})


class ContextFilter(logging.Filter):
    """Copies the log context onto each record (for the text format's ``%(request_id)s`` and friends)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.context = _context.get() or {}
        return True


# Record attributes that are not extra fields (uvicorn's ``color_message`` repeats the message with colours).
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "context", "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, the log context, and ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "context", None) or _context.get() or {})
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = getattr(record, "context", None) or {}
        extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
        fields = {**context, **extra}
        return line + ("  " + " ".join(f"{k}={v}" for k, v in fields.items()) if fields else "")


def log_config(*, fmt: str = "json", level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the app, uvicorn's own loggers included (its access log is
    off: the app writes one line per request itself)."""
    formatter = ({"()": "app.core.logging.JsonFormatter"} if fmt == "json" else
                 {"()": "app.core.logging.TextFormatter", "format": "%(asctime)s %(levelname)s %(name)s: %(message)s"})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "app.core.logging.ContextFilter"}},
        "formatters": {"default": formatter},
        "handlers": {"default": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                 "formatter": "default", "filters": ["context"]}},
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
        },
    }


def configure_logging(settings: Any | None = None) -> dict[str, Any]:
    """Apply the settings' log format and level to this process; returns the config (for uvicorn)."""
    if settings is None:
        from app.core.config import get_settings

        settings = get_settings()
    config = log_config(fmt=settings.log_format, level=settings.log_level)
    logging.config.dictConfig(config)
    return config
