"""Logging: one JSON object per line (or plain text), every record of a request stamped
with its request id.

The id comes from the client's ``X-Request-ID`` (when it is a sane token) or is made
here; it is echoed in the response's ``X-Request-ID`` and travels with the request through
the worker threads (a context variable), so a user's report finds every line of its call.
"""

from __future__ import annotations

import contextvars
import itertools
import json
import logging
import os
import re
import sys
import time
from typing import Any

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_SANE = re.compile(rb"[A-Za-z0-9._:/+=-]{1,128}")
# LogRecord attributes that are not ours to print
_STANDARD = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "request_id",
    "color_message",
}
_SAID = {"method", "path", "status"}  # the access line's message already says these


# A fresh id is this process's random prefix and a counter (32 hex digits, unique without
# a uuid4 per request, which costs several microseconds of CPU)
_PREFIX = os.urandom(8).hex()
_COUNT = itertools.count(int.from_bytes(os.urandom(4)))


def new_request_id(header: bytes | None) -> str:
    """The client's id if it is a plain token of at most 128 characters, else a fresh one."""
    if header is not None and _SANE.fullmatch(header):
        return header.decode()
    return f"{_PREFIX}{next(_COUNT) & 0xFFFFFFFFFFFFFFFF:016x}"


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", "")
        if rid:
            out["request_id"] = rid
        out.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """One readable line: time, level, message, then the record's fields as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        clock = time.strftime("%H:%M:%S", time.localtime(record.created))
        fields = {k: v for k, v in vars(record).items() if k not in _STANDARD and k not in _SAID}
        rid = getattr(record, "request_id", "")
        if rid:
            fields["request_id"] = rid
        tail = "".join(f" {k}={v}" for k, v in fields.items() if v is not None)
        line = f"{clock} {record.levelname.lower():<7} {record.getMessage()}{tail}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def resolve_format(fmt: str, stream: Any = None) -> str:
    """``auto`` is ``text`` on a terminal (a person runs ``make serve``), ``json`` elsewhere."""
    if fmt != "auto":
        return fmt
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def configure(level: str, fmt: str) -> None:
    """The root handler for the service and uvicorn's loggers (on standard error)."""
    handler = logging.StreamHandler()
    handler.addFilter(_RequestId())
    if resolve_format(fmt, handler.stream) == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
