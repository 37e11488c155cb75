"""The threads that run ``def`` extension functions, with a cheap hand-off.

A ``def`` function may block, so it always runs in a worker thread, never on
the event loop's thread: the loop hands the call over and goes on serving
(after a wait of at most a few milliseconds while the thread computes, below).
``loop.run_in_executor`` on a ``ThreadPoolExecutor`` plus ``asyncio.wait_for``
costs several locks, two futures, a done-callback chain, a timer and a wake-up
of the loop per call, and the executor starts a new thread whenever a call
finds none idle: under load, quick calls end up spread over dozens of threads
that take turns at the GIL. :class:`CallPool` does this instead:

- **One queue, one wake-up per sleeping thread.** A call goes into a deque.
  A thread that finds the deque empty goes to sleep reading an eventfd of its
  own (a pipe where there is none), and a new call wakes one sleeping thread, if there is one, by writing
  to it; a busy thread takes the next call itself when it is done with the one
  it runs. The write and the read release the GIL before they wake or sleep:
  a thread woken while the loop still held the GIL (as a lock's release wakes
  it) would only wake to wait for the GIL, and every hand-off cost twice the
  context switches. Quick calls that arrive together run one after the other
  on one thread, without a wake-up between them.
- **The loop waits while the thread computes, never longer.** A ``def``
  function that computes holds the GIL: the event loop could not run meanwhile
  anyway. So the loop gives up the core (``sched_yield``, the GIL released):
  on one core the thread runs the call at once and the loop gets the core back
  when the thread sleeps again, three system calls and two context switches
  for the whole hand-off. When the call is not done by then (another core, a
  slow start), the loop waits for the call's result on a lock (the GIL
  released) for ``wait`` seconds (0.2 ms), and goes on with the result at once
  if it came: no wake-up of the loop, and the call's page is checked and sent
  while it is still in the processor's caches. Past those 0.2 ms the loop
  needs the GIL back to go on: it gets it as soon as the thread blocks (on
  I/O, a sleep, a lock) or finishes, and at the latest after Python's switch
  interval (``sys.getswitchinterval()``, 5 ms), and then serves other calls
  while this one goes on. No wait depends on what earlier calls of the
  function did: each call is treated alike.
- **Results come back in batches.** A finished call goes into the loop's inbox;
  the loop is woken (``call_soon_threadsafe``) only when the inbox was empty,
  and then hands every result in it to its callback in one turn. No future,
  task or timer is made per call (:meth:`CallPool.call`; :meth:`CallPool.run`
  wraps it in a future for code that wants to ``await``).
- **Time limits without a timer per call.** The calls in flight on a loop are
  in one set, and one timer, armed for the earliest deadline, answers the calls
  past their limit with :class:`TimeoutError` (their threads are left to
  finish; the results are dropped).
- **Threads start only when needed**: at once when there is none, later only
  when a call finds no sleeping thread and the busy ones make no progress for
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

Every call runs in a copy of the caller's context (``contextvars``). It is also
a :class:`concurrent.futures.Executor`, for code that wants ``submit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from .logs import kv, logger

__all__ = ["WAIT", "CallPool", "Done"]

WAIT = 0.0002
"""Seconds the loop waits on its own for a call it hands over (:meth:`CallPool.call`)."""

T = TypeVar("T")

Done = Callable[[bool, Any], None]
"""What :meth:`CallPool.call` calls on the loop: ``(True, result)`` or ``(False, exception)``."""


_WAKE = (1).to_bytes(8, "little")
"""What is written to a sleeping thread's eventfd (a count of 1; any byte for a pipe)."""


def _alarm() -> tuple[int, int]:
    """What a thread sleeps reading, and what wakes it when written to: one eventfd on
    Linux, a pipe elsewhere. Both calls release the GIL before they wake or sleep."""
    if hasattr(os, "eventfd"):
        fd = os.eventfd(0, os.EFD_CLOEXEC)
        return fd, fd
    return os.pipe()


_yield: Callable[[], object] = getattr(os, "sched_yield", lambda: time.sleep(0))
"""Give up the core, the GIL released (``time.sleep(0)`` where there is no ``sched_yield``)."""


class _Call:
    """One call on its way through the pool."""

    __slots__ = ("argument", "context", "deadline", "done", "function", "inbox", "ok", "value")

    def __init__(
        self, function: Callable[[Any], Any], argument: Any, inbox: _Inbox | None, done: Any
    ) -> None:
        self.function = function
        self.argument = argument
        self.context = contextvars.copy_context()
        self.inbox = inbox
        self.done = done
        """A :data:`Done` callback (on a loop), or a ``concurrent.futures.Future`` (``submit``)."""
        self.deadline = 0.0
        self.ok = True
        self.value: Any = None


class _Inbox:
    """One event loop's side of the pool: finished calls, calls in flight, the time limit."""

    __slots__ = (
        "awaited",
        "finished",
        "flight",
        "lock",
        "loop",
        "timer",
        "timer_at",
        "waiter",
        "woken",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.finished: deque[_Call] = deque()
        self.awaited: _Call | None = None
        """The call the loop is waiting for right now (:meth:`CallPool.call`), if any."""
        self.waiter = threading.Lock()
        """Released by the thread that finishes :attr:`awaited` while the loop waits on it."""
        self.waiter.acquire()
        self.lock = threading.Lock()
        """Settles whether :attr:`awaited` is handed back directly or through :meth:`post`."""
        self.woken = False
        """True while a :meth:`deliver` is scheduled on the loop and has not started yet."""
        self.flight: set[_Call] = set()
        """Calls with a time limit not yet answered."""
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0

    def post(self, call: _Call) -> None:
        """From a worker thread: ``call`` is finished; hand it to the loop waiting for it, or
        put it in the inbox and wake the loop unless it is awake."""
        if self.awaited is call:
            with self.lock:
                waiting = self.awaited is call
                if waiting:
                    self.awaited = None
            if waiting:
                self.waiter.release()
                return
        self.finished.append(call)
        if not self.woken:
            self.woken = True
            with contextlib.suppress(RuntimeError):  # the loop closed while the call ran
                self.loop.call_soon_threadsafe(self.deliver)

    def deliver(self) -> None:
        """On the loop: hand every finished call to its callback."""
        self.woken = False
        finished = self.finished
        flight = self.flight
        while finished:
            call = finished.popleft()
            if call.deadline:
                if call not in flight:  # answered with a timeout meanwhile: dropped
                    continue
                flight.discard(call)
            done, call.done = call.done, None
            try:
                call.context.run(done, call.ok, call.value)
            except Exception as exc:  # a callback's own error must not stop the others
                logger.error(kv(logName="callbackFailed"), exc_info=exc)

    def limit(self, call: _Call, timeout: float) -> None:
        """On the loop: answer ``call`` with :class:`TimeoutError` after ``timeout`` seconds."""
        loop = self.loop
        deadline = call.deadline = loop.time() + timeout
        self.flight.add(call)
        if self.timer is None or deadline < self.timer_at:
            if self.timer is not None:
                self.timer.cancel()
            self.timer_at = deadline
            self.timer = loop.call_at(deadline, self.expire)

    def expire(self) -> None:
        """On the loop, at the earliest deadline: answer the calls past theirs."""
        self.timer = None
        now = self.loop.time()
        late = [call for call in self.flight if call.deadline <= now]
        for call in late:
            self.flight.discard(call)
        if self.flight:
            self.timer_at = min(call.deadline for call in self.flight)
            self.timer = self.loop.call_at(self.timer_at, self.expire)
        for call in late:
            done, call.done = call.done, None
            try:
                # a copy: the thread still runs the function in the call's own context
                call.context.copy().run(done, False, TimeoutError())
            except Exception as exc:
                logger.error(kv(logName="callbackFailed"), exc_info=exc)


class CallPool(Executor):
    """Up to ``max_workers`` threads for ``def`` extension functions (see the module)."""

    def __init__(
        self,
        max_workers: int = 64,
        thread_name_prefix: str = "extension",
        *,
        spawn_delay: float = 0.02,
        stuck_after: float | None = None,
        wait: float = WAIT,
    ) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.max_workers = max_workers
        self.wait = wait
        self.spawn_delay = spawn_delay
        self.stuck_after = stuck_after
        self._started: dict[int, float] = {}
        """Thread ident -> when its current call started (absent while idle)."""
        self._prefix = thread_name_prefix
        self._queue: deque[_Call] = deque()
        self._sleepers: list[int] = []
        """The eventfds of the threads asleep for want of a call: a write to one wakes its
        thread (the GIL released first: the thread does not wake only to wait for it)."""
        self._lock = threading.Lock()
        self._completed = 0
        self._checking = False
        self._threads: list[threading.Thread] = []
        self._numbers = itertools.count()
        self._shutdown = False
        self._inbox: _Inbox | None = None
        """The inbox of the loop that called last (one loop per worker process)."""
        self._inboxes: dict[asyncio.AbstractEventLoop, _Inbox] = {}

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
        return sum(1 for started in list(self._started.values()) if now - started > limit)

    def _room(self) -> int:
        """How many more threads may start (lock held): stuck ones are not counted."""
        if len(self._threads) >= 2 * self.max_workers:
            return 0
        return max(self.max_workers - (len(self._threads) - self._count_stuck()), 0)

    # -- handing calls over ----------------------------------------------------------

    def _put(self, call: _Call, loop: asyncio.AbstractEventLoop | None) -> None:
        """Queue ``call``; wake a sleeping thread, or see that one starts if none frees up."""
        wake = None
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new calls after shutdown")
            self._queue.append(call)
            if self._sleepers:
                wake = self._sleepers.pop()
            elif self._room() > 0:
                if loop is None or not self._threads:
                    self._start_threads(1)
                elif not self._checking:
                    self._checking = True
                    loop.call_later(self.spawn_delay, self._check, loop, self._completed)
        if wake is not None:
            os.write(wake, _WAKE)

    def _check(self, loop: asyncio.AbstractEventLoop, completed: int) -> None:
        """On the loop, ``spawn_delay`` after a call found every thread busy."""
        with self._lock:
            waiting = len(self._queue) - len(self._sleepers)
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
            thread.start()

    # -- the worker threads ---------------------------------------------------------

    def _work(self) -> None:
        alarm = _alarm()  # this thread sleeps reading it
        try:
            self._serve_calls(*alarm)
        finally:
            for fd in set(alarm):
                os.close(fd)

    def _serve_calls(self, alarm: int, wake: int) -> None:
        lock = self._lock
        queue = self._queue
        sleepers = self._sleepers
        clock = time.perf_counter
        started_at = self._started
        me = threading.get_ident()
        while True:
            with lock:
                call = queue.popleft() if queue else None
                if call is None:
                    if self._shutdown:
                        return
                    sleepers.append(wake)
            if call is None:
                os.read(alarm, 8)
                continue
            done = call.done
            if call.inbox is None and not done.set_running_or_notify_cancel():
                continue  # submitted, then cancelled while it waited in line
            started_at[me] = clock()
            try:
                call.value = call.context.run(call.function, call.argument)
            except BaseException as exc:  # SystemExit too: the caller makes it a 422
                call.ok, call.value = False, exc
            del started_at[me]
            self._completed += 1
            inbox = call.inbox
            if inbox is not None:
                inbox.post(call)
            elif call.ok:
                done.set_result(call.value)
            else:
                done.set_exception(call.value)
            call = done = inbox = None  # a result must not outlive its call while this thread waits

    # -- the ways in ----------------------------------------------------------------

    def call(
        self,
        function: Callable[[Any], Any],
        argument: Any,
        done: Done,
        timeout: float | None,
        *,
        wait: bool = False,
    ) -> tuple[bool, Any] | None:
        """On an event loop: run ``function(argument)`` in a thread, in a copy of the context.

        ``done(True, result)`` or ``done(False, exception)`` is called on the
        loop, in the context the function ran in, when the function returns or
        raises; ``done(False, TimeoutError())`` after ``timeout`` seconds if it
        is still running then (its result is dropped). Raises
        :class:`RuntimeError` after :meth:`shutdown`.

        ``wait``: first wait for the call while its thread runs it (see the
        module), and if it finishes meanwhile return ``(True, result)`` or
        ``(False, exception)`` without calling ``done``; else return None.
        """
        loop = asyncio.get_running_loop()
        inbox = self._inbox
        if inbox is None or inbox.loop is not loop:
            inbox = self._inbox = self._inboxes.get(loop) or self._inbox_for(loop)
        call = _Call(function, argument, inbox, done)
        if wait:
            inbox.awaited = call
            try:
                self._put(call, loop)
            except RuntimeError:
                inbox.awaited = None
                raise
            # The GIL released and the core given up: on one core, the thread runs the
            # call now, and the loop gets the core back once the thread sleeps again.
            _yield()
            finished = inbox.awaited is not call
            if finished:
                inbox.waiter.acquire()  # released already: this only takes it back
            else:
                finished = inbox.waiter.acquire(True, self.wait)
            if not finished:
                with inbox.lock:
                    finished = inbox.awaited is not call  # its thread has just handed it back
                    inbox.awaited = None
                if finished:
                    inbox.waiter.acquire()
            if finished:
                call.done = None
                return call.ok, call.value
        else:
            self._put(call, loop)
        if timeout is not None:
            inbox.limit(call, timeout)
        return None

    def _inbox_for(self, loop: asyncio.AbstractEventLoop) -> _Inbox:
        for old in [old for old in self._inboxes if old.is_closed()]:
            del self._inboxes[old]
        inbox = self._inboxes[loop] = _Inbox(loop)
        return inbox

    async def run(self, function: Callable[[Any], T], argument: Any, timeout: float | None) -> T:
        """Run ``function(argument)`` in a worker thread (see :meth:`call`) and return its result.

        Raises :class:`TimeoutError` after ``timeout`` seconds (the thread is
        left to finish; its result is dropped) and whatever the function raised.
        """
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()

        def done(ok: bool, value: Any) -> None:
            if not future.done():
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

        self.call(function, argument, done, timeout)
        return await future

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """:meth:`concurrent.futures.Executor.submit`: run ``fn(*args, **kwargs)`` in a thread."""
        future: Future[T] = Future()
        self._put(_Call(lambda _: fn(*args, **kwargs), None, None, future), None)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the threads once the calls already queued are done (``wait``: until then).

        ``cancel_futures`` is accepted for the :class:`~concurrent.futures.Executor`
        interface; queued calls still run.
        """
        with self._lock:
            self._shutdown = True
            threads = list(self._threads)
            sleepers, self._sleepers[:] = list(self._sleepers), []
        for wake in sleepers:
            os.write(wake, _WAKE)
        if wait:
            for thread in threads:
                thread.join()
