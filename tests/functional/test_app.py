"""The ASGI app through Starlette's TestClient, on fixture trees."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from stack_runtime.host import build_app
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
