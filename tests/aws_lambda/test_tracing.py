"""Tracing on the Lambda face, under AWS's real runtime client: each invocation's span is
exported before its answer is posted (Lambda may freeze the process right after)."""

from __future__ import annotations

from pathlib import Path

from stack_runtime.tracing.otel import ATTRIBUTES

from ..conftest import FIXTURES
from ..otlp import Collector
from .conftest import function_error
from .runtime import LambdaRuntime

A = ATTRIBUTES


def test_each_invocation_is_exported_before_it_answers(tmp_path: Path) -> None:
    with Collector() as collector:
        environment = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
            "OTEL_SERVICE_NAME": "stack-lambda",
        }
        with LambdaRuntime(
            tmp_path / "runtime.log", extensions=FIXTURES / "tracing", env=environment
        ) as runtime:
            context = {"diy": True, "type": "hook", "function": "currentSpan"}
            answer = runtime.invoke({"_flowId": "flow-7"}, context)
            assert answer.kind == "response", runtime.output()
            (span,) = collector.received()  # already there: no waiting
            failed = runtime.invoke({}, {**context, "function": "raiseCoded"})
            assert function_error(failed)["errors"][0]["code"] == "bad_thing"
            spans = collector.received()
    assert answer.json() == {"traceId": span.trace_id, "spanId": span.span_id}
    assert span.name == "hook currentSpan"
    assert span.resource["service.name"] == "stack-lambda"
    assert span.attributes[A["flow"]] == "flow-7"
    assert span.attributes[A["outcome"]] == "success"
    assert [s.attributes[A["outcome"]] for s in spans] == ["success", "error"]
    assert spans[1].attributes[A["error"]] == "bad_thing"
