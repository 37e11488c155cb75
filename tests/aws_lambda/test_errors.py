"""Every 422 of the protocol (docs/integrator-io.md), as a Lambda function error whose message is the JSON
``{"statusCode": 422, "errors": [...]}``, under AWS's real runtime client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..conftest import FIXTURES
from ..wire import (
    BAD_CONNECTOR,
    FUNCTION_NOT_STRING,
    INVALID_FUNCTION,
    NEITHER,
    NO_DIY,
    NO_FUNCTION,
    NO_OPTIONS,
    NOT_SERIALIZABLE,
)
from .conftest import function_error
from .runtime import LambdaRuntime


def errors(runtime: LambdaRuntime, options: Any, context: dict[str, Any]) -> list[Any]:
    message = function_error(runtime.invoke(options, context))
    assert message["statusCode"] == 422
    assert list(message) == ["statusCode", "errors"]
    return message["errors"]  # type: ignore[no-any-return]


def test_message_is_byte_exact(runtime: LambdaRuntime) -> None:
    answer = runtime.invoke({}, {"diy": True, "type": "hook", "function": "nope"})
    assert answer.json()["errorMessage"] == (
        '{"statusCode":422,"errors":[{"message":"The function passed in the extension '
        'options doesn\'t map to a function.","code":"invalid_function"}]}'
    )


def test_neither_diy_nor_connector(runtime: LambdaRuntime) -> None:
    assert errors(runtime, {}, {"type": "hook", "function": "echo"}) == [NEITHER]
    assert errors(runtime, {}, {"connectorId": "conn-1", "function": "flat"}) == [NEITHER]


def test_unknown_connector(runtime: LambdaRuntime) -> None:
    assert errors(runtime, {}, {"_connectorId": "nope", "function": "flat"}) == [BAD_CONNECTOR]


def test_diy_not_configured(tmp_path: Path) -> None:
    with LambdaRuntime(tmp_path / "log", extensions=FIXTURES / "connectors_only") as runtime:
        assert errors(runtime, {}, {"diy": True, "function": "x"}) == [NO_DIY]
        ok = runtime.invoke({}, {"_connectorId": "only", "function": "hello"})
        assert ok.json() == "hello"


def test_no_client_context_at_all(runtime: LambdaRuntime) -> None:
    """A bare Invoke with options and no envelope: what the reference answers."""
    assert function_error(runtime.invoke({"data": []}))["errors"] == [NEITHER, NO_FUNCTION]


def test_all_errors_collected_in_order(runtime: LambdaRuntime) -> None:
    assert errors(runtime, None, {"type": "hook"}) == [NEITHER, NO_FUNCTION, NO_OPTIONS]
    assert errors(runtime, None, {"function": 7}) == [NEITHER, FUNCTION_NOT_STRING, NO_OPTIONS]


@pytest.mark.parametrize("value", ["", 0, False, None])
def test_falsy_function_counts_as_missing(runtime: LambdaRuntime, value: Any) -> None:
    assert errors(runtime, {}, {"diy": True, "function": value}) == [NO_FUNCTION]


@pytest.mark.parametrize("value", [5, [], {}, True])
def test_non_string_function(runtime: LambdaRuntime, value: Any) -> None:
    assert errors(runtime, {}, {"diy": True, "function": value}) == [FUNCTION_NOT_STRING]


@pytest.mark.parametrize("payload", [b"null", b'""', b"0", b"false"])
def test_falsy_payload_counts_as_missing_options(runtime: LambdaRuntime, payload: bytes) -> None:
    answer = runtime.invoke(raw_event=payload, client_context={"diy": True, "function": "flatEcho"})
    assert function_error(answer)["errors"] == [NO_OPTIONS]


def test_missing_namespace(runtime: LambdaRuntime) -> None:
    assert errors(runtime, {}, {"diy": True, "type": "export", "function": "x"}) == [
        {"message": "The object export doesn't exist in the module.", "code": "object_not_found"}
    ]


@pytest.mark.parametrize(
    ("type_", "function"),
    [("hook", "doesNotExist"), (None, "os"), ("hook", "_private"), ("utility", "notAFunction")],
)
def test_not_an_extension_function(
    runtime: LambdaRuntime, type_: str | None, function: str
) -> None:
    context: dict[str, Any] = {"diy": True, "function": function}
    if type_:
        context["type"] = type_
    assert errors(runtime, {"x": 1}, context) == [INVALID_FUNCTION]


def test_raised_error_with_code(runtime: LambdaRuntime) -> None:
    context = {"diy": True, "type": "hook", "function": "raiseCoded"}
    assert errors(runtime, {}, context) == [{"message": "it broke", "code": "my_code"}]


def test_raised_error_without_code_uses_class_name(runtime: LambdaRuntime) -> None:
    answer = runtime.invoke({}, {"diy": True, "type": "hook", "function": "raisePlain"})
    assert function_error(answer)["errors"] == [{"message": "bad value", "code": "ValueError"}]
    assert "hooks.py" not in answer.json()["errorMessage"]


def test_async_raise(runtime: LambdaRuntime) -> None:
    context = {"diy": True, "type": "hook", "function": "asyncRaise"}
    assert errors(runtime, {}, context) == [{"message": "async broke", "code": "my_code"}]


def test_sys_exit_is_an_error_and_the_runtime_keeps_serving(runtime: LambdaRuntime) -> None:
    context = {"diy": True, "type": "hook", "function": "exitProcessCall"}
    assert errors(runtime, {}, context) == [{"message": "3", "code": 3}]
    again = runtime.invoke({"still": "serving"}, {"diy": True, "type": "hook", "function": "echo"})
    assert again.json() == {"still": "serving"}


@pytest.mark.parametrize(
    "function",
    ["returnDatetime", "returnTuple", "returnSet", "returnEnum", "returnUuid", "returnObject"],
)
def test_non_json_results_are_refused(runtime: LambdaRuntime, function: str) -> None:
    context = {"diy": True, "type": "hook", "function": function}
    assert errors(runtime, {}, context) == [NOT_SERIALIZABLE]


def test_response_size_exceeded(runtime: LambdaRuntime) -> None:
    context = {"diy": True, "type": "hook", "function": "returnSized", "maxResponseSize": 100}
    assert runtime.invoke({"length": 98}, context).kind == "response"
    assert errors(runtime, {"length": 99}, context) == [
        {
            "message": "response stream exceeded limit of 100 bytes.",
            "code": "response_size_exceeded",
        }
    ]
