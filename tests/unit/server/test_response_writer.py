"""The response writer: a response head waits for its body, then both go in one write."""

from __future__ import annotations

import asyncio
from typing import Any

from stack_runtime.server.httptools import ResponseWriter

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class Transport:
    """Records what reaches the socket, one entry per system call the real one would make."""

    def __init__(self) -> None:
        self.calls: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.calls.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        self.calls.append(b"".join(chunks))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else None


def run(steps: Any) -> Transport:
    transport = Transport()

    async def main() -> None:
        writer = ResponseWriter(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
        await steps(writer)

    asyncio.run(main())
    return transport


def test_head_and_body_are_written_together() -> None:
    async def steps(writer: ResponseWriter) -> None:
        writer.write(HEAD)
        writer.write(b"{}")

    assert run(steps).calls == [HEAD + b"{}"]


def test_head_alone_is_written_on_the_loops_next_turn() -> None:
    seen: list[list[bytes]] = []

    async def steps(writer: ResponseWriter) -> None:
        writer.write(HEAD)
        seen.append(list(writer.transport.calls))  # type: ignore[attr-defined]
        await asyncio.sleep(0)
        seen.append(list(writer.transport.calls))  # type: ignore[attr-defined]
        writer.write(b"{}")

    assert run(steps).calls == [HEAD, b"{}"]
    assert seen == [[], [HEAD]]


def test_only_the_first_head_is_held_and_continue_is_never() -> None:
    async def steps(writer: ResponseWriter) -> None:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        writer.write(HEAD)
        writer.write(HEAD)  # a body that happens to read like a head
        writer.write(b"x")

    assert run(steps).calls == [b"HTTP/1.1 100 Continue\r\n\r\n", HEAD + HEAD, b"x"]


def test_close_writes_a_held_head_first() -> None:
    async def steps(writer: ResponseWriter) -> None:
        writer.write(HEAD)
        writer.close()
        assert writer.is_closing()

    transport = run(steps)
    assert transport.calls == [HEAD]
    assert transport.closed


def test_other_transport_methods_pass_through() -> None:
    async def steps(writer: ResponseWriter) -> None:
        assert writer.get_extra_info("peername") == ("127.0.0.1", 1)

    assert run(steps).calls == []


def test_a_held_head_is_dropped_when_the_connection_closed_meanwhile() -> None:
    async def steps(writer: ResponseWriter) -> None:
        writer.write(HEAD)
        writer.transport.closed = True  # type: ignore[attr-defined]  # the client went away
        await asyncio.sleep(0)

    assert run(steps).calls == []
