"""uvicorn's HTTP protocol, writing each response's head and body in one system call.

uvicorn writes a response's status line and headers to the socket as soon as the
app sends ``http.response.start``, then the body when it sends
``http.response.body``: two writes, and on a busy host two wake-ups of the
client (or of the balancer) per response. :class:`HttpProtocol` holds the head
back until the body's first bytes arrive, and writes both together; a head whose
body has not come by the event loop's next turn is written alone then, so a
slow body (or none, as for a ``HEAD``) never delays it further.

Everything else is uvicorn's httptools protocol unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["HttpProtocol", "ResponseWriter"]

_HEAD = b"HTTP/1.1 "
_CONTINUE = b"HTTP/1.1 100 "


class ResponseWriter:
    """The transport as one request's response cycle sees it.

    The first response head written through it (not a ``100 Continue``) is held
    until the next write, a ``close``, or the loop's next turn, whichever comes
    first. Anything else is passed to ``transport`` at once.
    """

    __slots__ = ("_head", "_seen_head", "loop", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self.loop = loop
        self._head: bytes | None = None
        self._seen_head = False

    def write(self, data: bytes) -> None:
        """Write ``data``; the response head waits for its body (see the class)."""
        head = self._head
        if head is not None:
            self._head = None
            self.transport.writelines((head, data))  # one writev
        elif not self._seen_head and data.startswith(_HEAD) and not data.startswith(_CONTINUE):
            self._seen_head = True
            self._head = data
            self.loop.call_soon(self.release)
        else:
            self.transport.write(data)

    def release(self) -> None:
        """Write a held head now (unless the connection has closed meanwhile)."""
        head = self._head
        if head is not None:
            self._head = None
            if not self.transport.is_closing():
                self.transport.write(head)

    def close(self) -> None:
        """Write a held head, then close the transport."""
        self.release()
        self.transport.close()

    def is_closing(self) -> bool:
        """Whether the transport is closing."""
        return self.transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol whose response cycles write through a :class:`ResponseWriter`."""

    def on_headers_complete(self) -> None:
        """Start the request as uvicorn does; its response goes through a :class:`ResponseWriter`."""
        before = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle is not before:
            cycle.transport = ResponseWriter(self.transport, self.loop)  # type: ignore[assignment]
