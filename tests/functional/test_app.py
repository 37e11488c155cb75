"""The ASGI app through Starlette's TestClient, on fixture trees."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from stack_runtime.server.build import build_app
from stack_runtime.settings import Settings


@pytest.fixture
def client(fixtures: Path) -> TestClient:
    settings = Settings(extensions_dir=fixtures / "protocol", system_tokens=("t",), call_timeout=1)
    return TestClient(build_app(settings))


AUTH = {"Authorization": "Bearer t"}


def test_call(client: TestClient) -> None:
    response = client.post(
        "/function",
        json={"diy": True, "type": "hook", "function": "echo", "options": {"a": 1}},
        headers=AUTH,
    )
    assert response.status_code == 200 and response.json() == {"a": 1}


def test_async_timeout(client: TestClient) -> None:
    response = client.post(
        "/function",
        json={"diy": True, "type": "hook", "function": "asyncSleepy", "options": {"seconds": 3}},
        headers=AUTH,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "function_timeout"


def test_request_id_reaches_the_thread(client: TestClient) -> None:
    response = client.post(
        "/function",
        json={"diy": True, "type": "hook", "function": "requestId", "options": {}},
        headers=AUTH,
    )
    assert response.status_code == 200
    req_id = response.json()
    assert isinstance(req_id, str) and len(req_id) == 17 and req_id[:13].isdigit()


def test_health_routes(client: TestClient) -> None:
    assert client.get("/").json() == {"success": True}
    assert client.get("/livez").text == "OK"
    assert client.post("/healthCheck").status_code == 405


def call(client: TestClient, function: str, options: object) -> object:
    return client.post(
        "/function",
        json={"diy": True, "type": "hook", "function": function, "options": options},
        headers=AUTH,
    )


def test_def_functions_always_run_in_worker_threads(client: TestClient) -> None:
    """A def function runs in a worker thread, however quick its calls have been."""
    names = [call(client, "threadName", {}).json() for _ in range(200)]  # type: ignore[attr-defined]
    assert all(name.startswith("extension_") for name in names)


def test_def_timeout_then_the_host_goes_on(client: TestClient) -> None:
    response = call(client, "sleepy", {"seconds": 3})
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert response.json()["errors"][0] == {  # type: ignore[attr-defined]
        "message": "The function sleepy did not finish within 1 seconds.",
        "code": "function_timeout",
    }
    assert call(client, "echo", {"after": True}).json() == {"after": True}  # type: ignore[attr-defined]


def test_system_exit_in_an_async_function_is_a_422(client: TestClient) -> None:
    response = call(client, "asyncExit", {})
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert response.json() == {  # type: ignore[attr-defined]
        "errors": [{"message": "3", "code": 3}]  # SystemExit.code, as for a def function
    }
    assert call(client, "asyncEcho", {"data": [1]}).json() == {"async": True, "data": [1]}  # type: ignore[attr-defined]
