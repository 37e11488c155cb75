"""Tracing (stack_runtime.tracing): when it is on, the span of each call, the seam's other
paths, and what a fork does; spans are caught by OpenTelemetry's in-memory exporter."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from starlette.testclient import TestClient

from stack_runtime.asgi.app import StackApp
from stack_runtime.asgi.auth import TokenChecker
from stack_runtime.asgi.metrics import CallMetrics
from stack_runtime.core.dispatcher import Dispatcher
from stack_runtime.core.loader import load_extensions
from stack_runtime.core.logs import request_id, trace_id
from stack_runtime.core.pool import CallPool
from stack_runtime.exceptions import SettingsError
from stack_runtime.server.build import build_app
from stack_runtime.settings import Settings
from stack_runtime.tracing import call_tracing, tracing_requested
from stack_runtime.tracing.otel import (
    ATTRIBUTES,
    CallTracing,
    TracedDispatcher,
    TracedStackApp,
    exporters_from_environ,
)

from ...conftest import FIXTURES

TREE = FIXTURES / "tracing"
A = ATTRIBUTES


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracing(exporter: InMemorySpanExporter) -> Iterator[CallTracing]:
    traced = CallTracing(lambda: [exporter], export_at_once=True, make_global=False)
    yield traced
    traced.shutdown()


@pytest.fixture
def dispatcher(tracing: CallTracing) -> TracedDispatcher:
    return TracedDispatcher(
        load_extensions(TREE), call_timeout=0.5, metrics=CallMetrics(), tracing=tracing
    )


def _envelope(function: str, **extra: Any) -> dict[str, Any]:
    return {"diy": True, "type": "hook", "function": function, "options": {"a": 1}, **extra}


def _only(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = exporter.get_finished_spans()
    return span


def _ids(span: ReadableSpan) -> dict[str, str]:
    assert span.context is not None
    return {"traceId": f"{span.context.trace_id:032x}", "spanId": f"{span.context.span_id:016x}"}


# -- when tracing is on ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "wanted"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"}, False),
        ({"OTEL_SDK_DISABLED": "false", "OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, False),
    ],
)
def test_tracing_is_on_only_when_otel_variables_ask_for_it(
    environ: dict[str, str], wanted: bool
) -> None:
    assert tracing_requested(environ) is wanted


def test_exporters_named_by_the_environment() -> None:
    (otlp,) = exporters_from_environ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"})
    assert isinstance(otlp, OTLPSpanExporter)
    both = exporters_from_environ({"OTEL_TRACES_EXPORTER": "otlp, console"})
    assert [type(e) for e in both] == [OTLPSpanExporter, ConsoleSpanExporter]
    assert exporters_from_environ({"OTEL_TRACES_EXPORTER": "none"}) == []
    with pytest.raises(SettingsError, match="zipkin is not supported"):
        exporters_from_environ({"OTEL_TRACES_EXPORTER": "zipkin"})
    with pytest.raises(SettingsError, match="http/json is not supported"):
        exporters_from_environ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})


def test_the_host_is_untouched_without_otel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    assert call_tracing() is None
    app = build_app(Settings(extensions_dir=TREE, system_tokens=("t",)))
    assert type(app) is StackApp and type(app.dispatcher) is Dispatcher


def test_the_host_is_traced_with_otel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    app = build_app(Settings(extensions_dir=TREE, system_tokens=("t",)))
    assert type(app) is TracedStackApp and type(app.dispatcher) is TracedDispatcher
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "jaeger")
    with pytest.raises(SettingsError, match="jaeger"):
        build_app(Settings(extensions_dir=TREE, system_tokens=("t",)))


# -- the span of a call ---------------------------------------------------------------------


def test_a_call_has_one_span_with_its_function_type_ids_and_outcome(
    dispatcher: TracedDispatcher, exporter: InMemorySpanExporter
) -> None:
    tokens = (request_id.set("1700000000000abcd"), trace_id.set("integrator-trace-1"))
    try:
        envelope = _envelope("currentSpan", _connectorId=None)
        envelope["options"] = {"_integrationId": "int-1", "_flowId": "flow-1"}
        outcome = asyncio.run(dispatcher.dispatch(envelope))
    finally:
        request_id.reset(tokens[0])
        trace_id.reset(tokens[1])
    assert outcome.status == 200
    span = _only(exporter)
    assert span.name == "hook currentSpan"
    assert span.kind is SpanKind.SERVER
    assert dict(span.attributes or {}) == {
        A["function"]: "currentSpan",
        A["type"]: "hook",
        A["request"]: "1700000000000abcd",
        A["traceid"]: "integrator-trace-1",
        A["integration"]: "int-1",
        A["flow"]: "flow-1",
        A["outcome"]: "success",
    }
    assert span.status.status_code is StatusCode.UNSET
    assert span.parent is None
    # the function ran inside its call's span
    assert json.loads(outcome.body) == _ids(span)


@pytest.mark.parametrize(
    ("envelope", "outcome", "error"),
    [
        (_envelope("raiseCoded"), "error", "bad_thing"),
        (_envelope("asyncSleepy", options={"seconds": 5}), "timeout", "function_timeout"),
        (_envelope("nothingHere"), "rejected", "invalid_function"),
        ({"diy": True, "options": {}}, "rejected", "missing_required_field"),
    ],
)
def test_a_failed_call_has_its_outcome_and_error_code(
    dispatcher: TracedDispatcher,
    exporter: InMemorySpanExporter,
    envelope: dict[str, Any],
    outcome: str,
    error: str,
) -> None:
    answer = asyncio.run(dispatcher.dispatch(envelope))
    assert answer.status == 422
    span = _only(exporter)
    assert span.attributes is not None
    assert span.attributes[A["outcome"]] == outcome
    assert span.attributes[A["error"]] == error
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == error


def test_the_metrics_still_count_every_traced_call(
    dispatcher: TracedDispatcher, exporter: InMemorySpanExporter
) -> None:
    asyncio.run(dispatcher.dispatch(_envelope("currentSpan")))
    asyncio.run(dispatcher.dispatch(_envelope("raiseCoded")))
    asyncio.run(dispatcher.dispatch(_envelope("nothingHere")))
    assert isinstance(dispatcher.metrics, CallMetrics)
    text = dispatcher.metrics.render().decode()
    assert 'stack_runtime_calls_total{function="currentSpan",outcome="success"} 1.0' in text
    assert 'stack_runtime_calls_total{function="raiseCoded",outcome="error"} 1.0' in text
    assert 'stack_runtime_calls_total{function="",outcome="rejected"} 1.0' in text
    assert len(exporter.get_finished_spans()) == 3


def test_every_way_a_function_runs_is_inside_its_span(
    tracing: CallTracing, exporter: InMemorySpanExporter
) -> None:
    """async def on the loop, def on the thread pool (many times, the result coming back
    through the pool's inbox), and the synchronous path of the Lambda face and the CLI."""
    pool = CallPool(4)
    dispatcher = TracedDispatcher(load_extensions(TREE), executor=pool, tracing=tracing)

    async def calls() -> list[bytes]:
        answers = [await dispatcher.dispatch(_envelope("asyncCurrentSpan"))]
        for _ in range(20):
            answers.append(await dispatcher.dispatch(_envelope("currentSpan")))
        return [answer.body for answer in answers]

    bodies = asyncio.run(calls())
    bodies.append(dispatcher.dispatch_sync(_envelope("currentSpan")).body)
    spans = exporter.get_finished_spans()
    assert len(spans) == len(bodies) == 22
    assert [json.loads(body) for body in bodies] == [_ids(span) for span in spans]
    pool.shutdown()


def test_a_traceparent_makes_the_call_a_child_and_traceid_stays_an_attribute(
    exporter: InMemorySpanExporter, tracing: CallTracing
) -> None:
    """Through the ASGI path of :class:`TracedStackApp` (the direct path is in tests/e2e)."""
    dispatcher = TracedDispatcher(load_extensions(TREE), tracing=tracing)
    app = TracedStackApp(dispatcher, TokenChecker(("t",)))
    parent = "4bf92f3577b34da6a3ce929d0e0e4736"
    with TestClient(app) as client:
        answer = client.post(
            "/function",
            json=_envelope("currentSpan"),
            headers={
                "Authorization": "Bearer t",
                "traceparent": f"00-{parent}-00f067aa0ba902b7-01",
                "traceid": "integrator-trace-2",
            },
        )
        plain = client.post(
            "/function", json=_envelope("currentSpan"), headers={"Authorization": "Bearer t"}
        )
    assert answer.status_code == plain.status_code == 200
    child, alone = exporter.get_finished_spans()
    assert child.parent is not None and f"{child.parent.span_id:016x}" == "00f067aa0ba902b7"
    assert f"{child.context.trace_id:032x}" == parent  # type: ignore[union-attr]
    assert answer.json() == _ids(child)
    assert child.attributes is not None and child.attributes[A["traceid"]] == "integrator-trace-2"
    assert alone.parent is None and alone.attributes is not None
    assert A["traceid"] not in alone.attributes


def test_a_cancelled_call_ends_its_span_as_an_error(
    dispatcher: TracedDispatcher, exporter: InMemorySpanExporter
) -> None:
    async def cancel() -> None:
        task = asyncio.ensure_future(
            dispatcher.dispatch(_envelope("asyncSleepy", options={"seconds": 5}))
        )
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel())
    span = _only(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None and span.attributes[A["error"]] == "CancelledError"


def test_each_process_makes_its_own_provider_after_a_fork(exporter: InMemorySpanExporter) -> None:
    """gunicorn's workers fork from a master: a provider (and its export thread) made before
    the fork is dropped in the child, which makes its own on its first call."""
    tracing = CallTracing(lambda: [exporter], make_global=False)  # batches, from a thread
    before = tracing.tracer
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it sees, then leave at once
        try:
            after = tracing.tracer
            with after.start_as_current_span("in the child"):
                pass
            flushed = tracing.flush(5000)
            spans = exporter.get_finished_spans()
            resource = dict(spans[-1].resource.attributes) if spans else {}
            os.write(
                write,
                json.dumps(
                    {
                        "new": after is not before,
                        "flushed": flushed,
                        "pid": resource.get("process.pid"),
                    }
                ).encode(),
            )
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        seen = json.loads(pipe.read())
    os.waitpid(pid, 0)
    assert seen == {"new": True, "flushed": True, "pid": pid}
    assert tracing.tracer is before  # the parent keeps its own
    tracing.shutdown()


def test_an_untraced_dispatcher_is_the_plain_one() -> None:
    """The seam adds nothing to the plain classes: the traced ones override, never patch."""
    for name in ("_prepare", "_start", "launch", "_run_sync", "begin", "dispatch", "dispatch_sync"):
        assert getattr(Dispatcher, name).__module__ == "stack_runtime.core.dispatcher", name
    for name in ("_prepare", "launch", "_run_sync"):
        assert getattr(TracedDispatcher, name) is not getattr(Dispatcher, name), name
    assert StackApp.answer is not TracedStackApp.answer
