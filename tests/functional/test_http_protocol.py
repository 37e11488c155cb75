"""The worker's HTTP protocol under a real uvicorn server, over a real loopback socket."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from stack_runtime.server.httptools import HttpProtocol


class SlowBodyApp:
    """``/slow`` sends its head, then its body only once the test says so; others echo."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.release: asyncio.Event | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.loop = asyncio.get_running_loop()
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if scope["path"] == "/slow":
            self.release = asyncio.Event()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await self.release.wait()
            await send({"type": "http.response.body", "body": b"late", "more_body": False})
            return
        headers = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
def served() -> Iterator[tuple[SlowBodyApp, int]]:
    app = SlowBodyApp()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, http=HttpProtocol, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.01)
    yield app, port
    server.should_exit = True
    thread.join(10)
    listener.close()


def read_until(conn: socket.socket, marker: bytes, data: bytes = b"") -> bytes:
    while marker not in data:
        chunk = conn.recv(65536)
        assert chunk, f"connection closed; got {data!r}"
        data += chunk
    return data


def test_a_head_is_not_held_for_a_body_that_comes_later(served: tuple[SlowBodyApp, int]) -> None:
    """1. the app sends its head and waits; 2. the client receives the head;
    3. only then is the body released, and it arrives after the head."""
    app, port = served
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")
        head = read_until(conn, b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"transfer-encoding: chunked" in head
        assert app.loop is not None and app.release is not None
        app.loop.call_soon_threadsafe(app.release.set)
        rest = read_until(conn, b"0\r\n\r\n", head.split(b"\r\n\r\n", 1)[1])
        assert b"late" in rest


def test_pipelined_requests_are_answered_in_order(served: tuple[SlowBodyApp, int]) -> None:
    _, port = served
    requests = b"".join(
        b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
        for body in (b"one", b"two", b"three")
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(requests)
        data = b""
        while data.count(b"HTTP/1.1 200 OK") < 3 or not data.endswith(b"three"):
            chunk = conn.recv(65536)
            assert chunk, f"connection closed; got {data!r}"
            data += chunk
    bodies = [part.split(b"\r\n\r\n", 1)[1] for part in data.split(b"HTTP/1.1 ")[1:]]
    assert bodies == [b"one", b"two", b"three"]
