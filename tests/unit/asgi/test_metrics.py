"""Call metrics in one process: outcomes, labels, what GET /metrics renders."""

from __future__ import annotations

import asyncio

from prometheus_client.parser import text_string_to_metric_families

from stack_runtime.asgi.metrics import CallMetrics
from stack_runtime.core.dispatcher import Dispatcher, Outcome, outcome_label
from stack_runtime.core.errors import CallFailure, ErrorItem
from stack_runtime.core.loader import Extensions, load_extensions

from ...conftest import FIXTURES


def _failure(code: str) -> Outcome:
    failure = CallFailure(422, (ErrorItem(code, "m"),))
    return Outcome(422, failure.body(), failure)


def test_outcome_labels() -> None:
    assert outcome_label(Outcome(200, b"{}")) == "success"
    assert outcome_label(_failure("function_timeout")) == "timeout"
    assert outcome_label(_failure("response_size_exceeded")) == "invalid_response"
    assert outcome_label(_failure("invalid_extension_response")) == "invalid_response"
    assert outcome_label(_failure("ValueError")) == "error"


def test_metered_dispatcher_counts_each_outcome() -> None:
    extensions: Extensions = load_extensions(FIXTURES / "protocol")
    metrics = CallMetrics()
    dispatcher = Dispatcher(extensions, metrics=metrics, call_timeout=5)

    async def calls() -> None:
        for _ in range(3):
            await dispatcher.dispatch({"diy": True, "function": "flatEcho", "options": {"a": 1}})
        await dispatcher.dispatch({"diy": True, "function": "nope", "options": {"a": 1}})

    asyncio.run(calls())
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for s in family.samples
    }
    ok = (("function", "flatEcho"), ("outcome", "success"))
    assert samples[("stack_runtime_calls_total", ok)] == 3
    assert samples[("stack_runtime_call_duration_seconds_count", ok)] == 3
    assert samples[("stack_runtime_calls_in_flight", (("function", "flatEcho"),))] == 0
    assert samples[("stack_runtime_calls_total", (("function", ""), ("outcome", "rejected")))] == 1
    assert ("stack_runtime_call_errors_total", ok) not in samples


def _rendered(metrics: CallMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for s in family.samples
    }


def test_counts_wait_for_a_flush_and_buckets_match_prometheus_own() -> None:
    """1. counted calls are not in the metrics until a flush; 2. render flushes; 3. each
    duration lands in the bucket Histogram.observe would put it in; 4. the in-flight gauge
    shows what runs at the flush."""
    metrics = CallMetrics()
    durations = [0.0, 0.005, 0.0051, 0.3, 299.0, 301.0, 1e-9]
    for seconds in durations:
        metrics.started("f")
        metrics.finished("f", "success", seconds)
    metrics.started("f")  # still running
    assert metrics.calls.labels("f", "success")._value.get() == 0  # not flushed yet

    reference = CallMetrics()
    for seconds in durations:
        reference.duration.labels("f", "success").observe(seconds)
    samples, expected = _rendered(metrics), _rendered(reference)
    buckets = {k: v for k, v in samples.items() if k[0].endswith("_bucket")}
    assert buckets and buckets == {k: v for k, v in expected.items() if k[0].endswith("_bucket")}
    assert samples[("stack_runtime_calls_total", (("function", "f"), ("outcome", "success")))] == 7
    assert samples[("stack_runtime_calls_in_flight", (("function", "f"),))] == 1
    metrics.finished("f", "error", 0.1)
    assert _rendered(metrics)[("stack_runtime_calls_in_flight", (("function", "f"),))] == 0
