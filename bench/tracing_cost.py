"""What tracing costs on the call path, in microseconds per call.

A whole in-process dispatch of a trivial ``def`` function (the one the metrics
cost is measured on, ``bench.metrics_cost``), with the dispatcher a host builds:

- off: no ``OTEL_*`` variables, the dispatcher every host had before tracing existed
  (the same class: tracing adds no instruction to it);
- on: a span per call, batched for an exporter that drops them (so the export's own
  work, done on the batch thread, is not counted: only what the call path pays);
- on, not sampled: ``OTEL_TRACES_SAMPLER=always_off``, spans made but never recorded;

and what importing tracing adds to a process that turns it on (once, at start-up; on
Lambda, to the cold start). Prints numbers; asserts nothing.

    .venv/bin/python -m bench.tracing_cost
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Sequence

from stack_runtime.asgi.metrics import CallMetrics
from stack_runtime.core.dispatcher import Dispatcher
from stack_runtime.core.loader import load_extensions

from .metrics_cost import CALLS, FIXTURES, ROUNDS, per_call_us


def import_ms(modules: Sequence[str]) -> float:
    """Best of five fresh interpreters: the time ``import`` of ``modules`` takes."""
    code = (
        "import time, importlib; t = time.perf_counter(); "
        f"[importlib.import_module(m) for m in {list(modules)!r}]; "
        "print((time.perf_counter() - t) * 1000)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
            ).stdout
        )
        for _ in range(5)
    ]
    return min(runs)


def main() -> None:
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    from stack_runtime.tracing.otel import CallTracing, TracedDispatcher

    class Dropped(SpanExporter):
        def export(self, spans: object) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    logging.getLogger("stack_runtime").setLevel(logging.WARNING)
    extensions = load_extensions(FIXTURES / "protocol")
    off = per_call_us(Dispatcher(extensions, metrics=CallMetrics()))
    tracing = CallTracing(lambda: [Dropped()], make_global=False)
    on = per_call_us(TracedDispatcher(extensions, metrics=CallMetrics(), tracing=tracing))
    tracing.shutdown()
    os.environ["OTEL_TRACES_SAMPLER"] = "always_off"
    unsampled_tracing = CallTracing(lambda: [Dropped()], make_global=False)
    unsampled = per_call_us(
        TracedDispatcher(extensions, metrics=CallMetrics(), tracing=unsampled_tracing)
    )
    unsampled_tracing.shutdown()
    base = import_ms(["stack_runtime.aws_lambda.lambda_handler"])
    traced = import_ms(
        [
            "stack_runtime.aws_lambda.lambda_handler",
            "stack_runtime.tracing.otel",
            "opentelemetry.exporter.otlp.proto.http.trace_exporter",
        ]
    )
    print(f"python {sys.version.split()[0]}, best of {ROUNDS} rounds of {CALLS} calls")
    print(f"whole dispatch of a def function, tracing off:         {off:6.2f} us/call")
    print(
        f"whole dispatch of a def function, tracing on:          {on:6.2f} us/call "
        f"(+{on - off:.2f})"
    )
    print(
        f"whole dispatch of a def function, on but not sampled:  {unsampled:6.2f} us/call "
        f"(+{unsampled - off:.2f})"
    )
    print(
        f"import of the Lambda handler: {base:.0f} ms; with tracing and its OTLP exporter: "
        f"{traced:.0f} ms (+{traced - base:.0f})"
    )


if __name__ == "__main__":
    main()
