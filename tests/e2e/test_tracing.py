"""Tracing end to end: a real ``stack-runtime serve`` exports its spans over OTLP/HTTP to a
collector stand-in on loopback, which decodes them with OpenTelemetry's own protobufs."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from stack_runtime.tracing.otel import ATTRIBUTES

from ..conftest import FIXTURES
from ..otlp import Collector, ReceivedSpan
from .server import RunningServer, start

TOKEN = "trace-token"
A = ATTRIBUTES
PARENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"
SPAN_KIND_SERVER = 2
STATUS_ERROR = 2


def _call(server: RunningServer, function: str, **headers: str) -> requests.Response:
    return requests.post(
        server.url + "/function",
        json={"diy": True, "type": "hook", "function": function, "options": {"a": 1}},
        headers={"Authorization": f"Bearer {TOKEN}", "Connection": "close", **headers},
        timeout=30,
    )


def _serve(tmp_path: Path, collector: Collector, **env: str) -> RunningServer:
    return start(
        "serve",
        FIXTURES / "tracing",
        tmp_path / "server.log",
        token=TOKEN,
        extra=["--workers", "2"],
        env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
            "OTEL_SERVICE_NAME": "stack-e2e",
            **env,
        },
    )


def _workers(server: RunningServer, count: int = 2) -> set[int]:
    """The worker pids, once all ``count`` workers have started (a worker still booting when
    SIGTERM comes would make the test about start-up, not tracing)."""
    path = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    deadline = time.monotonic() + 30
    while True:
        pids = {int(pid) for pid in path.read_text().split()}
        if len(pids) >= count or time.monotonic() > deadline:
            return pids
        time.sleep(0.05)


def _by_function(spans: list[ReceivedSpan]) -> dict[str, list[ReceivedSpan]]:
    calls: dict[str, list[ReceivedSpan]] = {}
    for span in spans:
        if span.scope == "stack_runtime":
            calls.setdefault(str(span.attributes[A["function"]]), []).append(span)
    return calls


def test_every_worker_exports_its_calls_spans_and_flushes_them_when_it_exits(
    tmp_path: Path,
) -> None:
    """1. serve with two workers, spans batched for a minute (so none leave before exit);
    2. calls: with integrator.io's traceid and a W3C traceparent, one whose function makes
       its own span, one that raises, one for no function, and plain ones;
    3. nothing has been exported yet; SIGTERM, the host exits 0;
    4. every call's span reached the collector, made in a worker (not the master)."""
    with Collector() as collector:
        server = _serve(tmp_path, collector, OTEL_BSP_SCHEDULE_DELAY="60000")
        try:
            workers = _workers(server)
            traced = _call(
                server,
                "currentSpan",
                traceid="integrator-trace-9",
                traceparent=f"00-{PARENT_TRACE}-{PARENT_SPAN}-01",
            )
            assert traced.status_code == 200, traced.text
            child = _call(server, "childSpan")
            failed = _call(server, "raiseCoded")
            missing = _call(server, "nothingHere")
            plain = [_call(server, "currentSpan").json() for _ in range(6)]
            assert (child.status_code, failed.status_code, missing.status_code) == (200, 422, 422)
            assert collector.received() == []
        finally:
            code = server.stop(signal.SIGTERM, timeout=60)
        assert code == 0, server.output()
        spans = collector.wait_for(11, timeout=5)

    calls = _by_function(spans)
    assert sorted((name, len(found)) for name, found in calls.items()) == [
        ("childSpan", 1),
        ("currentSpan", 7),
        ("nothingHere", 1),
        ("raiseCoded", 1),
    ]
    for span in spans:
        assert span.resource["service.name"] == "stack-e2e"
        assert span.resource["process.pid"] in workers, "a span made outside the workers"

    # 2. a W3C traceparent makes the call a child; integrator.io's traceid is an attribute
    first = next(s for s in calls["currentSpan"] if s.trace_id == PARENT_TRACE)
    assert first.parent_span_id == PARENT_SPAN
    assert first.kind == SPAN_KIND_SERVER
    assert first.name == "hook currentSpan"
    assert first.attributes[A["traceid"]] == "integrator-trace-9"
    assert first.attributes[A["type"]] == "hook"
    assert first.attributes[A["outcome"]] == "success"
    assert traced.json() == {"traceId": first.trace_id, "spanId": first.span_id}
    # the plain calls are roots of traces of their own, and each ran inside its span
    roots = {(s.trace_id, s.span_id) for s in calls["currentSpan"] if not s.parent_span_id}
    assert {(p["traceId"], p["spanId"]) for p in plain} == roots
    # the extension's own span (the global tracer provider) is the call span's child
    (call,) = calls["childSpan"]
    (inner,) = [s for s in spans if s.name == "extension work"]
    assert (inner.trace_id, inner.parent_span_id) == (call.trace_id, call.span_id)
    assert child.json() == {"traceId": inner.trace_id, "spanId": inner.span_id}
    # failures carry their outcome and error code
    (raised,) = calls["raiseCoded"]
    assert raised.status_code == STATUS_ERROR
    assert (raised.attributes[A["outcome"]], raised.attributes[A["error"]]) == (
        "error",
        "bad_thing",
    )
    (rejected,) = calls["nothingHere"]
    assert rejected.attributes[A["outcome"]] == "rejected"
    assert rejected.attributes[A["error"]] == "invalid_function"


def test_spans_are_exported_while_the_host_serves(tmp_path: Path) -> None:
    with Collector() as collector:
        server = _serve(tmp_path, collector, OTEL_BSP_SCHEDULE_DELAY="100")
        try:
            answers: list[Any] = [_call(server, "currentSpan").json() for _ in range(3)]
            spans = collector.wait_for(3)
            assert server.process.poll() is None
        finally:
            assert server.stop(signal.SIGTERM, timeout=60) == 0, server.output()
    assert {(s.trace_id, s.span_id) for s in spans} == {
        (a["traceId"], a["spanId"]) for a in answers
    }


def test_an_exporter_it_cannot_use_stops_serve_with_the_reason(tmp_path: Path) -> None:
    env = {"OTEL_TRACES_EXPORTER": "zipkin", "INTEGRATOR_EXTENSION_SYSTEM_TOKEN": TOKEN}
    result = subprocess.run(
        [sys.executable, "-m", "stack_runtime", "serve", "--extensions", str(FIXTURES / "tracing")],
        capture_output=True,
        text=True,
        env={**_environ(), **env},
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "OTEL_TRACES_EXPORTER=zipkin is not supported: use otlp, console or none" in (
        result.stderr
    )


def _environ() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("STACK_", "OTEL_"))}
