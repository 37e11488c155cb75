"""uvicorn's HTTP protocol, answering ``POST /function`` without ASGI and writing
each response's head and body in one system call.

Through ASGI, uvicorn builds a scope, starts a task, and passes messages for
every request; on a small call that is about as much work as the call itself.
:class:`HttpProtocol` hands a ``POST /function`` whose whole body it has read
to :meth:`StackApp.answer <stack_runtime.app.StackApp.answer>` directly (see the
class for when), and writes the reply as uvicorn would have, byte for byte.

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

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from .app import Reply, StackApp
from .metrics import MetricsPortGuard

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


def _stack_app(app: Any, port: int | None) -> StackApp | None:
    """The :class:`StackApp` that answers ``POST /function`` on ``port`` as ``app`` would.

    Only wrappers known to leave that answer alone are looked through: uvicorn's
    proxy headers middleware (it rewrites the client address and scheme, which
    that path does not read), and the metrics port guard on any other port.
    """
    if isinstance(app, ProxyHeadersMiddleware):
        app = app.app
    if isinstance(app, MetricsPortGuard):
        app = app.app if port != app.port else None
    return app if isinstance(app, StackApp) else None


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with two changes.

    - Response cycles write through a :class:`ResponseWriter`.
    - A ``POST /function`` whose body fits under uvicorn's read buffer limit
      (it has a ``Content-Length`` and no ``Expect: 100-continue``) and that
      arrives while no other response is under way is answered by the
      :class:`~stack_runtime.app.StackApp` itself (:meth:`StackApp.answer`)
      once its body is in: no ASGI task, scope or messages, and an inline call
      answers within the same read. Everything uvicorn keeps per request (the
      cycle that shutdown, pipelining and keep-alive look at) is kept. While
      uvicorn writes an access log, every request goes through ASGI.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        direct = not self.access_log and self.limit_concurrency is None
        port = self.server[1] if self.server else None
        self.stack_app = _stack_app(self.app, port) if direct else None
        self.answering = False
        """True while uvicorn's on_headers_complete runs for a request to answer directly."""
        self.waiting: RequestResponseCycle | None = None
        """The cycle of a direct request whose body is still coming."""

    def on_headers_complete(self) -> None:
        """Start the request as uvicorn does, or get ready to answer it directly."""
        before = self.cycle
        self.answering = self._can_answer()
        super().on_headers_complete()
        self.answering = False
        cycle = self.cycle
        if cycle is not None and cycle is not before and cycle is not self.waiting:
            cycle.transport = ResponseWriter(self.transport, self.loop)  # type: ignore[assignment]

    def _can_answer(self) -> bool:
        if self.stack_app is None or self.url != b"/function" or self.expect_100_continue:
            return False
        if self.parser.get_method() != b"POST":
            return False
        if self.cycle is not None and not self.cycle.response_complete:
            return False  # pipelined behind a response under way: uvicorn queues it
        length = None
        for name, value in self.headers:
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding" or name == b"upgrade":
                return False
        return length is not None and length.isdigit() and int(length) <= HIGH_WATER_LIMIT

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        if self.answering:  # called by on_headers_complete for this request
            self.answering = False
            self.waiting = cycle
            return
        super()._start_asgi_task(cycle, app)

    def on_message_complete(self) -> None:
        """The body is in: answer a direct request."""
        cycle = self.waiting
        if cycle is None or cycle is not self.cycle:
            super().on_message_complete()
            return
        self.waiting = None
        cycle.more_body = False
        assert self.stack_app is not None
        task = self.stack_app.answer(
            cycle.scope["headers"], cycle.body, lambda reply: self._respond(cycle, reply)
        )
        if task is not None:
            task.add_done_callback(self.tasks.discard)
            self.tasks.add(task)

    def _respond(self, cycle: RequestResponseCycle, reply: Reply) -> None:
        """Write ``reply`` as uvicorn would, head and body in one system call."""
        if cycle.disconnected or cycle.response_complete:
            return
        head = [STATUS_LINE[reply.status]]
        for name, value in (*cycle.default_headers, *reply.headers):
            if name == b"connection" and value.lower() == b"close":
                cycle.keep_alive = False
            head += (name, b": ", value, b"\r\n")
        if not cycle.keep_alive:
            head.append(b"connection: close\r\n")
        head.append(b"\r\n")
        self.transport.writelines((b"".join(head), reply.body))
        cycle.response_started = cycle.response_complete = True
        cycle.message_event.set()
        if not cycle.keep_alive:
            self.transport.close()
        cycle.on_response()
