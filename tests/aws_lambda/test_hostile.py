"""Hostile invocations under AWS's real runtime client: the protocol's answer, never a crash.

Every envelope of ``tests/hostile.py`` three ways: integrator.io's Invoke (the
options as the payload, the rest in the client context), the whole envelope as
the payload, and a function URL event. AWS's runtime client parses the payload
and the client context itself and gives up short of 1,000 levels of nesting; the
entry point reads those as the HTTP face does.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ..hostile import READ, UNREAD, Case, Unread, envelope_text, nested, too_deep
from .conftest import TOKEN
from .emulator import Answer
from .events import function_url_event
from .runtime import LambdaRuntime


def answered(answer: Answer) -> tuple[int, Any]:
    """(status, JSON) of a direct invoke: 200 and the result, or a function error's."""
    if answer.kind == "response":
        return 200, json.loads(answer.body)
    assert answer.kind == "error", answer
    body = answer.json()
    assert body["errorType"] == "FunctionError", body
    message = json.loads(body["errorMessage"])
    return message["statusCode"], {"errors": message["errors"]}


def split(fields: dict[str, str]) -> tuple[str, bytes]:
    """integrator.io's way: (the client context without the options, the options)."""
    context = {key: value for key, value in fields.items() if key != "options"}
    return envelope_text(context), fields["options"].encode()


@pytest.mark.parametrize("case", READ, ids=[c.name for c in READ])
def test_invoke_with_client_context(http_runtime: LambdaRuntime, case: Case) -> None:
    context, payload = split(case.fields)
    answer = http_runtime.invoke(raw_event=payload, raw_client_context=context)
    assert answered(answer) == (case.status, case.answer)


@pytest.mark.parametrize("case", READ, ids=[c.name for c in READ])
def test_invoke_with_the_whole_envelope(http_runtime: LambdaRuntime, case: Case) -> None:
    answer = http_runtime.invoke(raw_event=case.body)
    assert answered(answer) == (case.status, case.answer)


def url_call(runtime: LambdaRuntime, body: bytes) -> tuple[int, Any]:
    headers = {"authorization": f"Bearer {TOKEN}"}
    event = function_url_event("/function", body=body.decode(), headers=headers)
    answer = runtime.invoke(event)
    assert answer.kind == "response", answer
    response = answer.json()
    return response["statusCode"], json.loads(response["body"])


@pytest.mark.parametrize("case", READ, ids=[c.name for c in READ])
def test_function_url_event(http_runtime: LambdaRuntime, case: Case) -> None:
    assert url_call(http_runtime, case.body) == (case.status, case.answer)


@pytest.mark.parametrize("case", UNREAD, ids=[c.name for c in UNREAD])
def test_too_deep_three_ways(http_runtime: LambdaRuntime, case: Unread) -> None:
    whole = http_runtime.invoke(raw_event=case.body)
    assert answered(whole) == (400, too_deep("The payload", case.path))
    assert url_call(http_runtime, case.body) == (400, too_deep("The request body", case.path))
    if not case.path.startswith("options"):
        context, payload = split(case.fields)
        answer = http_runtime.invoke(raw_event=payload, raw_client_context=context)
        assert answered(answer) == (400, too_deep("The client context", case.path))


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ('{"data":' + nested(1024) + "}", "options.data"),
        ('{"a":{"b":' + nested(1023, "1", "{") + "}}", "options.a.b.k.k"),
        (nested(1025), "options"),
    ],
    ids=["field", "objects", "array"],
)
def test_options_too_deep(http_runtime: LambdaRuntime, payload: str, path: str) -> None:
    context = '{"diy":true,"type":"hook","function":"echo"}'
    answer = http_runtime.invoke(raw_event=payload.encode(), raw_client_context=context)
    assert answered(answer) == (400, too_deep("The payload (the function's options)", path))


@pytest.mark.parametrize(
    ("payload", "context", "message"),
    [
        (b"{}", "not json", "The client context is not valid JSON: "),
        (b"{}", '{"diy":true,"function":"echo","type":NaN}', "The client context is not valid"),
        (b'{"n":' + b"1" * 5000 + b"}", None, "The payload (the function's options) is not valid"),
    ],
    ids=["context-not-json", "context-nan", "payload-5000-digits"],
)
def test_unreadable_invocations_are_invalid_json(
    http_runtime: LambdaRuntime, payload: bytes, context: str | None, message: str
) -> None:
    context = context or '{"diy":true,"type":"hook","function":"echo"}'
    status, answer = answered(http_runtime.invoke(raw_event=payload, raw_client_context=context))
    (error,) = answer["errors"]
    assert (status, error["code"]) == (400, "invalid_json")
    assert error["message"].startswith(message)


def test_the_runtime_logged_no_crash_and_still_serves(http_runtime: LambdaRuntime) -> None:
    """Runs after the tests above in this module (pytest keeps the file's order)."""
    answer = http_runtime.invoke({"a": 1}, {"diy": True, "type": "hook", "function": "echo"})
    assert answered(answer) == (200, {"a": 1})
    log = http_runtime.output()
    for marker in ("Runtime.UnmarshalError", "LambdaContextUnmarshalError", "RecursionError:"):
        assert marker not in log, log[-5000:]
