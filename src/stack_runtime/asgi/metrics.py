"""Prometheus metrics of the calls a host runs, correct across gunicorn's workers.

Per function and outcome: ``stack_runtime_calls_total``,
``stack_runtime_call_errors_total``, the ``stack_runtime_call_duration_seconds``
histogram, and ``stack_runtime_calls_in_flight``. Envelopes refused before a function
was resolved count as ``function=""``, ``outcome="rejected"``. Per reader, the requests
answered by the direct path: ``stack_runtime_direct_requests_total`` (``server/httptools.py``). Per
function that was running: ``stack_runtime_event_loop_blocks_total`` and
``stack_runtime_event_loop_blocked_seconds_total`` (``core/watchdog.py``).

Under ``stack-runtime serve`` every worker process writes its numbers to files
in a directory of its own host (prometheus-client's multiprocess mode), and
``GET /metrics`` on any worker adds them all up. The directory is made fresh at
start-up, a dead worker's in-flight gauge is dropped by gunicorn's
``child_exit`` hook, and the directory is removed when the host exits.

On the call path, the :class:`~stack_runtime.core.dispatcher.Dispatcher` tells
:class:`CallMetrics` of each call (it is the dispatcher's ``metrics``), which counts in
plain Python numbers; the worker adds them to the shared files every 0.1 s (:meth:`CallMetrics.flush`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from bisect import bisect_left
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..core.errors import ErrorItem, errors_body
from .app import StackApp
from .auth import TokenChecker, refusal

__all__ = [
    "CallMetrics",
    "metrics_endpoint",
    "use_multiprocess_dir",
    "gunicorn_hooks",
    "MetricsPortGuard",
    "MULTIPROC_ENV",
]

#: prometheus-client reads its multiprocess directory from this variable.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: Histogram buckets, in seconds: from a quick hook to the 300 s call limit.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


def use_multiprocess_dir() -> Path:
    """Make a fresh per-host metrics directory and switch prometheus-client to it.

    Call it in the process that becomes gunicorn's master, before the app is
    built (and so before any worker forks).
    """
    directory = Path(tempfile.mkdtemp(prefix="stack-runtime-metrics-"))
    os.environ[MULTIPROC_ENV] = str(directory)
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
    return directory


def gunicorn_hooks(directory: Path) -> dict[str, Callable[..., None]]:
    """gunicorn server hooks that keep ``directory`` right as workers come and go."""

    def child_exit(server: Any, worker: Any) -> None:
        mark_process_dead(worker.pid, str(directory))  # type: ignore[no-untyped-call]

    def on_exit(server: Any) -> None:
        shutil.rmtree(directory, ignore_errors=True)

    return {"child_exit": child_exit, "on_exit": on_exit}


class CallMetrics:
    """The metric families, and how to read them.

    ``directory`` is the multiprocess directory (``None``: this process only,
    as under ``stack-runtime dev``).

    A call is counted in plain Python numbers (a dict lookup and a few
    additions); :meth:`flush` adds them to the prometheus-client metrics,
    which in multiprocess mode costs a lock, a ``getpid`` and a file write per
    value. The worker flushes every 0.1 s and :meth:`render` flushes first, so
    ``/metrics`` is at most that late for the other workers of a host.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        own = None if directory is not None else CollectorRegistry()
        labels = ("function", "outcome")
        self.calls = Counter(
            "stack_runtime_calls", "Extension calls answered.", labels, registry=own
        )
        self.errors = Counter(
            "stack_runtime_call_errors",
            "Extension calls answered with an error.",
            labels,
            registry=own,
        )
        self.duration = Histogram(
            "stack_runtime_call_duration_seconds",
            "Time from the start of a call to its answer.",
            labels,
            buckets=BUCKETS,
            registry=own,
        )
        self.in_flight = Gauge(
            "stack_runtime_calls_in_flight",
            "Extension calls running now.",
            ("function",),
            registry=own,
            multiprocess_mode="livesum",
        )
        self.direct_requests = Counter(
            "stack_runtime_direct_requests",
            "POST /function requests the HTTP protocol answered itself, without ASGI (the "
            "direct path), by what read them: c (_request.c) or httptools (uvicorn's parser).",
            ("reader",),
            registry=own,
        )
        self.direct = [0, 0]
        """Direct requests not yet flushed, [httptools, c]: the HTTP protocol adds to them."""
        self.loop_blocks = Counter(
            "stack_runtime_event_loop_blocks",
            "Times the event loop did not turn for longer than the threshold (eventLoopBlocked).",
            ("function",),
            registry=own,
        )
        self.loop_blocked_seconds = Counter(
            "stack_runtime_event_loop_blocked_seconds",
            "Seconds the event loop was blocked, in the blocks counted.",
            ("function",),
            registry=own,
        )
        self._registry = own
        self._pending: dict[tuple[str, str], list[float]] = {}
        """(function, outcome) -> [calls, seconds, calls per bucket...] not yet flushed."""
        self._running: dict[str, int] = {}
        self._shown: dict[str, int] = {}
        """What the in-flight gauge of each function shows."""

    def started(self, function: str) -> None:
        """Count a call of ``function`` as running."""
        running = self._running
        running[function] = running.get(function, 0) + 1

    def finished(self, function: str, outcome: str, seconds: float, *, ran: bool = True) -> None:
        """Count an answered call (``ran``: it was counted by :meth:`started`)."""
        if ran:
            self._running[function] -= 1
        record = self._pending.get((function, outcome))
        if record is None:
            record = self._pending[(function, outcome)] = [0.0] * (len(BUCKETS) + 3)
        record[0] += 1
        record[1] += seconds
        record[2 + bisect_left(BUCKETS, seconds)] += 1

    def dropped(self, function: str) -> None:
        """A call counted by :meth:`started` ended without an answer (it was cancelled)."""
        self._running[function] -= 1

    def loop_blocked(self, function: str, seconds: float) -> None:
        """Count a block of the event loop (from the watchdog's thread): ``function`` is the
        extension function that was running (``-``: none)."""
        self.loop_blocks.labels(function).inc()
        self.loop_blocked_seconds.labels(function).inc(seconds)

    def flush(self) -> None:
        """Add the calls counted since the last flush to the prometheus-client metrics."""
        pending, self._pending = self._pending, {}
        for (function, outcome), record in pending.items():
            calls = record[0]
            self.calls.labels(function, outcome).inc(calls)
            if outcome != "success":
                self.errors.labels(function, outcome).inc(calls)
            child = self.duration.labels(function, outcome)
            child._sum.inc(record[1])
            for index, count in enumerate(record[2:]):
                if count:
                    child._buckets[index].inc(count)
        direct = self.direct
        for index, reader in enumerate(("httptools", "c")):
            if direct[index]:
                self.direct_requests.labels(reader).inc(direct[index])
                direct[index] = 0
        shown = self._shown
        for function, count in list(self._running.items()):
            if shown.get(function) != count:
                self.in_flight.labels(function).set(count)
                shown[function] = count

    def render(self) -> bytes:
        """Every worker's numbers (or this process's) in Prometheus' text format."""
        self.flush()
        if self._registry is not None:
            return generate_latest(self._registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.directory))  # type: ignore[no-untyped-call]
        return generate_latest(registry)


def metrics_endpoint(
    metrics: CallMetrics, tokens: TokenChecker, open_port: int | None = None
) -> Callable[[Request], Any]:
    """The ``GET /metrics`` handler: needs the system token, except on ``open_port``."""

    async def endpoint(request: Request) -> Response:
        server = request.scope.get("server")
        guarded = open_port is None or not server or server[1] != open_port
        if guarded and (refused := refusal(tokens, request)) is not None:
            return refused
        return Response(metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return endpoint


class MetricsPortGuard:
    """Serves ``app``, except that on ``port`` only ``GET /metrics`` is answered.

    Used when ``--metrics-port`` puts the metrics on a port of their own: that
    port skips the token for ``/metrics`` and answers 404 to everything else.
    """

    _NOT_FOUND = errors_body([ErrorItem("not_found", "Only /metrics is served on this port.")])

    def __init__(self, app: StackApp, port: int) -> None:
        self.app = app
        self.port = port
        self.state = app.state
        self.dispatcher = app.dispatcher
        self.watchdog = app.watchdog

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        apart = scope["type"] == "http" and server and server[1] == self.port
        if not apart or scope["path"] == "/metrics":
            await self.app(scope, receive, send)
        else:
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(self._NOT_FOUND)).encode()),
            ]
            await send({"type": "http.response.start", "status": 404, "headers": headers})
            await send({"type": "http.response.body", "body": self._NOT_FOUND})
