"""A ``def`` function that blocks now and then must cost only its own calls.

One worker serves two clients at once: one calls ``sometimesBlocks`` back to
back (quick, but one call every 1.5 s sleeps 0.5 s, as a hook that refreshes a
cache with a blocking API call), the other calls the quick ``echo`` every 5 ms
and times each answer. With ``def`` functions in worker threads, the quick
calls never wait for the sleeping one: their p99 and maximum stay far below
the 0.5 s sleep. Run on its own (it starts ``stack-runtime serve --workers 1``
on ``bench/extensions``)::

    .venv/bin/python -m bench.stalls [--seconds 12]

``python -m bench`` runs it too, after the workloads; ``tests/e2e/test_threads.py``
checks its figures against generous limits.
"""

from __future__ import annotations

import argparse
import http.client
import json
import secrets
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Stalls", "main", "measure"]

#: How often the quick function is called, in seconds.
EVERY = 0.005


@dataclass(frozen=True)
class Stalls:
    """What the quick calls saw while the other function blocked now and then."""

    quick_calls: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    over_250_ms: int
    blocking_calls: int
    blocks: int
    """Calls of the blocking function that did block (slept)."""
    wrong: int
    """Answers that were not a 200 with the expected body (either client)."""

    def lines(self) -> list[str]:
        """The figures, to print."""
        return [
            f"quick calls every {EVERY * 1000:.0f} ms beside a def function that blocks "
            f"0.5 s every 1.5 s, one worker: {self.quick_calls} calls, "
            f"p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, max {self.max_ms:.1f} ms, "
            f"{self.over_250_ms} over 250 ms",
            f"the blocking function: {self.blocking_calls} calls, {self.blocks} of them blocked; "
            f"wrong answers: {self.wrong}",
        ]


def _envelope(function: str, options: dict[str, object]) -> bytes:
    return json.dumps(
        {"diy": True, "type": "hook", "function": function, "options": options}
    ).encode()


class _Client:
    """One keep-alive connection that posts envelopes to ``/function``."""

    def __init__(self, port: int, token: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

    def post(self, body: bytes) -> tuple[int, bytes]:
        self.connection.request("POST", "/function", body, self.headers)
        response = self.connection.getresponse()
        return response.status, response.read()


def measure(port: int, token: str, seconds: float = 12.0) -> Stalls:
    """Run both clients against the host on ``port`` for ``seconds``; the quick calls' figures."""
    stop = threading.Event()
    counts = {"calls": 0, "blocks": 0, "wrong": 0}

    def blocking_client() -> None:
        client = _Client(port, token)
        body = _envelope("sometimesBlocks", {"every": 1.5, "seconds": 0.5})
        while not stop.is_set():
            status, answer = client.post(body)
            counts["calls"] += 1
            if status != 200 or answer not in (b'{"blocked":false}', b'{"blocked":true}'):
                counts["wrong"] += 1
            elif answer == b'{"blocked":true}':
                counts["blocks"] += 1

    blocker = threading.Thread(target=blocking_client, daemon=True)
    blocker.start()
    client = _Client(port, token)
    body = _envelope("echo", {"data": [{"id": 1}]})
    times: list[float] = []
    deadline = time.monotonic() + seconds
    due = time.monotonic()
    try:
        while due < deadline:
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            started = time.perf_counter()
            status, answer = client.post(body)
            times.append(time.perf_counter() - started)
            if status != 200 or answer != b'[{"id":1}]':
                counts["wrong"] += 1
            due = max(due + EVERY, time.monotonic())
    finally:
        stop.set()
        blocker.join(5)
    ordered = sorted(times)
    return Stalls(
        quick_calls=len(ordered),
        p50_ms=statistics.median(ordered) * 1000,
        p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        max_ms=ordered[-1] * 1000,
        over_250_ms=sum(1 for t in ordered if t > 0.25),
        blocking_calls=counts["calls"],
        blocks=counts["blocks"],
        wrong=counts["wrong"],
    )


def run(seconds: float, scratch: Path, core: int | None = None) -> Stalls:
    """Start ``stack-runtime serve --workers 1`` on the benchmark's extensions and measure."""
    from .contenders import python_contenders, start

    host = next(c for c in python_contenders() if c.name == "stack-runtime")
    token = secrets.token_urlsafe(24)
    scratch.mkdir(parents=True, exist_ok=True)
    running = start(host, core, token, scratch)
    try:
        running.wait_ready(_envelope("echo", {"data": []}), token)
        return measure(running.port, token, seconds)
    finally:
        running.stop()


def main(argv: list[str] | None = None) -> int:
    """Print the figures; exit status 1 when an answer was wrong."""
    parser = argparse.ArgumentParser(prog="python -m bench.stalls", description=__doc__)
    parser.add_argument("--seconds", type=float, default=12, help="how long (default 12)")
    args = parser.parse_args(argv)
    stalls = run(args.seconds, Path(tempfile.gettempdir()) / "stack-runtime-bench" / "logs")
    for line in stalls.lines():
        print(line)
    return 1 if stalls.wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
