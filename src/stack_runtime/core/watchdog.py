"""Seeing a blocked event loop: ``eventLoopBlocked`` in the log and in ``/metrics``.

An ``async def`` extension function runs on the event loop's thread; one that
calls blocking code (``time.sleep``, a blocking HTTP client, a long computation)
holds up every call on its worker until it yields. Nothing can interrupt it,
but it must not go unseen. :class:`LoopWatchdog` keeps a heartbeat on the loop
(a timer every quarter of the threshold) and a thread that watches it: when the
heartbeat is late by more than ``threshold`` seconds, the thread looks at what
the loop's thread is running (the outermost frame of extension code on its
stack, and the innermost Python frame) and, once the loop turns again, logs
one line per block with its length::

    logName=eventLoopBlocked, function=fetchOrders, seconds=0.52, at=.../hooks.py:12

and tells ``on_block`` (the worker counts it in ``/metrics``). A block still
going on after :data:`STILL_BLOCKED` seconds is logged then instead, with
``stillBlocked=true``, so that a loop stuck for good is seen before gunicorn
replaces the worker.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

from .logs import kv, logger

__all__ = ["DEFAULT_THRESHOLD", "STILL_BLOCKED", "LoopWatchdog", "running_function"]

#: Seconds without a turn of the event loop after which it counts as blocked.
DEFAULT_THRESHOLD = 0.1

#: Seconds after which a block that has not ended is logged (once) without waiting for its end.
STILL_BLOCKED = 10.0

_EXTENSIONS = "_stack_extensions_"
"""How the modules of extension code are named (``loader.py``)."""


def running_function(frame: FrameType | None) -> tuple[str, str]:
    """What a thread whose innermost frame is ``frame`` runs: the outermost function of
    extension code on its stack (``-`` when none), and the innermost frame's ``file:line``."""
    at = f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame is not None else "-"
    function = "-"
    while frame is not None:
        module = frame.f_globals.get("__name__")
        if isinstance(module, str) and module.startswith(_EXTENSIONS):
            function = frame.f_code.co_qualname
        frame = frame.f_back
    return function, at


class LoopWatchdog:
    """Logs ``eventLoopBlocked`` when an event loop does not turn for ``threshold`` seconds.

    :meth:`start` on the loop (in the worker process, after any fork);
    ``on_block(function, seconds)`` is called from the watchdog's thread once per block.
    """

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        on_block: Callable[[str, float], None] | None = None,
    ) -> None:
        if threshold <= 0:
            raise ValueError("threshold must be positive")
        self.threshold = threshold
        self.on_block = on_block
        self.interval = threshold / 4
        self._beat = 0.0
        """When the heartbeat last ran on the loop (``time.monotonic``)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._timer: asyncio.TimerHandle | None = None
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start watching the running loop."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._stopped.clear()
        self._heartbeat()
        self._thread = threading.Thread(target=self._watch, name="loop_watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (on the loop)."""
        self._stopped.set()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _heartbeat(self) -> None:
        self._beat = time.monotonic()
        assert self._loop is not None
        self._timer = self._loop.call_later(self.interval, self._heartbeat)

    def _watch(self) -> None:
        """The watchdog's thread: one line per block, when it ends (or is still on)."""
        interval, threshold = self.interval, self.threshold
        block: tuple[float, str, str] | None = None
        """The beat the loop is stuck after, and what it was running when first seen."""
        reported = False
        while not self._stopped.wait(interval):
            beat = self._beat
            late = time.monotonic() - beat - interval  # how long the loop has not turned
            if block is not None and beat != block[0]:  # the loop turned again
                if not reported:
                    self._report(block[1], block[2], beat - block[0] - interval)
                block, reported = None, False
            if late <= threshold or reported:
                continue
            if block is None or block[1] == "-":
                function, at = running_function(sys._current_frames().get(self._loop_thread))
                block = (beat, function, at)
            if late >= STILL_BLOCKED:
                self._report(block[1], block[2], late, still=True)
                reported = True

    def _report(self, function: str, at: str, seconds: float, still: bool = False) -> None:
        line = kv(logName="eventLoopBlocked", function=function, seconds=f"{seconds:.2f}", at=at)
        logger.error(line + (", stillBlocked=true" if still else ""))
        if self.on_block is not None:
            self.on_block(function, seconds)
