"""Log output for a person at a terminal (``stack-runtime dev`` and ``invoke``).

Lines are short (the time, the level when it is a warning or worse, the
message) and a traceback starts at the first frame of the extension's own code:
the host's frames above it (the dispatcher, the thread pool) are left out, and
the private module names extensions are imported under are shown as the
``diy.hooks`` a person wrote.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import traceback
from pathlib import Path
from types import TracebackType

__all__ = ["ReadableFormatter", "configure_readable_logging", "in_folder"]

_SYNTHETIC = re.compile(r"_stack_extensions_[0-9a-f]{12}\.(?:connectors\.c\d+_)?")

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def in_folder(filename: str, folder: Path) -> bool:
    """True when ``filename`` is inside ``folder``."""
    try:
        return Path(os.path.abspath(filename)).is_relative_to(folder)
    except ValueError:  # pragma: no cover - another drive on Windows
        return False


class ReadableFormatter(logging.Formatter):
    """``HH:MM:SS [LEVEL] message``, with tracebacks trimmed to the extension's frames."""

    def __init__(self, extensions_root: Path | None = None) -> None:
        super().__init__(datefmt="%H:%M:%S")
        self.root = extensions_root.resolve() if extensions_root is not None else None

    def format(self, record: logging.LogRecord) -> str:
        level = f"{record.levelname} " if record.levelno >= logging.WARNING else ""
        text = f"{self.formatTime(record, self.datefmt)} {level}{record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            text += "\n" + self.formatException(record.exc_info)
        return text

    def formatException(self, ei: ExcInfo | tuple[None, None, None]) -> str:
        """The traceback from the extension's first frame on (all of it when it has none)."""
        exc = ei[1]
        if exc is None:
            return ""
        summary = traceback.TracebackException.from_exception(exc)
        if self.root is not None:
            frames = list(summary.stack)
            if isinstance(exc, SyntaxError) and in_folder(exc.filename or "", self.root):
                frames = []  # the import machinery's frames; the error itself shows the line
            else:
                ours = (i for i, f in enumerate(frames) if in_folder(f.filename, self.root))
                frames = frames[next(ours, 0) :]
            summary.stack = traceback.StackSummary.from_list(frames)
        return _SYNTHETIC.sub("", "".join(summary.format()).rstrip("\n"))


def configure_readable_logging(
    level: str, extensions_root: Path | None = None, *, drop: logging.Filter | None = None
) -> None:
    """Send ``stack_runtime`` records to stderr through a :class:`ReadableFormatter`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ReadableFormatter(extensions_root))
    if drop is not None:
        handler.addFilter(drop)
    logger = logging.getLogger("stack_runtime")
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False
