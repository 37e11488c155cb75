"""The thread pool that runs ``def`` extension functions, sized on purpose.

Each ``def`` call in progress holds one thread; ``threads`` is how many such
calls one worker process runs at once (more wait in line, in order). Unlike
:class:`concurrent.futures.ThreadPoolExecutor`, this pool

- does not count a thread that has been running one call for longer than
  ``stuck_after`` seconds (the call limit): that call has already been answered
  with ``function_timeout``, and Python cannot stop the thread, so a fresh one
  takes its place and a function that never returns cannot starve the others;
- reports how many threads are stuck, so the worker can retire itself (finish
  its other calls, exit, be replaced by a fresh process) before stuck threads
  pile up: see :attr:`exhausted`;
- uses daemon threads, so a stuck thread never keeps a draining worker from
  exiting.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from queue import SimpleQueue
from typing import Any, ParamSpec, TypeVar

__all__ = ["ExtensionPool"]

P = ParamSpec("P")
T = TypeVar("T")

_Item = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class _Slot:
    """One thread and when it started the call it is running (``None`` while idle)."""

    __slots__ = ("started", "thread")

    def __init__(self) -> None:
        self.started: float | None = None
        self.thread: threading.Thread | None = None


class ExtensionPool(Executor):
    """Daemon threads for ``def`` functions: ``threads`` calls at once, stuck ones replaced.

    ``stuck_after`` is the call limit in seconds (``None``: never stuck). At
    most ``2 * threads`` threads exist at once; past that, calls wait in line
    until a thread is free.
    """

    def __init__(
        self, threads: int, *, stuck_after: float | None = None, name: str = "extension"
    ) -> None:
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self.threads = threads
        self.stuck_after = stuck_after
        self._name = name
        self._queue: SimpleQueue[_Item | None] = SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._slots: list[_Slot] = []
        self._numbers = itertools.count(1)
        self._shutdown = False

    # -- Executor -------------------------------------------------------------------

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Queue ``fn(*args, **kwargs)``; a free thread (or a new one) runs it."""
        if self._shutdown:
            raise RuntimeError("cannot submit to a pool that was shut down")
        future: Future[T] = Future()
        self._queue.put((future, fn, args, kwargs))
        if not self._idle.acquire(blocking=False):
            self._grow()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking calls; threads end after the calls already queued."""
        with self._lock:
            self._shutdown = True
            slots = list(self._slots)
        if cancel_futures:
            while not self._queue.empty():
                item = self._queue.get_nowait()
                if item is not None:
                    item[0].cancel()
        for _ in slots:
            self._queue.put(None)
        if wait:
            for slot in slots:
                if slot.thread is not None and slot.started is None:
                    slot.thread.join(timeout=1)

    # -- state ----------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Threads alive now, stuck ones included."""
        with self._lock:
            return len(self._slots)

    @property
    def stuck(self) -> int:
        """Threads running one call for longer than ``stuck_after`` seconds."""
        with self._lock:
            return self._count_stuck(time.monotonic())

    @property
    def exhausted(self) -> bool:
        """True once as many threads are stuck as the pool's size: time to retire."""
        return self.stuck >= self.threads

    def _count_stuck(self, now: float) -> int:
        limit = self.stuck_after
        if limit is None:
            return 0
        return sum(1 for s in self._slots if s.started is not None and now - s.started > limit)

    # -- threads --------------------------------------------------------------------

    def _grow(self) -> None:
        with self._lock:
            working = len(self._slots) - self._count_stuck(time.monotonic())
            if working >= self.threads or len(self._slots) >= 2 * self.threads:
                return
            slot = _Slot()
            thread = threading.Thread(
                target=self._work,
                args=(slot,),
                name=f"{self._name}-{next(self._numbers)}",
                daemon=True,
            )
            slot.thread = thread
            self._slots.append(slot)
        thread.start()

    def _work(self, slot: _Slot) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                future, fn, args, kwargs = item
                if future.set_running_or_notify_cancel():
                    slot.started = time.monotonic()
                    try:
                        result = fn(*args, **kwargs)
                    except BaseException as exc:
                        future.set_exception(exc)
                    else:
                        future.set_result(result)
                    finally:
                        slot.started = None
                        del item, future
                self._idle.release()
        finally:
            with self._lock:
                self._slots.remove(slot)
