"""The integrator.io API client against a real HTTP server on 127.0.0.1 that the tests run."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from stack_runtime.client import DEFAULT_BASE_URL, IntegratorAPIError, IntegratorClient
from stack_runtime.testing import Stack

from .server import free_port

TOKEN = "one-time-token-123"


@dataclass
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class FakeAPI:
    """A local HTTP server: answers by (method, path), records every request."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], Answer] = {}
        self.seen: list[Seen] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                api.seen.append(Seen(self.command, self.path, dict(self.headers), body))
                answer = api.answers.get((self.command, self.path), Answer(404, b"no route"))
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def answer(self, method: str, path: str, status: int, payload: Any = None, **kw: Any) -> None:
        body = kw.pop("body", None)
        if body is None:
            body = b"" if payload is None else json.dumps(payload).encode()
        self.answers[(method, path)] = Answer(status, body, **kw)


@pytest.fixture
def api() -> Iterator[FakeAPI]:
    fake = FakeAPI()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def test_get_sends_the_bearer_token_to_the_base_url(api: FakeAPI) -> None:
    api.answer("GET", "/v1/flows/f1", 200, {"_id": "f1", "name": "Orders"})
    client = IntegratorClient(TOKEN, base_url=api.url)
    assert client.get("/flows/f1") == {"_id": "f1", "name": "Orders"}
    assert api.seen[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert api.seen[0].headers["Accept"] == "application/json"


def test_json_bodies_and_empty_answers(api: FakeAPI) -> None:
    api.answer("POST", "/v1/flows/f1/run", 200, {"_jobId": "j1"})
    api.answer("PUT", "/v1/state/cursor", 200, {"at": 5})
    api.answer("DELETE", "/v1/state/cursor", 204)
    client = IntegratorClient(TOKEN, base_url=api.url + "/")
    assert client.post("flows/f1/run", {"export": {"_id": "e"}}) == {"_jobId": "j1"}
    assert json.loads(api.seen[0].body) == {"export": {"_id": "e"}}
    assert client.set_state("cursor", {"at": 5}) == {"at": 5}
    assert client.delete("state/cursor") is None


def test_an_api_error_carries_status_code_and_message(api: FakeAPI) -> None:
    api.answer(
        "GET",
        "/v1/flows/nope",
        404,
        {"errors": [{"code": "invalid_ref", "message": "Flow not found."}]},
    )
    client = IntegratorClient(TOKEN, base_url=api.url)
    with pytest.raises(IntegratorAPIError) as failed:
        client.get("flows/nope")
    error = failed.value
    assert (error.status, error.code, error.message) == (404, "invalid_ref", "Flow not found.")
    assert error.errors == [{"code": "invalid_ref", "message": "Flow not found."}]
    assert str(error) == (
        f"integrator.io API GET {api.url}/flows/nope answered 404: Flow not found."
    )
    assert TOKEN not in str(error) and TOKEN not in repr(client)


def test_a_server_error_without_json_still_says_what_happened(api: FakeAPI) -> None:
    api.answer(
        "GET",
        "/v1/exports?limit=5",
        502,
        body=b"<html>Bad gateway</html>",
        content_type="text/html",
    )
    with pytest.raises(IntegratorAPIError) as failed:
        IntegratorClient(TOKEN, base_url=api.url).get("exports", params={"limit": 5})
    assert failed.value.status == 502 and failed.value.code == "http_502"
    assert failed.value.message == "<html>Bad gateway</html>"
    assert api.seen[0].path == "/v1/exports?limit=5"


def test_an_unreachable_api_is_an_error_too() -> None:
    client = IntegratorClient(TOKEN, base_url=f"http://127.0.0.1:{free_port()}/v1", timeout=5)
    with pytest.raises(IntegratorAPIError) as failed:
        client.get("flows")
    assert failed.value.status == 0 and failed.value.code == "api_unreachable"


def test_get_all_follows_next_links_on_the_same_host_only(api: FakeAPI) -> None:
    second = f"{api.url}/imports?page=2"
    elsewhere = f"http://127.0.0.2:{api.port}/v1/imports?page=3"
    api.answer("GET", "/v1/imports", 200, [{"n": 1}], headers={"Link": f'<{second}>; rel="next"'})
    api.answer(
        "GET", "/v1/imports?page=2", 200, [{"n": 2}], headers={"Link": f'<{elsewhere}>; rel="next"'}
    )
    items = list(IntegratorClient(TOKEN, base_url=api.url).get_all("imports"))
    assert items == [{"n": 1}, {"n": 2}]
    assert [s.path for s in api.seen] == ["/v1/imports", "/v1/imports?page=2"]


def test_the_base_url_comes_from_the_argument_the_environment_or_the_default() -> None:
    env = {"INTEGRATOR_API_URL": "http://127.0.0.1:9/eu/v1"}
    assert IntegratorClient(TOKEN, environ={}).base_url == DEFAULT_BASE_URL + "/"
    assert IntegratorClient(TOKEN, environ=env).url("flows") == "http://127.0.0.1:9/eu/v1/flows"
    explicit = IntegratorClient(TOKEN, base_url="http://127.0.0.1:8/v1", environ=env)
    assert explicit.url("/flows") == "http://127.0.0.1:8/v1/flows"


def test_from_options_needs_a_bearer_token() -> None:
    with pytest.raises(ValueError, match="bearerToken"):
        IntegratorClient.from_options({"_integrationId": "i"})
    assert IntegratorClient.from_options({"bearerToken": TOKEN}, base_url="http://x/v1").base_url


def test_an_unhandled_api_error_becomes_the_calls_422(
    api: FakeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An extension lets the error through: integrator.io sees the API's code and message."""
    diy = tmp_path / "diy"
    diy.mkdir()
    (diy / "__init__.py").write_text("")
    (diy / "hooks.py").write_text(
        "from stack_runtime.client import IntegratorClient\n\n"
        "def preSavePage(options):\n"
        "    flow = IntegratorClient.from_options(options).get(f\"flows/{options['_flowId']}\")\n"
        "    return {'data': [dict(r, flow=flow['name']) for r in options['data']]}\n"
    )
    monkeypatch.setenv("INTEGRATOR_API_URL", api.url)
    with Stack.load(tmp_path) as stack:
        flow_id = stack.options("preSavePage")["_flowId"]
        api.answer("GET", f"/v1/flows/{flow_id}", 200, {"name": "Orders"})
        assert stack.call("preSavePage", records=[{"id": 1}])["data"] == [
            {"id": 1, "flow": "Orders"}
        ]
        api.answer(
            "GET",
            f"/v1/flows/{flow_id}",
            401,
            {"errors": [{"code": "unauthorized", "message": "Bearer token expired."}]},
        )
        result = stack.invoke("preSavePage", records=[{"id": 1}])
    assert result.status == 422
    assert result.errors == [
        {
            "message": f"integrator.io API GET {api.url}/flows/{flow_id} answered 401: "
            "Bearer token expired.",
            "code": "unauthorized",
        }
    ]
