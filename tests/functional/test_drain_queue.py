"""The drain's first step with a real socket: connections waiting in the listen queue."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from typing import Any

import uvicorn

from stack_runtime.protocol import HttpProtocol
from stack_runtime.state import HostState
from stack_runtime.worker import DrainingServer


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
