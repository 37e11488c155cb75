"""The drain with real sockets: connections waiting in the listen queue, kept connections."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import threading
import time
from typing import Any

import uvicorn

from stack_runtime.asgi.state import HostState
from stack_runtime.server.build import build_app
from stack_runtime.server.httptools import HttpProtocol
from stack_runtime.server.worker import DrainingServer
from stack_runtime.settings import Settings

from ..conftest import FIXTURES


def test_a_connection_waiting_in_the_queue_is_answered_before_the_drain_ends() -> None:
    """1. a client connects and sends a call while nobody accepts (it waits in the queue);
    2. the drain starts: it takes the connection and stops the socket listening;
    3. the drain ends only after the call was answered, with Connection: close;
    4. a new connection is refused."""
    answered: list[bytes] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = (await receive())["body"]
        headers = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        answered.append(body)

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    client.sendall(b"POST /function HTTP/1.1\r\nhost: x\r\ncontent-length: 6\r\n\r\nqueued")
    received: list[bytes] = []

    def read() -> None:
        data = b""
        while chunk := client.recv(65536):
            data += chunk
        received.append(data)

    reader = threading.Thread(target=read)
    reader.start()

    config = uvicorn.Config(app, http=HttpProtocol, lifespan="off", log_level="warning")
    config.load()
    state = HostState(drain_idle_wait=5)
    state.mark_stopping()
    server = DrainingServer(config, state=state, pool=None, ppid=os.getppid())
    server.lifespan = config.lifespan_class(config)
    server.servers = []  # uvicorn's own servers: none here, nobody accepts but the drain

    async def drain() -> list[bytes]:
        await server.shutdown(sockets=[listener])
        return list(answered)

    assert asyncio.run(drain()) == [b"queued"]
    reader.join(10)
    client.close()
    assert received and received[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"connection: close" in received[0].lower() and received[0].endswith(b"queued")
    with socket.socket() as probe:
        try:
            probe.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            pass
        else:
            raise AssertionError("the port still accepts connections after the drain")


TOKEN = "drain-token"


def _request(path: str, body: bytes = b"", extra: bytes = b"") -> bytes:
    method = b"POST" if body else b"GET"
    head = method + b" " + path.encode() + b" HTTP/1.1\r\nhost: x\r\n"
    head += b"authorization: Bearer " + TOKEN.encode() + b"\r\n" + extra
    if body:
        head += b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body)
    return head + b"\r\n" + body


def _answer(conn: socket.socket) -> tuple[bytes, bytes]:
    """One response: its head (lower-cased) and body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, f"the connection closed before an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head.lower()).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        body += conn.recv(65536)
    return head.lower(), body


def test_from_the_signal_on_every_answer_closes_its_connection() -> None:
    """1. three kept-alive connections have each had one answer: a call read in C, a call
    parsed by httptools and answered directly, a health check through ASGI; a fourth
    connection has a call under way;
    2. the worker gets SIGTERM, and its event loop goes on turning before the drain's
    shutdown begins (held here, as it is for up to 0.1 s);
    3. a new request on each kept connection is answered with Connection: close, and the
    connection is closed; so is the call that was under way."""
    settings = Settings(extensions_dir=FIXTURES / "protocol", call_timeout=5).with_tokens(TOKEN)
    app = build_app(settings)
    config = uvicorn.Config(
        app, http=HttpProtocol, lifespan="off", log_config=None, access_log=False
    )
    state = HostState(drain_idle_wait=5)
    server = DrainingServer(config, state=state, pool=None, ppid=os.getppid())
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    loop = asyncio.new_event_loop()
    serve = server.serve(sockets=[listener])
    thread = threading.Thread(target=loop.run_until_complete, args=(serve,), daemon=True)
    thread.start()
    call = json.dumps({"diy": True, "type": "hook", "function": "echo", "options": {}}).encode()
    slow = {"diy": True, "type": "hook", "function": "asyncSleepy", "options": {"seconds": 1}}
    requests = {
        "read in C": _request("/function", call),
        "parsed, answered directly": _request("/function", call, b"x-odd:  spaced \r\n"),
        "through ASGI": _request("/healthCheck"),
    }
    kept: dict[str, socket.socket] = {}
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        for name in [*requests, "busy"]:
            kept[name] = socket.create_connection(("127.0.0.1", port), timeout=10)
        busy = kept.pop("busy")
        for name, request in requests.items():
            kept[name].sendall(request)
            head, _ = _answer(kept[name])
            assert head.startswith(b"http/1.1 200") and b"connection: close" not in head, name
        busy.sendall(_request("/function", json.dumps(slow).encode()))
        time.sleep(0.2)  # the call is under way

        async def signal_held() -> None:
            server.handle_exit(signal.SIGTERM, None)
            server.should_exit = False  # the loop turns on, as before uvicorn sees the signal

        asyncio.run_coroutine_threadsafe(signal_held(), loop).result(5)
        for name, request in requests.items():
            kept[name].sendall(request)
            head, _ = _answer(kept[name])
            assert head.startswith(b"http/1.1 200") and b"connection: close" in head, name
            assert kept[name].recv(1) == b"", f"{name}: the connection stayed open"
        head, body = _answer(busy)
        assert b"connection: close" in head and json.loads(body) == {"slept": 1}
        assert busy.recv(1) == b""
        busy.close()
    finally:
        server.should_exit = True
        thread.join(10)
        for conn in kept.values():
            conn.close()
        listener.close()
        loop.close()
