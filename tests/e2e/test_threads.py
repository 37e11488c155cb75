"""def functions never hold up other calls, even on a single worker."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from ..conftest import FIXTURES
from .server import RunningServer, start

TOKEN = "thread-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("threads") / "server.log"
    running = start("serve", FIXTURES / "protocol", log, token=TOKEN, extra=["--workers", "1"])
    yield running
    running.stop()


def call(server: RunningServer, function: str, options: object) -> requests.Response:
    envelope = {"diy": True, "type": "hook", "function": function, "options": options}
    return requests.post(server.url + "/function", json=envelope, headers=HEADERS, timeout=60)


def test_quick_calls_are_answered_while_a_def_function_sleeps(one_worker: RunningServer) -> None:
    """1. A def function sleeps 5 s. 2. Meanwhile 20 quick calls go to the same worker.
    3. All of them are answered before the sleeper is."""
    quick_calls_answered_while_sleeping(one_worker, "sleepy")


def quick_calls_answered_while_sleeping(server: RunningServer, function: str) -> None:
    """``function`` sleeps 5 s; 20 quick calls meanwhile are all answered before it is."""
    slept: list[requests.Response] = []
    sleeper = threading.Thread(target=lambda: slept.append(call(server, function, {"seconds": 5})))
    sleeper.start()
    try:
        for i in range(20):
            response = call(server, "echo", {"i": i})
            assert response.status_code == 200 and response.json() == {"i": i}
        assert sleeper.is_alive() and not slept  # the quick calls did not wait for the sleeper
    finally:
        sleeper.join(60)
    assert slept[0].json() == {"slept": 5}


def test_many_sleeping_calls_at_once_are_all_answered(one_worker: RunningServer) -> None:
    """Eight sleeping calls at once on one worker: all answered, and the worker goes on.

    (That they run side by side, a thread each, is tested in tests/unit/test_pool.py.)
    """
    results: list[requests.Response] = []
    threads = [
        threading.Thread(target=lambda: results.append(call(one_worker, "sleepy", {"seconds": 1})))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [r.json() for r in results] == [{"slept": 1}] * 8
    names = {call(one_worker, "threadName", {}).json() for _ in range(10)}
    assert all(name.startswith("extension_") for name in names)


def test_a_quick_function_that_starts_blocking_is_logged_and_sent_back_to_threads(
    one_worker: RunningServer,
) -> None:
    """1. `napper` is quick 200 times: it now runs on the event loop. 2. It then sleeps 2 s
    there: the watchdog logs eventLoopBlocked, the call is still answered. 3. Its next long
    sleep runs in a thread again: quick calls are answered while it sleeps."""
    for _ in range(200):  # 16 quick calls in a row are enough; a busy machine may slow some
        assert call(one_worker, "napper", {"seconds": 0}).json() == {"slept": 0}
    # The watchdog looks every 0.5 s and reports a call held for 1 s: 2 s is surely seen.
    assert call(one_worker, "napper", {"seconds": 2}).json() == {"slept": 2}
    assert "logName=eventLoopBlocked, function=napper" in one_worker.output()
    quick_calls_answered_while_sleeping(one_worker, "napper")


def test_with_no_inline_calls_every_def_call_runs_in_a_thread(tmp_path: Path) -> None:
    server = start(
        "serve",
        FIXTURES / "protocol",
        tmp_path / "server.log",
        token=TOKEN,
        extra=["--workers", "1", "--no-inline-calls"],
    )
    try:
        names = [call(server, "threadName", {}).json() for _ in range(40)]
    finally:
        server.stop()
    assert all(name.startswith("extension_") for name in names)
