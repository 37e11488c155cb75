"""HTTP events (function URL, API Gateway, ALB) through the same ASGI app and token check."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ..conftest import FIXTURES
from .conftest import TOKEN
from .events import alb_event, function_url_event, rest_api_event
from .runtime import LambdaRuntime

ENVELOPE = {"diy": True, "type": "hook", "function": "echo", "options": {"data": [1, 2]}}
EVENTS: dict[str, Callable[..., dict[str, Any]]] = {
    "function-url": function_url_event,
    "rest-api": rest_api_event,
    "alb": alb_event,
}


def http(runtime: LambdaRuntime, event: dict[str, Any]) -> dict[str, Any]:
    answer = runtime.invoke(event)
    assert answer.kind == "response", answer
    return answer.json()  # type: ignore[no-any-return]


def headers_of(response: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): v for k, v in response.get("headers", {}).items()}


@pytest.mark.parametrize("source", EVENTS)
def test_good_token_runs_the_function(http_runtime: LambdaRuntime, source: str) -> None:
    event = EVENTS[source]("/function", body=ENVELOPE, headers={"authorization": f"Bearer {TOKEN}"})
    response = http(http_runtime, event)
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"]) == {"data": [1, 2]}
    assert headers_of(response)["content-type"].startswith("application/json")


@pytest.mark.parametrize("source", EVENTS)
@pytest.mark.parametrize("authorization", ["Bearer wrong-token", None])
def test_bad_or_missing_token_is_401(
    http_runtime: LambdaRuntime, source: str, authorization: str | None
) -> None:
    headers = {"authorization": authorization} if authorization else {}
    response = http(http_runtime, EVENTS[source]("/function", body=ENVELOPE, headers=headers))
    assert response["statusCode"] == 401
    assert headers_of(response)["www-authenticate"] == "invalid system token"
    assert json.loads(response["body"]) == {
        "errors": [{"code": "unauthorized", "message": "Invalid system token."}]
    }


def test_token_in_the_query_string(http_runtime: LambdaRuntime) -> None:
    event = function_url_event("/function", body=ENVELOPE, query=f"access_token={TOKEN}")
    assert http(http_runtime, event)["statusCode"] == 200


def test_protocol_errors_are_422_bodies(http_runtime: LambdaRuntime) -> None:
    envelope = {**ENVELOPE, "function": "nope"}
    event = function_url_event(
        "/function", body=envelope, headers={"authorization": f"Bearer {TOKEN}"}
    )
    response = http(http_runtime, event)
    assert response["statusCode"] == 422
    assert response["body"] == (
        '{"errors":[{"message":"The function passed in the extension options '
        'doesn\'t map to a function.","code":"invalid_function"}]}'
    )


def test_health_route(http_runtime: LambdaRuntime) -> None:
    response = http(http_runtime, function_url_event("/healthCheck", method="GET"))
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"success": True}


def test_stop_server_does_not_end_the_runtime(http_runtime: LambdaRuntime) -> None:
    event = function_url_event(
        "/stopServer", method="GET", headers={"authorization": f"Bearer {TOKEN}"}
    )
    assert http(http_runtime, event)["statusCode"] == 200
    assert http_runtime.invoke(
        {"n": 1}, {"diy": True, "type": "hook", "function": "echo"}
    ).json() == {"n": 1}
    assert http_runtime.process.poll() is None
    assert "logName=stopServerIgnored" in http_runtime.output()


def test_without_a_system_token_every_http_call_is_refused(tmp_path: Path) -> None:
    with LambdaRuntime(tmp_path / "log", extensions=FIXTURES / "protocol") as runtime:
        event = function_url_event("/function", body=ENVELOPE, headers={"authorization": "Bearer "})
        assert http(runtime, event)["statusCode"] == 401
        assert "logName=noSystemToken" in runtime.output()
        # direct invokes need no token: IAM guards them
        direct = runtime.invoke({"k": 1}, {"diy": True, "type": "hook", "function": "echo"})
        assert direct.json() == {"k": 1}


def test_the_http_face_is_imported_only_when_an_http_event_arrives(tmp_path: Path) -> None:
    env = {"INTEGRATOR_EXTENSION_SYSTEM_TOKEN": TOKEN}
    probe = {"diy": True, "function": "loadedModules"}
    with LambdaRuntime(tmp_path / "log", extensions=FIXTURES / "lambda_probe", env=env) as runtime:
        assert runtime.invoke({}, probe).json() == []
        assert runtime.invoke({}, {"diy": True, "function": "hello"}).kind == "response"
        assert runtime.invoke({}, probe).json() == []
        event = function_url_event(
            "/function", body={**probe, "options": {}}, headers={"authorization": f"Bearer {TOKEN}"}
        )
        loaded = json.loads(http(runtime, event)["body"])
        assert {"starlette", "mangum"} <= set(loaded)
        assert not {"uvicorn", "gunicorn", "pydantic", "requests"} & set(loaded)


def test_http_events_and_async_direct_invokes_interleave(http_runtime: LambdaRuntime) -> None:
    """A direct invoke of an ``async def`` runs its own event loop; HTTP events still work."""
    headers = {"authorization": f"Bearer {TOKEN}"}
    for _ in range(2):
        response = http(
            http_runtime, function_url_event("/function", body=ENVELOPE, headers=headers)
        )
        assert response["statusCode"] == 200, response
        direct = http_runtime.invoke(
            {"data": [3]}, {"diy": True, "type": "hook", "function": "asyncEcho"}
        )
        assert direct.json() == {"async": True, "data": [3]}
    async_envelope = {**ENVELOPE, "function": "asyncEcho"}
    response = http(
        http_runtime, function_url_event("/function", body=async_envelope, headers=headers)
    )
    assert json.loads(response["body"]) == {"async": True, "data": [1, 2]}
