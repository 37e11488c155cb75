"""integrator.io's Lambda Invoke, under AWS's real runtime client and stack-runtime's entry point.

The payload is the function's options; the rest of the envelope travels as the
top-level keys of the client context (``Lambda-Runtime-Client-Context``).
"""

from __future__ import annotations

import json
from typing import Any

from .runtime import LambdaRuntime

CONNECTOR = "abc123def456abc123def456"


def diy(function: str, type_: str | None = "hook", **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {"diy": True, "function": function, **extra}
    if type_ is not None:
        context["type"] = type_
    return context


def test_diy_hook_gets_the_payload_as_options(runtime: LambdaRuntime) -> None:
    options = {"data": [{"id": 1, "email": "a@b.c"}], "_flowId": "f1", "bearerToken": "secret"}
    answer = runtime.invoke(options, diy("echo"))
    assert answer.kind == "response", answer
    assert answer.json() == options
    assert answer.headers["content-type"] == "application/json"


def test_connector_calls_resolve_in_the_connector_module(runtime: LambdaRuntime) -> None:
    install = runtime.invoke(
        {}, {"_connectorId": CONNECTOR, "type": "installer", "function": "installConnector"}
    )
    assert install.json() == {"success": True, "step": "install"}
    hook = runtime.invoke(
        {"data": [7]}, {"_connectorId": "conn-1", "type": "hook", "function": "preSavePage"}
    )
    assert hook.json() == {"data": [7], "connector": "conn-1"}
    flat = runtime.invoke({"x": 1}, {"_connectorId": CONNECTOR, "function": "whoami"})
    assert flat.json() == {"connector": CONNECTOR}


def test_namespaces_of_every_shape(runtime: LambdaRuntime) -> None:
    assert runtime.invoke({}, diy("ping", "wrapper")).json() == {"statusCode": 200}
    saved = runtime.invoke({"a": 1}, diy("persistSettings", "setting"))
    assert saved.json() == {"saved": {"a": 1}}
    assert runtime.invoke({"numbers": [1, 2, 3]}, diy("sum", "utility")).json() == 6
    assert runtime.invoke({"k": "v"}, diy("flatEcho", None)).json() == {"k": "v"}


def test_client_context_envelope_wins_over_event_keys(runtime: LambdaRuntime) -> None:
    """Options that happen to look like an envelope are still options."""
    options = {"diy": False, "function": "other", "options": None}
    assert runtime.invoke(options, diy("echo")).json() == options


def test_async_function(runtime: LambdaRuntime) -> None:
    answer = runtime.invoke({"data": [1, 2]}, diy("asyncEcho"))
    assert answer.json() == {"async": True, "data": [1, 2]}


def test_export_dates_arrive_as_datetimes(runtime: LambdaRuntime) -> None:
    options = {"lastExportDateTime": "2024-01-02T03:04:05.000Z", "currentExportDateTime": 0}
    answer = runtime.invoke(options, diy("describeDates"))
    assert answer.json() == {
        "lastExportDateTime": ["datetime", "2024-01-02 03:04:05+00:00"],
        "currentExportDateTime": ["int", "0"],
    }


def test_nan_and_infinity_become_null_so_the_payload_is_json(runtime: LambdaRuntime) -> None:
    answer = runtime.invoke({}, diy("returnNan"))
    assert answer.body == b'{"nan":null,"inf":null,"ninf":null}'
    json.loads(answer.body)


def test_returning_none_gives_null(runtime: LambdaRuntime) -> None:
    answer = runtime.invoke({}, diy("returnNothing"))
    assert answer.kind == "response"
    assert answer.body == b"null"


def test_unicode_passes_through(runtime: LambdaRuntime) -> None:
    text = "Grüße, 東京, emoji \U0001f600"
    answer = runtime.invoke({"text": text}, diy("returnUnicode"))
    assert answer.json() == text


def test_max_response_size_from_the_client_context_allows_exact_fit(runtime: LambdaRuntime) -> None:
    answer = runtime.invoke({"length": 8}, diy("returnSized", maxResponseSize=10))
    assert answer.json() == "x" * 8


def test_whole_envelope_as_the_event(runtime: LambdaRuntime) -> None:
    """For callers that cannot set a client context."""
    envelope = {"diy": True, "type": "hook", "function": "echo", "options": {"n": 1}}
    assert runtime.invoke(envelope).json() == {"n": 1}
    envelope = {"_connectorId": "conn-1", "function": "flat", "options": {}}
    assert runtime.invoke(envelope).json() == "conn-1 flat"


def test_calls_are_logged_with_the_lambda_request_id(runtime: LambdaRuntime) -> None:
    options = {"_integrationId": "int-42", "_flowId": "flow-7", "bearerToken": "do-not-log"}
    runtime.invoke(options, diy("echo"))
    lines = [line for line in runtime.output().splitlines() if "_integrationId=int-42" in line]
    assert lines, runtime.output()
    assert "logName=callFunctionInvoked" in lines[-1]
    assert "_flowId=flow-7" in lines[-1]
    assert "_reqId=req-" in lines[-1]
    assert "do-not-log" not in runtime.output()


def test_extensions_are_loaded_once_per_environment(runtime: LambdaRuntime) -> None:
    runtime.invoke({}, diy("echo"))
    runtime.invoke({}, diy("echo"))
    assert runtime.output().count("logName=extensionsLoaded") == 1
    assert runtime.process.poll() is None
