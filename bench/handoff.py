"""What handing a ``def`` call to a worker thread and back costs, part by part, in process.

The ``small`` and ``small-async`` workloads measure the hand-off on a real server
(the gap between them); this takes it apart, on one core, without HTTP:

- a direct call of the echo hook (what ``async def`` costs for the call itself);
- the whole hand-off the host makes (``CallPool.call(..., wait=True)``: the loop
  waits while the thread runs the call), one call at a time and 16 at a time;
- the hand-off when the loop does not wait (the result comes back through the
  pool's inbox, one ``call_soon_threadsafe`` per batch), 16 at a time;
- its parts: making the call (``_Call``, a copy of the context), queueing it and
  waking the thread (a lock, a deque, an eventfd write), and a round trip of two
  threads through eventfds (the two context switches every hand-off needs).

Run: ``.venv/bin/python -m bench.handoff [--calls N] [--core C]``. Microseconds
per call, the process's CPU time (wall time where the CPU time would hide a wait).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import uvloop

from stack_runtime.core.pool import CallPool, _Call

__all__ = ["main"]


def echo(options: Any) -> Any:
    """The ``small`` workload's hook, as the thread runs it."""
    return options


def _per_call(run: Callable[[int], None], calls: int) -> float:
    """CPU microseconds per call of ``run(calls)``."""
    run(min(calls // 10, 1000))  # warm up
    started = time.process_time()
    run(calls)
    return (time.process_time() - started) / calls * 1e6


def _direct(calls: int) -> None:
    for _ in range(calls):
        echo(1)


class _InPlace:
    """A stand-in for the pool that calls the hook in place: the harness alone."""

    def call(self, function: Any, argument: Any, done: Any, timeout: Any, wait: bool) -> Any:
        return True, function(argument)


def _pool_calls(pool: CallPool | _InPlace, calls: int, width: int, wait: bool) -> None:
    async def client(count: int) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(count):
            future: asyncio.Future[Any] = loop.create_future()
            now = pool.call(echo, 1, _setter(future), 10, wait=wait)
            if now is None:
                await future

    async def main() -> None:
        await asyncio.gather(*(client(calls // width) for _ in range(width)))

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


def _setter(future: asyncio.Future[Any]) -> Callable[[bool, Any], None]:
    return lambda ok, value: future.set_result(value)


def _make_calls(calls: int) -> None:
    for _ in range(calls):
        _Call(echo, 1, None, None)


def _queue_and_wake(calls: int) -> None:
    """Queue a call and wake a sleeping thread, as ``_put`` does, without the thread."""
    lock = threading.Lock()
    queue: list[Any] = []
    alarm = os.eventfd(0, os.EFD_NONBLOCK)
    one = (1).to_bytes(8, "little")
    try:
        for _ in range(calls):
            with lock:
                queue.append(1)
                queue.pop()
            os.write(alarm, one)
            if len(queue) > 1:  # as the pool's checks, never true here
                break
        os.read(alarm, 8)
    finally:
        os.close(alarm)


def _ping_pong(calls: int) -> None:
    """Two threads waking each other through eventfds: two context switches per call."""
    there, back = os.eventfd(0), os.eventfd(0)
    one = (1).to_bytes(8, "little")

    def other() -> None:
        for _ in range(calls):
            os.read(there, 8)
            os.write(back, one)

    thread = threading.Thread(target=other)
    thread.start()
    try:
        for _ in range(calls):
            os.write(there, one)
            os.read(back, 8)
    finally:
        thread.join()
        os.close(there)
        os.close(back)


def _yield(calls: int) -> None:
    for _ in range(calls):
        os.sched_yield()


def main(argv: list[str] | None = None) -> int:
    """Print the cost of each part, in CPU microseconds per call."""
    parser = argparse.ArgumentParser(prog="python -m bench.handoff", description=__doc__)
    parser.add_argument("--calls", type=int, default=20000, help="calls per measurement")
    parser.add_argument("--core", type=int, default=None, help="pin to this core (default: one)")
    args = parser.parse_args(argv)
    core = args.core if args.core is not None else min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    pool = CallPool(8)
    calls = args.calls
    rows = [
        ("direct call of the hook (no thread)", _per_call(_direct, calls)),
        (
            "the harness below, the hook called in place (subtract it)",
            _per_call(lambda n: _pool_calls(_InPlace(), n, 16, True), calls),
        ),
        (
            "hand-off as the host makes it, one call at a time",
            _per_call(lambda n: _pool_calls(pool, n, 1, True), calls),
        ),
        (
            "hand-off as the host makes it, 16 calls at a time",
            _per_call(lambda n: _pool_calls(pool, n, 16, True), calls),
        ),
        (
            "hand-off without the wait (inbox, batched), 16 at a time",
            _per_call(lambda n: _pool_calls(pool, n, 16, False), calls),
        ),
        ("  part: making the call (_Call, copy of the context)", _per_call(_make_calls, calls)),
        ("  part: queueing it and writing the eventfd", _per_call(_queue_and_wake, calls)),
        ("  part: sched_yield with nothing else to run", _per_call(_yield, calls)),
        ("  part: two threads waking each other (2 switches)", _per_call(_ping_pong, calls)),
    ]
    pool.shutdown()
    print(f"CPU microseconds per call, one core ({core}), {calls} calls each:")
    for name, cost in rows:
        print(f"  {name:<60} {cost:7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
