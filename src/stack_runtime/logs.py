"""Log lines in the reference's ``key=value, key=value`` shape.

Each request gets a ``_reqId`` (milliseconds since the epoch plus four random
base-36 characters, as the reference makes them). The id and integrator.io's
``traceid`` live in context variables, so they follow a call into the worker
thread that runs a ``def`` function and show up in its log records.

Nothing here ever writes a token, a ``bearerToken`` or a connection's
``encrypted`` fields: the lines are built from a fixed list of id fields, and
URLs have their ``access_token`` masked.
"""

from __future__ import annotations

import contextvars
import logging
import re
import secrets
import sys
import time
from typing import Any

from .jsvalues import js_string

__all__ = [
    "logger",
    "request_id",
    "trace_id",
    "new_request_id",
    "kv",
    "safe_url",
    "configure_logging",
]

logger = logging.getLogger("stack_runtime")

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
trace_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_id", default=None)

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")
_TOKEN_IN_QUERY = re.compile(r"(?i)(access_token=)[^&]*")


def new_request_id() -> str:
    """A fresh ``_reqId``: epoch milliseconds and four random base-36 characters."""
    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(4))
    return f"{int(time.time() * 1000)}{suffix}"


def _clean(value: Any) -> str:
    text = value if isinstance(value, str) else js_string(value)
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def kv(**fields: Any) -> str:
    """``key=value, key=value``; ``None`` values are left out, control characters escaped."""
    return ", ".join(f"{k}={_clean(v)}" for k, v in fields.items() if v is not None)


def safe_url(path: str, query: str) -> str:
    """The request URL for the log, with any ``access_token`` in the query masked."""
    if not query:
        return path
    return path + "?" + _TOKEN_IN_QUERY.sub(r"\1***", query)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.req_id = request_id.get() or "-"
        return True


def configure_logging(level: str = "INFO") -> None:
    """Send ``stack_runtime`` records to stderr, one line each (tracebacks follow)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    handler.addFilter(_ContextFilter())
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False
