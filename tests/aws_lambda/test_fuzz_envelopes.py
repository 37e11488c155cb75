"""Generated hostile envelopes under AWS's real runtime client: never a crash, never a 5xx.

The envelopes of ``tests/strategies.py`` go to one runtime process three ways:
integrator.io's Invoke (the options as the payload, the rest of the envelope in the
client context, when it fits AWS's 3,583-byte limit on one), the whole envelope as
the payload, and a function URL event. Each answer must be a JSON result, or a
``FunctionError`` whose message is the protocol's ``{"statusCode": 4xx, ...}``, or
an HTTP response below 500 with a JSON body; the runtime must go on serving.
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from ..strategies import Envelope, envelopes
from .conftest import TOKEN
from .emulator import Answer
from .events import function_url_event
from .runtime import LambdaRuntime

#: The largest client context Lambda's Invoke takes: 3,583 bytes once in base64.
CLIENT_CONTEXT_BYTES = 3583 * 3 // 4


def check_invoke(answer: Answer) -> None:
    """A result (JSON), or the protocol's function error with a 4xx status."""
    if answer.kind == "response":
        json.loads(answer.body)
        return
    assert answer.kind == "error", answer
    error = answer.json()
    assert error["errorType"] == "FunctionError", error
    message = json.loads(error["errorMessage"])
    assert 400 <= message["statusCode"] < 500, message
    assert message["errors"] and all({"code", "message"} <= set(e) for e in message["errors"])


def check_http(answer: Answer) -> None:
    assert answer.kind == "response", answer
    response = answer.json()
    assert response["statusCode"] < 500, response
    if response.get("body") or response["statusCode"] != 200:
        json.loads(response["body"])


@given(envelope=envelopes(), face=st.sampled_from(["invoke", "whole", "url"]))
def test_no_invocation_crashes(http_runtime: LambdaRuntime, envelope: Envelope, face: str) -> None:
    context = envelope.client_context()
    if face == "invoke" and len(context) <= CLIENT_CONTEXT_BYTES:
        check_invoke(http_runtime.invoke(raw_event=envelope.options, raw_client_context=context))
    elif face in ("invoke", "whole"):
        check_invoke(http_runtime.invoke(raw_event=envelope.body))
    else:
        headers = {"authorization": f"Bearer {TOKEN}"}
        event = function_url_event("/function", body=envelope.text, headers=headers)
        check_http(http_runtime.invoke(event))
    assert http_runtime.process.poll() is None, http_runtime.output()[-5000:]


def test_the_runtime_still_serves(http_runtime: LambdaRuntime) -> None:
    """Runs after the test above in this module (pytest keeps the file's order)."""
    answer = http_runtime.invoke({"a": 1}, {"diy": True, "type": "hook", "function": "echo"})
    assert (answer.kind, answer.json()) == ("response", {"a": 1})
