"""CallPool: the threads that run def extension functions."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from stack_runtime.pool import CallPool

who: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")


@pytest.fixture
def pool() -> Iterator[CallPool]:
    running = CallPool(max_workers=8)
    yield running
    running.shutdown(wait=False)


def quick(value: Any) -> Any:
    return {"value": value, "thread": threading.current_thread().name, "who": who.get()}


def test_runs_in_a_worker_thread_with_the_callers_context(pool: CallPool) -> None:
    async def main() -> Any:
        who.set("request-7")
        return await pool.run(quick, 42, 10)

    result = asyncio.run(main())
    assert result == {"value": 42, "thread": "extension_0", "who": "request-7"}


def test_what_the_function_raises_is_raised_even_system_exit(pool: CallPool) -> None:
    def fail(kind: type[BaseException]) -> None:
        raise kind("boom")

    async def main(kind: type[BaseException]) -> None:
        await pool.run(fail, kind, 10)

    with pytest.raises(ValueError, match="boom"):
        asyncio.run(main(ValueError))
    with pytest.raises(SystemExit):
        asyncio.run(main(SystemExit))
    assert asyncio.run(pool.run(quick, 1, 10))["value"] == 1  # still serving


def test_a_call_past_its_timeout_raises_timeout_error_and_the_pool_goes_on(
    pool: CallPool,
) -> None:
    release = threading.Event()

    def stuck(_: Any) -> str:
        release.wait(30)
        return "late"

    async def main() -> Any:
        with pytest.raises(TimeoutError):
            await pool.run(stuck, None, 0.2)
        return await pool.run(quick, "next", 10)

    try:
        assert asyncio.run(main())["value"] == "next"
    finally:
        release.set()


def test_quick_calls_share_one_thread(pool: CallPool) -> None:
    async def main() -> list[Any]:
        sequential = [await pool.run(quick, i, 10) for i in range(50)]
        concurrent = await asyncio.gather(*(pool.run(quick, i, 10) for i in range(50)))
        return sequential + list(concurrent)

    results = asyncio.run(main())
    assert [r["value"] for r in results] == list(range(50)) * 2
    assert pool.threads <= 2  # one, unless the machine stalled a call for a spawn check


def test_blocking_calls_get_a_thread_each(pool: CallPool) -> None:
    """Five calls that can only finish together: each must have a thread of its own."""
    barrier = threading.Barrier(5)

    def meet(index: int) -> int:
        barrier.wait(20)  # raises BrokenBarrierError unless all five run at once
        return index

    async def main() -> list[int]:
        return list(await asyncio.gather(*(pool.run(meet, i, 30) for i in range(5))))

    assert asyncio.run(main()) == [0, 1, 2, 3, 4]
    assert pool.threads >= 5
    assert pool.is_blocking(meet)  # waited on the barrier: the loop no longer waits for it


def test_threads_never_exceed_max_workers() -> None:
    pool = CallPool(max_workers=2, spawn_delay=0.01)
    gate = threading.Event()

    def wait(index: int) -> int:
        gate.wait(20)
        return index

    async def main() -> list[int]:
        calls = [asyncio.ensure_future(pool.run(wait, i, 30)) for i in range(6)]
        await asyncio.sleep(0.3)  # several spawn checks find no progress
        threads = pool.threads
        gate.set()
        done = list(await asyncio.gather(*calls))
        assert threads == 2
        return done

    try:
        assert asyncio.run(main()) == [0, 1, 2, 3, 4, 5]
    finally:
        pool.shutdown()


def test_a_function_seen_blocking_is_probed_again_later() -> None:
    pool = CallPool(max_workers=2, probe_every=3)
    calls = iter([True, False, False, False, False])

    def sometimes_sleeps(_: Any) -> str:
        if next(calls):
            time.sleep(0.05)
        return "ok"

    async def main() -> list[bool]:
        seen = []
        for _ in range(5):
            await pool.run(sometimes_sleeps, None, 10)
            seen.append(pool.is_blocking(sometimes_sleeps))
        return seen

    try:
        # Marked after the sleeping call, skipped for three calls, then forgotten.
        assert asyncio.run(main()) == [True, True, True, False, False]
    finally:
        pool.shutdown()


# -- quick functions run inline ---------------------------------------------------------


def test_a_quick_function_moves_to_the_loop_thread_in_a_copy_of_the_context() -> None:
    """1. the first inline_after calls run in a thread; 2. the next ones on the caller's
    thread, seeing the caller's context; 3. what the function sets there does not leak."""
    pool = CallPool(max_workers=2, inline_after=4)

    def tagged(value: Any) -> Any:
        seen = quick(value)
        who.set("changed by the function")
        return seen

    async def main() -> list[Any]:
        who.set("request-9")
        results = [await pool.run(tagged, 0, 10)]
        while not pool.runs_inline(tagged) and len(results) < 200:  # 4 quick calls in a row
            results.append(await pool.run(tagged, 0, 10))
        results += [await pool.run(tagged, 1, 10) for _ in range(3)]
        assert who.get() == "request-9"
        return results

    try:
        results = asyncio.run(main())
    finally:
        pool.shutdown()
    threads = [r["thread"] for r in results]
    assert len(threads) >= 4 + 3 and threads[:4] == ["extension_0"] * 4
    assert threads[-3:] == ["MainThread"] * 3
    assert {r["who"] for r in results} == {"request-9"}


def test_a_slow_inline_call_sends_the_function_back_and_three_keep_it_there() -> None:
    pool = CallPool(max_workers=2, inline_after=2, wait_budget=0.005, max_strikes=3)
    slow = {"now": False}

    def sometimes_slow(_: Any) -> str:
        if slow["now"]:
            time.sleep(0.02)
        return threading.current_thread().name

    async def earn_and_lose() -> None:
        slow["now"] = False
        while not pool.runs_inline(sometimes_slow):
            await pool.run(sometimes_slow, None, 10)
        slow["now"] = True
        assert await pool.run(sometimes_slow, None, 10) == "MainThread"  # ran inline, slowly
        assert not pool.runs_inline(sometimes_slow)

    async def main() -> None:
        for _ in range(3):
            await earn_and_lose()
        slow["now"] = False
        for _ in range(10):  # quick again, but struck out: it stays in the threads
            assert (await pool.run(sometimes_slow, None, 10)).startswith("extension_")
        assert not pool.runs_inline(sometimes_slow)

    try:
        asyncio.run(main())
    finally:
        pool.shutdown()


def test_a_function_that_blocks_never_moves_to_the_loop() -> None:
    pool = CallPool(max_workers=2, inline_after=2)

    def naps(_: Any) -> str:
        time.sleep(0.002)  # blocked, though well within the brief wait
        return threading.current_thread().name

    async def main() -> list[str]:
        return [await pool.run(naps, None, 10) for _ in range(10)]

    try:
        assert all(name.startswith("extension_") for name in asyncio.run(main()))
    finally:
        pool.shutdown()


def test_inline_calls_can_be_turned_off() -> None:
    pool = CallPool(max_workers=2, inline_after=None)

    async def main() -> list[Any]:
        return [await pool.run(quick, i, 10) for i in range(30)]

    try:
        assert {r["thread"] for r in asyncio.run(main())} == {"extension_0"}
    finally:
        pool.shutdown()


def test_an_inline_call_that_holds_the_loop_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = CallPool(max_workers=2, inline_after=1, stall_after=0.1)
    hold = {"seconds": 0.0}

    def holds_the_loop(_: Any) -> str:
        time.sleep(hold["seconds"])
        return "done"

    async def main() -> None:
        while not pool.runs_inline(holds_the_loop):
            await pool.run(holds_the_loop, None, 10)
        hold["seconds"] = 0.5
        await pool.run(holds_the_loop, None, 10)

    try:
        with caplog.at_level("ERROR", logger="stack_runtime"):
            asyncio.run(main())
    finally:
        pool.shutdown()
    lines = [r.getMessage() for r in caplog.records if "eventLoopBlocked" in r.getMessage()]
    assert len(lines) == 1
    assert "function=test_an_inline_call_that_holds_the_loop_is_logged_once.<locals>" in lines[0]


def test_submit_is_an_executor(pool: CallPool) -> None:
    future = pool.submit(lambda a, b=0: a + b, 40, b=2)
    assert future.result(10) == 42
    failing = pool.submit(int, "not a number")
    assert isinstance(failing.exception(10), ValueError)


def test_no_calls_after_shutdown() -> None:
    pool = CallPool(max_workers=1)
    assert asyncio.run(pool.run(quick, 1, 10))["value"] == 1
    pool.shutdown()
    with pytest.raises(RuntimeError):
        asyncio.run(pool.run(quick, 2, 10))
    with pytest.raises(RuntimeError):
        pool.submit(quick, 3)


def test_max_workers_must_be_positive() -> None:
    with pytest.raises(ValueError):
        CallPool(max_workers=0)


# -- stuck threads -----------------------------------------------------------------


def test_runs_calls_and_passes_errors_back() -> None:
    pool = CallPool(2)
    assert pool.submit(lambda x: x * 2, 21).result(5) == 42
    with pytest.raises(SystemExit):
        pool.submit(lambda: exit(3)).result(
            5
        )  # a BaseException comes back, it does not end a thread
    assert pool.submit(lambda: "still here").result(5) == "still here"
    pool.shutdown()


def test_a_stuck_thread_is_replaced_and_counted() -> None:
    """1. a pool of one thread; 2. a call that never returns holds it past stuck_after;
    3. the next call runs on a new thread; 4. the pool counts one stuck thread, exhausted."""
    release = threading.Event()
    pool = CallPool(1, stuck_after=0.0)
    pool.submit(release.wait)
    while pool.stuck < 1:
        time.sleep(0.001)
    assert pool.submit(lambda: "fresh thread").result(5) == "fresh thread"
    assert pool.size == 2 and pool.stuck == 1 and pool.exhausted
    release.set()


def test_never_more_than_twice_the_threads() -> None:
    release = threading.Event()
    pool = CallPool(1, stuck_after=0.0)
    futures = [pool.submit(release.wait)]
    while pool.stuck < 1:  # a thread is replaced once it is stuck, not before
        time.sleep(0.001)
    futures += [pool.submit(release.wait) for _ in range(4)]
    while pool.stuck < 2:
        time.sleep(0.001)
    assert pool.size == 2  # the rest wait in line
    release.set()
    assert all(f.result(5) for f in futures)


def test_threads_are_daemons() -> None:
    pool = CallPool(1)
    assert pool.submit(lambda: threading.current_thread().daemon).result(5) is True


def test_a_queued_call_that_was_cancelled_never_runs() -> None:
    release = threading.Event()
    ran = threading.Event()
    pool = CallPool(1)
    pool.submit(release.wait)
    queued = pool.submit(ran.set)
    assert queued.cancel()
    release.set()
    assert pool.submit(lambda: 1).result(5) == 1
    assert not ran.is_set()


def test_a_call_queued_while_a_thread_takes_its_own_still_gets_a_thread() -> None:
    """A thread takes its call from the queue before it counts itself busy; a call
    queued in that gap must get a thread of its own, not wait for the busy one."""
    pool = CallPool(max_workers=4)
    take = pool._queue.get

    class SlowTaker:
        """The pool's queue, with the gap after taking a call widened to 0.2 s."""

        put = pool._queue.put
        qsize = pool._queue.qsize

        def get(self) -> Any:
            item = take()
            time.sleep(0.2)
            return item

    pool._queue = SlowTaker()  # type: ignore[assignment]
    release = threading.Event()
    started: list[str] = []

    def held(name: str) -> str:
        started.append(name)
        release.wait(30)
        return name

    async def main() -> tuple[list[str], str, str]:
        first = asyncio.ensure_future(pool.run(held, "a", 30))
        await asyncio.sleep(0)  # "a" is queued and a thread is taking it
        second = asyncio.ensure_future(pool.run(held, "b", 30))
        deadline = time.monotonic() + 10
        while len(started) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        both = sorted(started)
        release.set()
        return both, await first, await second

    try:
        assert asyncio.run(main()) == (["a", "b"], "a", "b")
    finally:
        release.set()
        pool.shutdown(wait=False)
