"""Structured JSON logs, one object per line."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

import pydantic_core

_STANDARD = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


def _head(when: datetime, level: str, logger: str, msg: str) -> dict[str, Any]:
    """The first keys of every log line."""
    return {
        "ts": when.isoformat(timespec="milliseconds"),
        "level": level,
        "logger": logger,
        "msg": msg,
    }


class JsonFormatter(logging.Formatter):
    """Renders a record and its `extra` fields as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        out = _head(
            datetime.fromtimestamp(record.created, UTC),
            record.levelname.lower(),
            record.name,
            record.getMessage(),
        )
        for key, value in record.__dict__.items():
            if key not in _STANDARD:
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class RequestLog:
    """The per-request line, in JsonFormatter's shape but written straight to stdout.

    A LogRecord and a formatter pass cost more than everything else the middleware does;
    the logger still decides whether the line is written (its level and `disabled`).
    """

    def __init__(self, name: str) -> None:
        self.logger = logging.getLogger(name)
        self.name = name

    def emit(self, fields: dict[str, Any]) -> None:
        """Write one `request` line with `fields` if the logger is enabled for INFO."""
        if self.logger.disabled or not self.logger.isEnabledFor(logging.INFO):
            return
        line = {**_head(datetime.now(UTC), "info", self.name, "request"), **fields}
        sys.stdout.write(pydantic_core.to_json(line, fallback=str).decode() + "\n")


def configure_logging(level: str = "INFO") -> None:
    """Route every logger (ours and uvicorn's) to JSON on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
