"""The threads that run ``def`` extension functions, with a cheap hand-off.

A ``def`` function may block, so it runs in a worker thread until it has shown
that it does not (below). ``loop.run_in_executor`` on a ``ThreadPoolExecutor`` plus
``asyncio.wait_for`` costs several locks, two futures, a done-callback chain,
a waiter and a trip round the event loop per call, and the executor starts a
new thread whenever a call finds none idle: under load, quick calls end up
spread over dozens of threads that take turns at the GIL. That hand-off cost
more than the whole call on a page of ten records. :class:`CallPool` does this:

- **A quick call is waited for, briefly.** While a function computes, it holds
  the GIL and the event loop could not run anyway, so the loop waits for it
  (on a lock, the GIL released) for up to ``wait_budget`` seconds and goes on
  with the result: no future, no wake-up of the loop, no thread switching at
  the GIL's pace. A call still running after the budget (or a function seen
  blocking, below) is awaited like any other: the loop serves other requests
  meanwhile and the result comes back with one ``call_soon_threadsafe``.
- **A function that is always quick runs inline.** Once a function's last
  ``inline_after`` calls each finished within ``wait_budget`` without blocking,
  the loop calls it directly: the same wait, without the two thread switches a
  hand-off costs on a busy core (more than the whole call on a small page). An
  inline call that takes longer than the budget sends the function back to the
  threads to earn its place again; after ``max_strikes`` such calls (one is
  forgotten after every thousand quick ones: a machine can pause any call) it
  stays there. While an inline call runs past ``stall_after`` seconds, a watchdog
  thread logs ``eventLoopBlocked`` once with the function's name.
- **Functions that block are not waited for.** Each call's wall time is
  compared with the CPU time its thread used; a function that spent time
  blocked (I/O, ``sleep``, a lock) is awaited without the brief wait for its
  next ``probe_every`` calls, so I/O-bound hooks never hold up the loop.
- **Threads start only when needed**: at once when there is none, later only
  when a call finds no idle thread and the busy ones make no progress for
  ``spawn_delay`` seconds (they are blocked). Quick functions keep sharing one
  thread; blocking ones get one each, up to ``max_workers``.
- **A stuck thread does not count.** A thread that has been running one call for
  longer than ``stuck_after`` seconds (the call limit) has already had its call
  answered with ``function_timeout``, and Python cannot stop it, so a fresh thread
  takes its place (at most ``2 * max_workers`` threads in all): a function that
  never returns cannot starve the others. :attr:`CallPool.exhausted` tells the
  worker when as many threads are stuck as ``max_workers``, so it can retire and be
  replaced by a fresh process. Threads are daemons: a stuck one never keeps a
  draining worker from exiting.

It is also a :class:`concurrent.futures.Executor`, for code that wants ``submit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from .logs import kv, logger

__all__ = ["CallPool", "INLINE_AFTER"]

T = TypeVar("T")

INLINE_AFTER = 16
"""Quick calls in a row after which a function runs on the event loop's thread."""

_FORGIVE_AFTER = 1000
"""Quick inline calls in a row after which one past strike is forgotten."""

_BLOCKED = 0.001
"""Seconds of a call's wall time not spent on its thread's CPU that mark it as blocking."""


class _Call:
    """One call on its way through the pool."""

    __slots__ = (
        "argument",
        "context",
        "done",
        "finished",
        "function",
        "future",
        "loop",
        "ok",
        "value",
        "waiting",
    )

    def __init__(self, function: Callable[[Any], Any], argument: Any, loop: Any) -> None:
        self.function = function
        self.argument = argument
        self.context = contextvars.copy_context()
        self.loop = loop
        self.future: Any = None
        self.done: Any = None
        self.waiting = False
        self.finished = False
        self.ok = True
        self.value: Any = None

    def outcome(self) -> Any:
        if self.ok:
            return self.value
        raise self.value


def _deliver(call: _Call) -> None:
    future = call.future
    if future.done():  # timed out or cancelled meanwhile: the result is dropped
        return
    if call.ok:
        future.set_result(call.value)
    else:
        future.set_exception(call.value)


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


class CallPool(Executor):
    """Up to ``max_workers`` threads for ``def`` extension functions (see the module)."""

    def __init__(
        self,
        max_workers: int = 64,
        thread_name_prefix: str = "extension",
        *,
        wait_budget: float = 0.005,
        probe_every: int = 100,
        spawn_delay: float = 0.02,
        stuck_after: float | None = None,
        inline_after: int | None = INLINE_AFTER,
        max_strikes: int = 3,
        stall_after: float = 1.0,
    ) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.max_workers = max_workers
        self.wait_budget = wait_budget
        self.probe_every = probe_every
        self.spawn_delay = spawn_delay
        self.stuck_after = stuck_after
        self.inline_after = inline_after
        self.max_strikes = max_strikes
        self.stall_after = stall_after
        self._streaks: dict[Any, int] = {}
        """Functions and how many of their last calls in a row were quick."""
        self._strikes: dict[Any, int] = {}
        """Functions and how many of their inline calls took longer than the budget."""
        self._inline_call: tuple[Any, float] | None = None
        """The function running inline now and when it started (read by the watchdog)."""
        self._watchdog: threading.Thread | None = None
        self._started: dict[int, float] = {}
        """Thread ident -> when its current call started (absent while idle)."""
        self._prefix = thread_name_prefix
        self._queue: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._queued = 0
        """Calls put in the queue and not yet taken by a thread (lock held to change it).

        Not ``qsize()``: a thread takes its call from the queue before it can take
        the lock to count itself busy, so in between the queue's size and
        ``_idle`` would both say there is an idle thread for the next call."""
        self._completed = 0
        self._checking = False
        self._threads: list[threading.Thread] = []
        self._numbers = itertools.count()
        self._shutdown = False
        self._blocking: dict[Any, int] = {}
        """Functions seen blocking, and how many more calls skip the brief wait."""

    @property
    def threads(self) -> int:
        """How many worker threads have been started."""
        return len(self._threads)

    size = threads

    @property
    def stuck(self) -> int:
        """Threads running one call for longer than ``stuck_after`` seconds."""
        with self._lock:
            return self._count_stuck()

    @property
    def exhausted(self) -> bool:
        """True once as many threads are stuck as ``max_workers``: time for the worker to retire."""
        return self.stuck >= self.max_workers

    def _count_stuck(self) -> int:
        """Stuck threads (lock held)."""
        limit = self.stuck_after
        if limit is None or not self._started:
            return 0
        now = time.perf_counter()
        return sum(1 for started in self._started.values() if now - started > limit)

    def _room(self) -> int:
        """How many more threads may start (lock held): stuck ones are not counted."""
        if len(self._threads) >= 2 * self.max_workers:
            return 0
        return max(self.max_workers - (len(self._threads) - self._count_stuck()), 0)

    def runs_inline(self, function: Callable[..., Any]) -> bool:
        """True while calls of ``function`` run on the event loop's thread (it is always quick)."""
        return self.inline_after is not None and self._streaks.get(function, 0) >= self.inline_after

    def is_blocking(self, function: Callable[..., Any]) -> bool:
        """True while ``function`` is awaited without the brief wait (it was seen blocking)."""
        return function in self._blocking

    # -- handing calls over ----------------------------------------------------------

    def _put(self, call: _Call) -> bool:
        """Queue ``call``; True when an idle thread takes it right away."""
        loop = call.loop
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new calls after shutdown")
            self._queue.put(call)
            self._queued += 1
            waiting = self._queued - self._idle
            if waiting <= 0:
                return True
            if self._room() <= 0:
                return False
            if loop is None or not self._threads:
                self._start_threads(1)
                return True
            if self._checking:
                return False
            self._checking = True
            completed = self._completed
        loop.call_later(self.spawn_delay, self._check, loop, completed)
        return False

    def _check(self, loop: asyncio.AbstractEventLoop, completed: int) -> None:
        """On the loop, ``spawn_delay`` after a call found every thread busy."""
        with self._lock:
            waiting = self._queued - self._idle
            room = self._room()
            if waiting <= 0 or room <= 0 or self._shutdown:
                self._checking = False
                return
            if self._completed == completed:  # no progress: the busy threads are blocked
                self._checking = False
                self._start_threads(min(waiting, room))
                return
            completed = self._completed
        loop.call_later(self.spawn_delay, self._check, loop, completed)

    def _start_threads(self, count: int) -> None:
        """Start ``count`` worker threads (lock held)."""
        for _ in range(count):
            thread = threading.Thread(
                target=self._work, name=f"{self._prefix}_{next(self._numbers)}", daemon=True
            )
            self._threads.append(thread)
            self._idle += 1
            thread.start()

    # -- the worker threads ---------------------------------------------------------

    def _work(self) -> None:
        get = self._queue.get
        lock = self._lock
        clock = time.perf_counter
        cpu = time.thread_time
        started_at = self._started
        me = threading.get_ident()
        while True:
            # The thread's CPU clock, read before it waits for a call (it uses no CPU
            # while it waits): read after the call arrives, it would cost the hand-off
            # a few microseconds more on one core.
            used = cpu()
            call = get()
            with lock:
                self._idle -= 1
                if call is not None:
                    self._queued -= 1
            if call is None:
                return
            if call.loop is None and not call.future.set_running_or_notify_cancel():
                with lock:  # submitted, then cancelled while it waited in line
                    self._idle += 1
                call = None
                continue
            started = clock()
            started_at[me] = started
            try:
                call.value = call.context.run(call.function, call.argument)
            except BaseException as exc:  # SystemExit too: the caller makes it a 422
                call.ok, call.value = False, exc
            # Blocked time is at most the wall time: a quick call needs no second
            # reading of the thread's CPU clock (a system call, dearer than it looks
            # while the event loop waits for this thread).
            wall = clock() - started
            blocked = wall > _BLOCKED and wall - (cpu() - used) > _BLOCKED
            with lock:
                del started_at[me]
                call.finished = True
                waiting = call.waiting
                self._completed += 1
                self._idle += 1
                if blocked:
                    self._blocking[call.function] = self.probe_every
                if call.loop is not None:
                    self._note(call.function, quick=not blocked and wall <= self.wait_budget)
            if waiting:
                call.done.release()
            elif call.loop is not None:
                with contextlib.suppress(RuntimeError):  # the loop closed while the call ran
                    call.loop.call_soon_threadsafe(_deliver, call)
            elif call.ok:
                call.future.set_result(call.value)
            else:
                call.future.set_exception(call.value)
            call = None  # a result must not outlive its call while this thread waits

    # -- inline calls ---------------------------------------------------------------

    def _note(self, function: Any, *, quick: bool) -> None:
        """Count a threaded call of ``function`` towards (or against) running it inline."""
        if quick:
            if self._strikes.get(function, 0) < self.max_strikes:
                self._streaks[function] = self._streaks.get(function, 0) + 1
        elif function in self._streaks:
            del self._streaks[function]

    def call_inline(self, function: Callable[[Any], T], argument: Any) -> T:
        """Call ``function`` on this (the event loop's) thread, in a copy of the context.

        For a function that :meth:`runs_inline`; :meth:`run` does this itself.
        """
        if self._shutdown:
            raise RuntimeError("cannot schedule new calls after shutdown")
        if self._watchdog is None:
            self._start_watchdog()
        clock = time.perf_counter
        started = clock()
        self._inline_call = (function, started)
        try:
            return contextvars.copy_context().run(function, argument)
        finally:
            self._inline_call = None
            streaks = self._streaks
            if clock() - started > self.wait_budget:  # too slow to stay on the loop
                streaks.pop(function, None)
                self._strikes[function] = self._strikes.get(function, 0) + 1
            else:
                streak = streaks[function] = streaks.get(function, 0) + 1
                if streak % _FORGIVE_AFTER == 0 and function in self._strikes:
                    self._strikes[function] -= 1  # a strike long ago: a pause, not the function

    def _start_watchdog(self) -> None:
        with self._lock:
            if self._watchdog is None:
                self._watchdog = threading.Thread(
                    target=self._watch, name=f"{self._prefix}_watchdog", daemon=True
                )
                self._watchdog.start()

    def _watch(self) -> None:
        """Log once per stall when an inline call holds the event loop for too long."""
        reported: tuple[Any, float] | None = None
        while not self._shutdown:
            time.sleep(self.stall_after / 2)
            current = self._inline_call
            if current is None or current is reported:
                continue
            function, started = current
            seconds = time.perf_counter() - started
            if seconds >= self.stall_after:
                reported = current
                name = getattr(function, "__qualname__", None) or repr(function)
                logger.error(
                    kv(logName="eventLoopBlocked", function=name, seconds=f"{seconds:.1f}")
                )

    # -- the two ways in ------------------------------------------------------------

    async def run(self, function: Callable[[Any], T], argument: Any, timeout: float | None) -> T:
        """Run ``function(argument)`` in a copy of the current context and return its result.

        It runs in a worker thread, or on this thread when it has been quick
        (:meth:`runs_inline`). Raises :class:`TimeoutError` after ``timeout`` seconds (the thread is left
        to finish; its result is dropped) and whatever the function raised.
        """
        if self.runs_inline(function):
            return self.call_inline(function, argument)
        loop = asyncio.get_running_loop()
        call = _Call(function, argument, loop)
        budget = self.wait_budget
        if timeout is not None:
            budget = min(budget, timeout)
        skip = self._blocking.get(function)
        if skip is not None:
            budget = 0.0
            if skip <= 1:
                self._blocking.pop(function, None)  # probe it again next time
            else:
                self._blocking[function] = skip - 1
        if budget > 0:
            call.done = threading.Lock()
            call.done.acquire()
            call.waiting = True
        if self._put(call) and budget > 0:
            if call.done.acquire(True, budget):
                return call.outcome()  # type: ignore[no-any-return]
            if timeout is not None:
                timeout = max(timeout - budget, 0.0)
        with self._lock:
            call.waiting = False
            if not call.finished:
                call.future = loop.create_future()
        if call.future is None:  # it finished just as the brief wait ended
            return call.outcome()  # type: ignore[no-any-return]
        if timeout is None:
            return await call.future  # type: ignore[no-any-return]
        timer = loop.call_later(timeout, _expire, call.future)
        try:
            return await call.future  # type: ignore[no-any-return]
        finally:
            timer.cancel()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """:meth:`concurrent.futures.Executor.submit`: run ``fn(*args, **kwargs)`` in a thread."""
        call = _Call(lambda _: fn(*args, **kwargs), None, None)
        future: Future[T] = Future()
        call.future = future
        self._put(call)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the threads once the calls already queued are done (``wait``: until then).

        ``cancel_futures`` is accepted for the :class:`~concurrent.futures.Executor`
        interface; queued calls still run.
        """
        with self._lock:
            self._shutdown = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(None)
        if wait:
            for thread in threads:
                thread.join()
