"""CallPool: the threads that run def extension functions."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from stack_runtime.core.pool import CallPool

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


# -- the loop's brief wait ---------------------------------------------------------


def call_waiting(pool: CallPool, function: Any, argument: Any) -> tuple[Any, float, Any]:
    """``pool.call(..., wait=True)`` on a loop: what it returned, how long it took, and
    what ``done`` got (awaited when the call was not finished within the wait)."""

    async def main() -> tuple[Any, float, Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        started = time.perf_counter()
        now = pool.call(
            function, argument, lambda ok, value: future.set_result(value), 10, wait=True
        )
        took = time.perf_counter() - started
        later = await future if now is None else None
        return now, took, later

    return asyncio.run(main())


def test_a_quick_call_is_answered_within_the_wait_without_done(pool: CallPool) -> None:
    answers = [call_waiting(pool, quick, i) for i in range(20)]
    # a machine that stalls the thread past the wait makes a call go the other way
    finished = [now for now, _, _ in answers if now is not None]
    assert finished and all(ok and value["thread"] == "extension_0" for ok, value in finished)
    assert [now[1]["value"] if now else later["value"] for now, _, later in answers] == list(
        range(20)
    )


def test_the_loop_does_not_wait_for_a_thread_that_blocks(pool: CallPool) -> None:
    def sleeps(_: Any) -> str:
        time.sleep(0.5)
        return "slept"

    now, took, later = call_waiting(pool, sleeps, None)
    assert now is None and later == "slept"
    assert took < 0.25  # the wait is 0.2 ms; generous for a busy machine


def test_the_loop_waits_no_longer_than_the_switch_interval_for_a_thread_that_computes(
    pool: CallPool,
) -> None:
    def computes(_: Any) -> int:
        deadline = time.perf_counter() + 0.5
        spins = 0
        while time.perf_counter() < deadline:
            spins += 1
        return spins

    now, took, later = call_waiting(pool, computes, None)
    assert now is None and later > 0
    assert took < 0.25  # 5 ms of switch interval; generous for a busy machine


def test_threads_sleep_on_a_pipe_where_there_is_no_eventfd(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Other systems than Linux have no eventfd: a thread then sleeps reading a pipe."""
    monkeypatch.delattr("os.eventfd", raising=False)
    pool = CallPool(2)
    try:
        sequential = [call_waiting(pool, quick, i) for i in range(5)]
        values = [now[1]["value"] if now else later["value"] for now, _, later in sequential]
        assert values == list(range(5))
        assert pool.submit(lambda: "via a pipe").result(5) == "via a pipe"
    finally:
        pool.shutdown()
