"""The thread pool for def functions: stuck threads are replaced, and counted."""

from __future__ import annotations

import threading
import time

import pytest

from stack_runtime.pool import ExtensionPool


def test_runs_calls_and_passes_errors_back() -> None:
    pool = ExtensionPool(2)
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
    pool = ExtensionPool(1, stuck_after=0.0)
    pool.submit(release.wait)
    while pool.stuck < 1:
        time.sleep(0.001)
    assert pool.submit(lambda: "fresh thread").result(5) == "fresh thread"
    assert pool.size == 2 and pool.stuck == 1 and pool.exhausted
    release.set()


def test_never_more_than_twice_the_threads() -> None:
    release = threading.Event()
    pool = ExtensionPool(1, stuck_after=0.0)
    futures = [pool.submit(release.wait) for _ in range(5)]
    while pool.stuck < 2:
        time.sleep(0.001)
    assert pool.size == 2  # the rest wait in line
    release.set()
    assert all(f.result(5) for f in futures)


def test_threads_are_daemons() -> None:
    pool = ExtensionPool(1)
    assert pool.submit(lambda: threading.current_thread().daemon).result(5) is True


def test_a_queued_call_that_was_cancelled_never_runs() -> None:
    release = threading.Event()
    ran = threading.Event()
    pool = ExtensionPool(1)
    pool.submit(release.wait)
    queued = pool.submit(ran.set)
    assert queued.cancel()
    release.set()
    assert pool.submit(lambda: 1).result(5) == 1
    assert not ran.is_set()
