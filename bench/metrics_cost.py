"""What counting calls for /metrics costs on the call path, in microseconds per call.

Times the metering hook's own work per call (counting a call in plain
numbers, plus a flush to prometheus-client's metrics every ``FLUSH_EVERY``
calls, as a worker answering 5,000 calls a second flushes every tick) in one
process and in multiprocess mode (files, as under ``stack-runtime serve``), and, for scale, a whole in-process dispatch of a
trivial ``def`` function with and without the hook. Prints numbers; asserts nothing.

    .venv/bin/python -m bench.metrics_cost
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from pathlib import Path

from stack_runtime.asgi.metrics import CallMetrics, use_multiprocess_dir
from stack_runtime.core.dispatcher import Dispatcher
from stack_runtime.core.loader import load_extensions

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
CALLS = 5_000
FLUSH_EVERY = 500
ROUNDS = 5


def per_call_us(dispatcher: Dispatcher) -> float:
    envelope = {"diy": True, "function": "flatEcho", "options": {"a": 1}}

    async def run() -> float:
        best = float("inf")
        for _ in range(ROUNDS):
            started = time.perf_counter()
            for _ in range(CALLS):
                await dispatcher.dispatch(envelope)
            best = min(best, time.perf_counter() - started)
        return best / CALLS * 1e6

    return asyncio.run(run())


def hook_us(metrics: CallMetrics, calls: int = 200_000) -> float:
    """The counting a metered dispatcher adds to one call (:meth:`Dispatcher.launch`)."""
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for call in range(calls):
            metrics.started("flatEcho")
            metrics.finished("flatEcho", "success", 0.0003)
            if call % FLUSH_EVERY == 0:
                metrics.flush()
        best = min(best, time.perf_counter() - started)
    return best / calls * 1e6


def main() -> None:
    import logging

    logging.getLogger("stack_runtime").setLevel(logging.WARNING)
    extensions = load_extensions(FIXTURES / "protocol")
    plain = per_call_us(Dispatcher(extensions))
    metered = per_call_us(Dispatcher(extensions, metrics=CallMetrics()))
    single = hook_us(CallMetrics())
    directory = use_multiprocess_dir()
    try:
        multi = hook_us(CallMetrics(directory))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print(f"python {sys.version.split()[0]}, best of {ROUNDS} rounds")
    print(f"metering hook, one process:       {single:6.2f} us/call")
    print(f"metering hook, multiprocess mode: {multi:6.2f} us/call")
    print(f"whole dispatch of a def function: {plain:6.2f} us/call without, {metered:6.2f} with")


if __name__ == "__main__":
    main()
