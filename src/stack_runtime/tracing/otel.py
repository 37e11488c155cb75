"""Optional OpenTelemetry tracing: one span per extension call, exported by OTLP.

Installed with the ``otel`` extra (``pip install 'stack-runtime[otel]'``) and
switched on by OpenTelemetry's own environment variables
(:func:`~stack_runtime.tracing.tracing_requested`): without them, or without
the extra, nothing here is imported and the host builds exactly the objects it
builds without tracing, so the call path does not change at all.

The seam is two subclasses the host builds instead of the plain ones:

- :class:`TracedDispatcher` opens a span when an envelope is prepared and ends it
  with the call's outcome (``success``, ``error``, ``timeout``,
  ``invalid_response``, or ``rejected`` for an envelope that names no function);
  while the function runs the span is the current one, so spans the extension
  code makes (its own, or an instrumented HTTP client's) are its children;
- :class:`TracedStackApp` hands the request's headers to the dispatcher, so a
  W3C ``traceparent`` sent by a tracing proxy makes the call's span its child.

Each process makes its own tracer provider on its first call (:class:`CallTracing`):
gunicorn's workers fork from a master that never traces, and a provider's export
thread does not survive a fork.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import Span, SpanKind, StatusCode
from starlette.types import Message, Receive, Scope, Send

from ..asgi.app import Reply, StackApp
from ..asgi.auth import TokenChecker
from ..asgi.state import HostState
from ..core.dispatcher import Dispatcher, Outcome, PreparedCall, Then, outcome_label
from ..core.logs import request_id, trace_id
from ..exceptions import SettingsError

__all__ = [
    "CallTracing",
    "TracedCall",
    "TracedDispatcher",
    "TracedStackApp",
    "exporters_from_environ",
    "ATTRIBUTES",
]

#: The span attributes, by what they hold.
ATTRIBUTES: Mapping[str, str] = {
    "function": "stack_runtime.function",
    "type": "stack_runtime.type",
    "outcome": "stack_runtime.outcome",
    "connector": "stack_runtime.connector_id",
    "request": "stack_runtime.request_id",
    "traceid": "integrator.trace_id",
    "integration": "integrator.integration_id",
    "flow": "integrator.flow_id",
    "error": "error.type",
}
_A = ATTRIBUTES

_headers: ContextVar[Mapping[bytes, bytes] | None] = ContextVar("trace_headers", default=None)
"""The request's headers (lower-case names), for the W3C trace context in them."""


class _HeaderGetter(Getter[Mapping[bytes, bytes]]):
    def get(self, carrier: Mapping[bytes, bytes], key: str) -> list[str] | None:
        value = carrier.get(key.encode("latin-1"))
        return None if value is None else [value.decode("latin-1")]

    def keys(self, carrier: Mapping[bytes, bytes]) -> list[str]:
        return [key.decode("latin-1") for key in carrier]


_GETTER = _HeaderGetter()


def _package_version() -> str:
    try:
        return version("stack-runtime")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "0"


def _otlp_exporter(environ: Mapping[str, str]) -> SpanExporter:
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if protocol == "grpc":
        try:  # not in the otel extra: gRPC is a large dependency
            grpc = importlib.import_module("opentelemetry.exporter.otlp.proto.grpc.trace_exporter")
        except ImportError:
            raise SettingsError(
                "OTLP over gRPC needs the package opentelemetry-exporter-otlp-proto-grpc "
                "(the otel extra exports over HTTP: OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf)"
            ) from None
        exporter: SpanExporter = grpc.OTLPSpanExporter()
        return exporter
    raise SettingsError(
        f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol} is not supported: use http/protobuf or grpc"
    )


def exporters_from_environ(environ: Mapping[str, str] | None = None) -> list[SpanExporter]:
    """The span exporters ``OTEL_TRACES_EXPORTER`` names (default ``otlp``).

    ``otlp`` exports over OTLP/HTTP (or gRPC, by ``OTEL_EXPORTER_OTLP_PROTOCOL``)
    to ``OTEL_EXPORTER_OTLP_ENDPOINT``; ``console`` prints spans; ``none`` none.
    Raises :class:`~stack_runtime.settings.SettingsError` for anything else.
    """
    env = os.environ if environ is None else environ
    names = [n.strip().lower() for n in env.get("OTEL_TRACES_EXPORTER", "otlp").split(",")]
    exporters: list[SpanExporter] = []
    for name in filter(None, names):
        if name == "otlp":
            exporters.append(_otlp_exporter(env))
        elif name == "console":
            exporters.append(ConsoleSpanExporter())
        elif name != "none":
            raise SettingsError(
                f"OTEL_TRACES_EXPORTER={name} is not supported: use otlp, console or none"
            )
    return exporters


_every: weakref.WeakSet[CallTracing] = weakref.WeakSet()


def _forget_after_fork() -> None:
    for tracing in list(_every):
        tracing._tracer = None
        tracing._provider = None


os.register_at_fork(after_in_child=_forget_after_fork)


class CallTracing:
    """The tracer of this process, made on first use (and again after a fork).

    ``exporters`` makes the span exporters for a new process (default: from
    ``OTEL_*``, checked once here so that a bad setting stops start-up).
    ``export_at_once`` exports each span when it ends instead of in batches
    from a thread (for Lambda, which freezes the process between invocations).
    ``make_global`` sets the process's global tracer provider too, so that
    extension code's own spans go the same way.
    """

    def __init__(
        self,
        exporters: Any = None,
        *,
        export_at_once: bool = False,
        make_global: bool = True,
        resource: Mapping[str, str] | None = None,
    ) -> None:
        if exporters is None:
            exporters_from_environ()  # a bad setting fails here, in the master, not per worker
            exporters = exporters_from_environ
        self._make_exporters = exporters
        self._export_at_once = export_at_once
        self._make_global = make_global
        self._resource = dict(resource or {})
        self._provider: TracerProvider | None = None
        self._tracer: trace.Tracer | None = None
        _every.add(self)

    @property
    def tracer(self) -> trace.Tracer:
        """This process's tracer (its provider is made on first use)."""
        tracer = self._tracer
        if tracer is None:
            tracer = self._start()
        return tracer

    def _start(self) -> trace.Tracer:
        attributes: dict[str, Any] = {"process.pid": os.getpid(), **self._resource}
        if not os.environ.get("OTEL_SERVICE_NAME"):
            attributes.setdefault("service.name", "stack-runtime")
        provider = TracerProvider(resource=Resource.create(attributes))
        processor: type[SpanProcessor] = (
            SimpleSpanProcessor if self._export_at_once else BatchSpanProcessor
        )
        for exporter in self._make_exporters():
            provider.add_span_processor(processor(exporter))  # type: ignore[call-arg]
        if self._make_global:
            trace.set_tracer_provider(provider)
        self._provider = provider
        self._tracer = provider.get_tracer("stack_runtime", _package_version())
        return self._tracer

    def flush(self, timeout_millis: int = 30_000) -> bool:
        """Export every ended span now (``True`` when all went out in time)."""
        provider = self._provider
        return provider.force_flush(timeout_millis) if provider is not None else True

    def shutdown(self) -> None:
        """Export what is left and stop this process's provider."""
        provider, self._provider, self._tracer = self._provider, None, None
        if provider is not None:
            provider.shutdown()


@dataclass(slots=True)
class TracedCall(PreparedCall):
    """A :class:`~stack_runtime.core.dispatcher.PreparedCall` and its open span."""

    span: Span | None = None


def _end(span: Span, outcome: Outcome, label: str) -> None:
    span.set_attribute(_A["outcome"], label)
    if label != "success":
        failure = outcome.failure
        code = failure.errors[0].code if failure is not None and failure.errors else label
        span.set_attribute(_A["error"], str(code))
        span.set_status(StatusCode.ERROR, str(code))
    span.end()


def _end_raised(span: Span, exc: BaseException) -> None:
    span.set_attribute(_A["error"], type(exc).__name__)
    span.set_status(StatusCode.ERROR, type(exc).__name__)
    span.end()


@contextmanager
def _current(span: Span) -> Iterator[None]:
    """``span`` is the current span inside; an exception that escapes ends it as an error."""
    token = otel_context.attach(trace.set_span_in_context(span))
    try:
        yield
    except BaseException as exc:
        _end_raised(span, exc)
        raise
    finally:
        otel_context.detach(token)


class TracedDispatcher(Dispatcher):
    """A :class:`~stack_runtime.core.dispatcher.Dispatcher` that traces every call in ``tracing``.

    The span starts when the envelope is prepared (a child of the ``traceparent``
    of the request, when there is one) and carries the function, its type, the
    connector, ``_reqId``, integrator.io's ``traceid``, the integration and flow,
    and at the end the outcome (and for a failure ``error.type``, the error's code).
    """

    def __init__(self, *args: Any, tracing: CallTracing, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tracing = tracing

    def _open(self, envelope: Mapping[str, Any]) -> Span:
        name = envelope.get("function")
        type_value = envelope.get("type")
        attributes: dict[str, Any] = {
            _A["function"]: name if isinstance(name, str) else "",
            _A["request"]: request_id.get() or "",
        }
        if isinstance(type_value, str):
            attributes[_A["type"]] = type_value
        connector = envelope.get("_connectorId")
        if isinstance(connector, str):
            attributes[_A["connector"]] = connector
        traceid = trace_id.get()
        if traceid:
            attributes[_A["traceid"]] = traceid
        options = envelope.get("options")
        if isinstance(options, dict):
            for key, field in (("integration", "_integrationId"), ("flow", "_flowId")):
                value = options.get(field)
                if isinstance(value, str):
                    attributes[_A[key]] = value
        headers = _headers.get()
        parent = propagate.extract(headers, getter=_GETTER) if headers else None
        title = name if isinstance(name, str) and name else "call"
        if isinstance(type_value, str) and type_value:
            title = f"{type_value} {title}"
        return self.tracing.tracer.start_span(
            title, context=parent, kind=SpanKind.SERVER, attributes=attributes
        )

    def _prepare(self, envelope: Mapping[str, Any]) -> PreparedCall | Outcome:
        span = self._open(envelope)
        try:
            prepared = super()._prepare(envelope)
        except BaseException as exc:
            _end_raised(span, exc)
            raise
        if isinstance(prepared, Outcome):
            _end(span, prepared, "rejected")
            return prepared
        return TracedCall(
            prepared.function,
            prepared.options,
            prepared.max_response_size,
            prepared.name,
            prepared.is_async,
            span,
        )

    def launch(self, call: PreparedCall, then: Then) -> Outcome | None:
        span = call.span if isinstance(call, TracedCall) else None
        if span is None:
            return super().launch(call, then)

        def ended(outcome: Outcome | None) -> None:
            if outcome is None:  # cancelled, or the host failed: never answered
                _end_raised(span, asyncio.CancelledError())
            else:
                _end(span, outcome, outcome_label(outcome))
            then(outcome)

        with _current(span):  # the call's thread or task copies the context: the span is current
            outcome = super().launch(call, ended)
        if outcome is not None:
            _end(span, outcome, outcome_label(outcome))
        return outcome

    def _run_sync(self, call: PreparedCall) -> Outcome:
        span = call.span if isinstance(call, TracedCall) else None
        if span is None:
            return super()._run_sync(call)
        with _current(span):
            outcome = super()._run_sync(call)
        _end(span, outcome, outcome_label(outcome))
        return outcome


class TracedStackApp(StackApp):
    """A :class:`~stack_runtime.asgi.app.StackApp` that lets :class:`TracedDispatcher` see the
    request's headers (for a W3C ``traceparent``), on both of its paths, and exports the
    spans still waiting in their batch when the server shuts down (ASGI lifespan): a
    worker's process ends without running ``atexit`` handlers."""

    def __init__(
        self, dispatcher: TracedDispatcher, tokens: TokenChecker, state: HostState | None = None
    ) -> None:
        super().__init__(dispatcher, tokens, state)
        self.tracing = dispatcher.tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await super().__call__(scope, self._flush_at_shutdown(receive), send)
            return
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        token = _headers.set(dict(scope["headers"]))
        try:
            await super().__call__(scope, receive, send)
        finally:
            _headers.reset(token)

    def answer(
        self,
        headers: Mapping[bytes, bytes],
        raw: bytes | bytearray,
        respond: Callable[[Reply], None],
    ) -> bool:
        token = _headers.set(headers)
        try:
            return super().answer(headers, raw, respond)
        finally:
            _headers.reset(token)

    def _flush_at_shutdown(self, receive: Receive) -> Receive:
        async def receive_then_flush() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await asyncio.to_thread(self.tracing.shutdown)
            return message

        return receive_then_flush
