"""The direct path of a real ``stack-runtime`` host, on and switched off.

``stack_runtime_direct_requests_total`` counts the ``POST /function`` requests a host's
HTTP protocol answered itself (by ``reader``: ``c`` when ``_request.c`` read them,
``httptools`` when uvicorn's parser did); with the direct path off, uvicorn's own
protocol reads and answers every request through ASGI, and none is counted.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
import requests

from ..conftest import FIXTURES
from .server import RunningServer, start

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CALL = {"diy": True, "type": "hook", "function": "echo", "options": {"data": [1, 2]}}


def plain_calls(server: RunningServer, count: int) -> list[bytes]:
    """``count`` calls in the plainest shape (as _request.c reads them), one connection."""
    body = json.dumps(CALL).encode()
    request = (
        b"POST /function HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
        + TOKEN.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    answers = []
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        for _ in range(count):
            conn.sendall(request)
            data = b""
            while not data.endswith(b'{"data":[1,2]}'):
                chunk = conn.recv(65536)
                assert chunk, data
                data += chunk
            answers.append(data)
    return answers


def direct_requests(server: RunningServer) -> dict[str, float]:
    """The host's ``stack_runtime_direct_requests_total``, by reader."""
    text = requests.get(server.url + "/metrics", headers=AUTH, timeout=5).text
    found = re.findall(r'^stack_runtime_direct_requests_total\{reader="(\w+)"\} (\S+)$', text, re.M)
    return {reader: float(value) for reader, value in found}


def exercise(server: RunningServer) -> dict[str, float]:
    """5 plain calls and 3 through requests (Connection: keep-alive, so parsed): the
    answers are right either way; what the host counted as direct."""
    answers = plain_calls(server, 5)
    assert all(a.startswith(b"HTTP/1.1 200 OK\r\n") for a in answers)
    with requests.Session() as session:
        for _ in range(3):
            answer = session.post(server.url + "/function", json=CALL, headers=AUTH, timeout=5)
            assert answer.json() == {"data": [1, 2]}
    return direct_requests(server)


def test_the_direct_path_answers_calls_by_default(tmp_path: Path) -> None:
    """1. a host with default settings; 2. plain and parsed calls; 3. all counted direct."""
    server = start("serve", FIXTURES / "protocol", tmp_path / "log", extra=["--workers", "1"])
    try:
        assert exercise(server) == {"c": 5.0, "httptools": 3.0}
    finally:
        server.stop()
    assert "directPathOff" not in server.output()


@pytest.mark.parametrize(
    ("extra", "env"),
    [(["--no-direct-path"], {}), ([], {"STACK_DIRECT_PATH": "false"})],
    ids=["flag", "environment"],
)
def test_switched_off_every_request_goes_through_uvicorn(
    tmp_path: Path, extra: list[str], env: dict[str, str]
) -> None:
    """1. a host with the direct path off; 2. the same calls; 3. answered, none directly."""
    server = start(
        "serve", FIXTURES / "protocol", tmp_path / "log", extra=["--workers", "1", *extra], env=env
    )
    try:
        assert exercise(server) == {}
    finally:
        server.stop()


def test_the_dev_server_can_be_switched_off_too(tmp_path: Path) -> None:
    """``stack-runtime dev --no-direct-path`` serves its calls through uvicorn's protocol."""
    server = start("dev", FIXTURES / "protocol", tmp_path / "log", extra=["--no-direct-path"])
    try:
        answers = plain_calls(server, 2)
        assert all(a.startswith(b"HTTP/1.1 200 OK\r\n") for a in answers)
    finally:
        server.stop()
