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

import asyncio
import contextvars
import logging
import mmap
import random
import re
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from .jsvalues import js_string

__all__ = [
    "logger",
    "request_id",
    "trace_id",
    "new_request_id",
    "kv",
    "kv_pairs",
    "log_info",
    "safe_url",
    "preview",
    "configure_logging",
    "KeptLines",
    "keep_lines_in",
    "StrictUtf8Records",
]

logger = logging.getLogger("stack_runtime")

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
trace_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_id", default=None)

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
_SUFFIXES = len(_PAIRS) ** 2
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")
_TOKEN_IN_QUERY = re.compile(r"(?i)(access_token=)[^&]*")


def new_request_id() -> str:
    """A fresh ``_reqId``: epoch milliseconds and four random base-36 characters.

    Like the reference's, the suffix only tells requests apart: it comes from
    :mod:`random` (reseeded in every forked worker), not from the OS's entropy.
    """
    suffix = int(random.random() * _SUFFIXES)
    return f"{int(time.time() * 1000)}{_PAIRS[suffix // 1296]}{_PAIRS[suffix % 1296]}"


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def _clean(value: Any) -> str:
    text = value if isinstance(value, str) else js_string(value)
    if text.isprintable():  # no control character: nothing to escape (the usual case)
        return text
    return _UNSAFE.sub(_escape, text)


def kv(**fields: Any) -> str:
    """``key=value, key=value``; ``None`` values are left out, control characters escaped."""
    return kv_pairs(fields.keys(), fields.values())


def python_kv_pairs(keys: Iterable[str], values: Iterable[Any]) -> str:
    """:func:`kv_pairs` in Python: every value, control characters escaped."""
    keys, values = tuple(keys), tuple(values)
    line = ", ".join(
        [
            f"{k}={v if type(v) is str else js_string(v)}"
            for k, v in zip(keys, values)  # noqa: B905 (same length by construction)
            if v is not None
        ]
    )
    if line.isprintable():  # no control character anywhere: nothing to escape (the usual case)
        return line
    return ", ".join([f"{k}={_clean(v)}" for k, v in zip(keys, values) if v is not None])  # noqa: B905


_c_kv_pairs: Callable[[tuple[str, ...], tuple[Any, ...]], str | None] | None
_c_info_line: Callable[[str, float], str | None] | None
_c_keep: Callable[[mmap.mmap, str], bool] | None
try:
    from ._lines import info_line as _c_info_line
    from ._lines import keep as _c_keep
    from ._lines import kv_pairs as _c_kv_pairs
except ImportError:  # built without a C compiler: Python builds every line
    _c_kv_pairs = _c_info_line = _c_keep = None

C_LINES = _c_kv_pairs is not None
"""True when the usual log lines are built, stamped and kept in C (``_lines.c`` was built)."""


def kv_pairs(keys: Iterable[str], values: Iterable[Any]) -> str:
    """:func:`kv` for keys and values side by side (the lines every request writes).

    Built in C when every value is a plain ``str``, an ``int`` or ``None``
    (``_lines.c``), else by :func:`python_kv_pairs`; the text is the same.
    """
    keys, values = tuple(keys), tuple(values)
    if _c_kv_pairs is not None:
        line = _c_kv_pairs(keys, values)
        if line is not None:
            return line
    return python_kv_pairs(keys, values)


def preview(value: Any, limit: int = 100) -> str:
    """The start of ``repr(value)``, at most ``limit`` characters (then ``...``), for a log line.

    Walks nested lists, tuples and dicts with a stack of its own, and stops as
    soon as it has ``limit`` characters: a value of any depth or size costs
    no more than that.
    """
    parts: list[str] = []
    size = 0
    pending: list[Any] = [value]
    while pending and size <= limit:
        item = pending.pop()
        if isinstance(item, _Text):
            text = item.text
        elif isinstance(item, (list, tuple)):
            opening, closing = ("[", "]") if isinstance(item, list) else ("(", ")")
            text = opening
            pending.append(_Text(closing))
            for index in range(min(len(item), limit) - 1, -1, -1):
                pending.append(item[index])
                if index:
                    pending.append(_SEPARATOR)
        elif isinstance(item, dict):
            text = "{"
            pending.append(_Text("}"))
            entries: list[tuple[Any, Any]] = []
            for key, entry in item.items():
                if len(entries) >= limit:
                    break
                entries.append((key, entry))
            for index in range(len(entries) - 1, -1, -1):
                key, entry = entries[index]
                pending += [entry, _COLON, key]
                if index:
                    pending.append(_SEPARATOR)
        elif isinstance(item, str):
            text = repr(item[: limit + 1])
        else:
            try:
                text = repr(item)[: limit + 1]
            except Exception as exc:  # a value whose repr fails still gets a line
                text = f"<{type(item).__name__}: repr failed with {type(exc).__name__}>"
        parts.append(text)
        size += len(text)
    line = "".join(parts)
    return line if size <= limit and not pending else line[:limit] + "..."


class _Text:
    """Text :func:`preview` writes as it is (brackets, separators), not as a value."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


_SEPARATOR = _Text(", ")
_COLON = _Text(": ")


def safe_url(path: str, query: str) -> str:
    """The request URL for the log, with any ``access_token`` in the query masked."""
    if not query:
        return path
    return path + "?" + _TOKEN_IN_QUERY.sub(r"\1***", query)


def log_info(line: str, *, later: bool = False, survive: bool = False) -> None:
    """Log ``line`` at info level: for the lines every request writes.

    When the logger is set up as :func:`configure_logging` leaves it, the line
    is written straight to its handler's stream, exactly as the handler would
    format it, without building a log record. Otherwise (other handlers or
    filters added) it goes through :mod:`logging` like any other line.

    ``later``: on an event loop, the line may wait until the loop's next turn
    or the next line written, whichever comes first, so the lines of calls
    finishing together reach the stream in one write. Nothing written after it
    overtakes it. ``survive``: wait only where a line kept is not lost if the
    process dies (a :class:`KeptLines` page, see :func:`keep_lines_in`);
    elsewhere the line is written at once.
    """
    if not logger.isEnabledFor(logging.INFO):
        return
    handlers = logger.handlers
    if len(handlers) == 1 and not logger.filters:
        handler = handlers[0]
        if (
            type(handler) is _LineHandler
            and handler.formatter is handler.line_formatter
            and handler.level <= logging.INFO
            and len(handler.filters) == 1
            and handler.filters[0] is handler.context_filter
        ):  # nothing but this module changed the handler's filters and format
            handler.write_info(line, later, survive)
            return
    logger.handle(logger.makeRecord(logger.name, logging.INFO, "", 0, line, (), None))


class KeptLines:
    """Log lines not written yet, in memory that outlives the process that keeps them.

    An anonymous shared page made by gunicorn's master before it forks a
    worker: the worker copies each line it keeps for a later write here, and
    clears the page once they are written. If the worker dies first (a function
    that calls ``os._exit``, a crash, a kill), the master writes what is left
    (:meth:`take`). A line that does not fit is not kept: it is written at once.
    The page is cleared after the lines are written, so a worker that dies in
    between has them written twice rather than not at all.
    """

    SIZE = 64 * 1024
    _LENGTH = struct.Struct("I")

    def __init__(self) -> None:
        self.page = mmap.mmap(-1, self.SIZE)

    @property
    def used(self) -> int:
        """Bytes kept."""
        return int(self._LENGTH.unpack_from(self.page, 0)[0])

    def put(self, text: str) -> bool:
        """Keep ``text`` (UTF-8) after the lines already kept; False when it does not fit
        (or has a lone surrogate: such a line is written at once)."""
        if _c_keep is not None:
            return _c_keep(self.page, text)
        try:
            data = text.encode()
        except UnicodeEncodeError:
            return False
        used = self.used
        start = self._LENGTH.size + used
        end = start + len(data)
        if end > self.SIZE:
            return False
        self.page[start:end] = data
        self._LENGTH.pack_into(self.page, 0, used + len(data))
        return True

    def clear(self) -> None:
        """The kept lines have been written."""
        self._LENGTH.pack_into(self.page, 0, 0)

    def take(self) -> bytes:
        """What the keeping process left unwritten (read by another process), now cleared."""
        start = self._LENGTH.size
        data = self.page[start : start + min(self.used, self.SIZE - start)]
        self.clear()
        return data

    def close(self) -> None:
        """Release the page."""
        self.page.close()


def keep_lines_in(kept: KeptLines | None) -> None:
    """Let this process's request lines wait in ``kept`` (``None``: write them at once).

    Only lines logged with ``survive`` need it: they are kept for a later write
    only while a page that outlives the process holds a copy.
    """
    for handler in logger.handlers:
        if isinstance(handler, _LineHandler):
            handler.kept = kept


class _LineFormatter(logging.Formatter):
    """``%(asctime)s %(levelname)s %(message)s``, formatting each second's date once."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(message)s")
        self.date: tuple[int, str] = (-1, "")
        """The last second formatted: (seconds since the epoch, its date and time)."""

    def date_of(self, created: float) -> tuple[int, str]:
        """(the second of ``created``, its date and time), remembered in :attr:`date`."""
        second = int(created)
        if self.date[0] != second:
            self.date = (second, time.strftime("%Y-%m-%d %H:%M:%S", self.converter(second)))
        return self.date

    def stamp(self, created: float) -> str:
        """``asctime`` for a record made at ``created`` (seconds since the epoch)."""
        second, date = self.date_of(created)
        return f"{date},{int((created - second) * 1000):03d}"

    def info_line(self, line: str, created: float) -> str:
        """``line`` as an info record made at ``created`` reads, with its newline."""
        if _c_info_line is not None and self.converter is time.localtime:
            text = _c_info_line(line, created)
            if text is not None:
                return text
        return f"{self.stamp(created)} INFO {line}\n"

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return self.stamp(record.created)


class _LineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler :func:`configure_logging` installs, with a direct path for info lines."""

    def __init__(self, stream: Any, formatter: _LineFormatter) -> None:
        super().__init__(stream)
        self.setFormatter(formatter)
        self.line_formatter = formatter
        self.context_filter = _ContextFilter()
        self.addFilter(self.context_filter)
        self._pending: list[str] = []
        self._flush_scheduled = False
        self._loop: tuple[asyncio.AbstractEventLoop, int] | None = None
        self.kept: KeptLines | None = None
        """Where kept lines are copied, so that they outlive this process (see :class:`KeptLines`)."""

    def write_info(self, line: str, later: bool = False, survive: bool = False) -> None:
        """Write ``line`` as an info record formatted by this handler would read.

        ``later``, ``survive``: keep it until the event loop's next turn or the
        next line (see :func:`log_info`).
        """
        text = self.line_formatter.info_line(line, time.time())
        with self.lock:  # type: ignore[union-attr]
            kept = self.kept
            if later and (kept is not None or not survive):
                loop = self._running_loop()
                if loop is not None and (kept is None or kept.put(text)):
                    self._pending.append(text)
                    if not self._flush_scheduled:
                        self._flush_scheduled = True
                        loop.call_soon(self._write_pending)
                    return
            text = self._take_pending() + text
            try:
                stream = self.stream
                stream.write(text)
                if hasattr(stream, "flush"):  # as logging's StreamHandler.flush checks
                    stream.flush()
            except Exception:  # as logging does: a broken stream never fails a request
                self.handleError(logging.makeLogRecord({"msg": line, "levelno": logging.INFO}))
            if kept is not None:
                kept.clear()

    def _running_loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop running in this thread, if any.

        Remembered from the last call: on Python 3.11, asking asyncio costs a
        ``getpid`` system call each time.
        """
        known = self._loop
        if known is not None and known[1] == threading.get_ident() and known[0].is_running():
            return known[0]
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        self._loop = (loop, threading.get_ident())
        return loop

    def _take_pending(self) -> str:
        """The lines kept by ``later``, now no longer kept (lock held)."""
        if not self._pending:
            return ""
        text = "".join(self._pending)
        self._pending.clear()
        return text

    def flush(self) -> None:
        """Write any kept lines, then flush the stream (at exit too: ``logging.shutdown``)."""
        with self.lock:  # type: ignore[union-attr]
            pending = self._take_pending()
            if pending:
                try:
                    self.stream.write(pending)
                except Exception:
                    self.handleError(
                        logging.makeLogRecord({"msg": pending, "levelno": logging.INFO})
                    )
            super().flush()
            if self.kept is not None:
                self.kept.clear()

    def _write_pending(self) -> None:
        """Write the lines kept by ``later`` (on the event loop's next turn)."""
        with self.lock:  # type: ignore[union-attr]
            self._flush_scheduled = False
            self.flush()

    def emit(self, record: logging.LogRecord) -> None:
        """Write any kept lines first, then ``record`` (``handle`` holds the lock)."""
        if self._pending:
            self.flush()
        super().emit(record)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.req_id = request_id.get() or "-"
        return True


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape_surrogate(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


class StrictUtf8Records(logging.Filter):
    """Escapes lone surrogates (``\\ud800``) in a record's message and traceback.

    An exception's text, or an envelope value read on Lambda, can hold a lone
    surrogate, which is not UTF-8. ``sys.stderr`` writes it escaped; a stream
    that encodes strictly (AWS's runtime client writes log records to such a
    ``sys.stdout`` and lets the error escape from the log call) fails instead.
    Added to the ``stack_runtime`` logger where records go to such a stream.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.isascii() and _LONE_SURROGATE.search(message):
            record.msg, record.args = _LONE_SURROGATE.sub(_escape_surrogate, message), ()
        if record.exc_info and record.exc_text is None:
            text = _TRACEBACKS.formatException(record.exc_info)
            record.exc_text = _LONE_SURROGATE.sub(_escape_surrogate, text)
        return True


_TRACEBACKS = logging.Formatter()


def configure_logging(level: str = "INFO") -> None:
    """Send ``stack_runtime`` records to stderr, one line each (tracebacks follow)."""
    handler = _LineHandler(sys.stderr, _LineFormatter())
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False
