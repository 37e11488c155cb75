"""uvicorn's HTTP protocol, answering ``POST /function`` without ASGI and writing
each response's head and body in one system call.

Through ASGI, uvicorn builds a scope, starts a task, and passes messages for
every request; on a small call that is about as much work as the call itself.
:class:`HttpProtocol` hands a ``POST /function`` whose whole body it has read
to :meth:`StackApp.answer <stack_runtime.asgi.app.StackApp.answer>` directly (see the
class for when), and writes the reply as uvicorn would have, byte for byte.
When one read brings exactly one such request in its plainest shape, even
uvicorn's parser is skipped: ``_request.c`` reads it, and anything it does not
read exactly as that parser would goes to the parser instead.

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
from collections.abc import Callable, Mapping
from importlib.metadata import version
from typing import Any, NamedTuple

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from ..asgi.app import Reply, StackApp
from ..asgi.metrics import CallMetrics, MetricsPortGuard
from ..core.logs import kv, logger

_whole_post: Callable[[bytes], tuple[dict[bytes, bytes], bytes] | None] | None
try:
    from ._request import whole_post as _whole_post
except ImportError:  # built without a C compiler: every request goes through uvicorn's parser
    _whole_post = None

__all__ = ["REVIEWED", "HttpProtocol", "Reviewed", "ResponseWriter", "http_protocol"]


class Reviewed(NamedTuple):
    """The uvicorn and httptools whose request checks the direct path was read against."""

    uvicorn: str
    httptools: str
    sources: Mapping[str, str]
    """sha256 (first 16 hex digits) of the source of each uvicorn method the direct path
    stands in for, by ``Class.method`` of ``uvicorn.protocols.http.httptools_impl``."""

    def installed(self) -> bool:
        """Whether the uvicorn and httptools installed are the versions reviewed."""
        return (version("uvicorn"), version("httptools")) == (self.uvicorn, self.httptools)


REVIEWED = Reviewed(
    uvicorn="0.54.0",
    httptools="0.9.0",
    sources={
        "HttpToolsProtocol.__init__": "4f08999410347141",
        "HttpToolsProtocol.data_received": "010a7ae59a5d3b1a",
        "HttpToolsProtocol.on_message_begin": "96d377fdc7c2baef",
        "HttpToolsProtocol.on_url": "37be44e962b04ca8",
        "HttpToolsProtocol.on_header": "65d62c044f61fdbd",
        "HttpToolsProtocol.on_headers_complete": "1ea8589acfad92d8",
        "HttpToolsProtocol.on_body": "dba9c32aeba35b6a",
        "HttpToolsProtocol.on_message_complete": "1fbad42dc31fc01f",
        "HttpToolsProtocol.send_400_response": "ae5a4a3782b646fd",
        "RequestResponseCycle.send": "abdd8601b326a8da",
    },
)
"""The versions (and uvicorn's sources) the direct path mirrors; on any other installed
version the workers read every request with uvicorn's own protocol (:func:`http_protocol`),
and ``tests/unit/server/test_reviewed.py`` fails until this is brought up to date.

The direct path answers a ``POST /function`` without uvicorn's ``data_received`` parsing
it (``_request.c`` reads it) or without its ``on_headers_complete`` starting an ASGI task.
What uvicorn checks there, and how the direct path does the same:

``HttpToolsProtocol.__init__``
    httptools' parser with ``lenient_data_after_close``. ``_request.c`` reads no request
    with anything after its body, nor with a ``Connection`` header.
``data_received``
    Cancels the keep-alive timer: so does :meth:`HttpProtocol.data_received` before a
    request read in C is answered. A parser error gets ``send_400_response``: ``_request.c``
    reads only requests httptools parses without error (the parser differential fuzz,
    ``tests/fuzz``), and leaves anything else to the parser from its first byte. Direct
    answers to the requests before the error in the same read are dropped, as uvicorn's
    ASGI tasks for them never write before its 400 (:meth:`HttpProtocol.data_received`).
    ``HttpParserUpgrade``: ``_request.c`` refuses ``Upgrade`` and ``Connection`` headers;
    the parsed direct path refuses ``Upgrade``.
``on_message_begin``
    A fresh scope, URL, header list and ``expect_100_continue``: a request read in C whose
    answer waits gets them from this very method (``_cycle_of_whole``).
``on_url``
    The URL in pieces: ``_request.c`` reads only the exact target ``/function`` (no query,
    fragment, escape or absolute form); the parsed direct path only a URL of ``/function``.
``on_header``
    Lower-cases the name (ASCII), notes ``Expect: 100-continue``, keeps every header in
    order, without a limit on their count. ``_request.c`` lower-cases names the same way,
    refuses any ``Expect``, reads at most 100 headers (more go to the parser), and hands
    :meth:`StackApp.answer` the ``dict`` of the list (the last of a repeated name wins),
    as the parsed direct path does; it reads values as sent, and no value with a space
    before or after it, so trimming cannot differ. The parsed direct path refuses a
    request that expects ``100-continue``.
``on_headers_complete``
    HTTP version (``_request.c``: ``HTTP/1.1`` only), method (``POST`` only), upgrade
    (refused), path and query from ``httptools.parse_url`` (``/function``, empty), the
    ``limit_concurrency`` 503 (the direct path is off while it is set, or while uvicorn
    writes an access log), keep-alive (HTTP/1.1 without ``Connection``: kept alive), and
    pipelining: a request that comes while a response is under way is queued, so the
    direct path answers only while none is (``HttpProtocol._free``).
``on_body``, ``on_message_complete``
    The body by ``Content-Length`` (``_request.c``: one length of digits, no
    ``Transfer-Encoding``, the whole body and nothing after it in one read; the parsed
    direct path: a length up to uvicorn's read buffer limit, where uvicorn pauses reading).
``send_400_response``
    The answer to a parser error: sent by uvicorn's own ``data_received`` in either path.
``RequestResponseCycle.send``
    How a response is written (status line, default headers, the app's headers,
    ``connection: close`` when not kept alive): :meth:`HttpProtocol._respond` writes the
    same bytes (the stream differential and ``tests/functional/test_direct_answers.py``).

httptools 0.9.0 (llhttp): what ``_request.c`` reads is a strict subset of what it reads,
read field by field the same way (method, path, headers, body, accepted or refused), as
the differential fuzz in ``tests/fuzz`` checks under AddressSanitizer and UBSan.
"""

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


def _header_lines(headers: list[tuple[bytes, bytes]]) -> tuple[object, bytes, bool]:
    """``headers``, their ``name: value`` lines, and whether one is ``connection: close``."""
    lines = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    closes = any(name == b"connection" and value.lower() == b"close" for name, value in headers)
    return headers, lines, closes


class _Waiting:
    """An answer that waits, counted among the server's tasks as uvicorn's ASGI tasks are
    (the drain waits for them), until it is sent."""

    __slots__ = ("cycle", "tasks")

    def __init__(self, tasks: set[Any]) -> None:
        self.tasks = tasks
        self.cycle: RequestResponseCycle | None = None
        """The cycle made for a request read by ``_request.c`` whose answer waits."""

    def track(self) -> None:
        self.tasks.add(self)

    def done(self) -> None:
        self.tasks.discard(self)

    def cancel(self, msg: object = None) -> None:
        """As ``asyncio.Task.cancel`` for uvicorn's shutdown: a call in a thread cannot be
        stopped, and is answered within its time limit."""


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with two changes.

    - Response cycles write through a :class:`ResponseWriter`.
    - A ``POST /function`` whose body fits under uvicorn's read buffer limit
      (it has a ``Content-Length`` and no ``Expect: 100-continue``) and that
      arrives while no other response is under way (and the client reads what
      it is sent: the transport is not above its write limit) is answered by the
      :class:`~stack_runtime.asgi.app.StackApp` itself (:meth:`StackApp.answer`)
      once its body is in: no ASGI task, scope or messages; a refused call is
      answered within the same read, and a call's answer is written as soon as
      its result comes back from its thread or task. Everything uvicorn keeps per request (the
      cycle that shutdown, pipelining and keep-alive look at) is kept. While
      uvicorn writes an access log, every request goes through ASGI.
    - Such a request that comes in one read, alone and in its plainest shape
      (see ``_request.c``), while the parser is between requests, is read
      without the parser and answered the same way; a cycle is made for it
      only when its answer has to wait.
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
        self.between = True
        """True while the parser has seen no part of a request it has not finished."""
        self.whole = _whole_post if self.stack_app is not None else None
        self.defaults: tuple[object, bytes, bool] = (None, b"", False)
        """uvicorn's default headers last written, as header lines, and whether they close."""
        self.held: list[bytes] | None = None
        """While uvicorn's parser reads one packet: the direct answers written meanwhile."""
        self.held_bytes = 0
        self.held_close = False
        """One of the answers held closes the connection (so no other is answered directly)."""
        metrics = getattr(self.stack_app, "dispatcher", None)
        metrics = getattr(metrics, "metrics", None)
        self.counted = metrics.direct if isinstance(metrics, CallMetrics) else [0, 0]
        """Requests answered directly, not yet in the metrics: [parsed by httptools, read in C]."""

    def data_received(self, data: bytes) -> None:
        """Answer a whole plain ``POST /function`` at once, else parse ``data`` as uvicorn does.

        The direct answers to requests the parser finds in ``data`` are held until it has
        read all of it, and written then: if the parser fails on a later request in
        ``data``, they are dropped, and the client gets only uvicorn's 400 (as from uvicorn,
        whose ASGI tasks for those requests cannot write before that 400 closes the
        connection).
        """
        if self.stack_app is None:
            super().data_received(data)
            return
        whole = self.whole
        if whole is not None and self.between and self._free():
            request = whole(data)
            if request is not None:
                self._unset_keepalive_if_required()
                self.counted[1] += 1
                self._answer_whole(*request)
                return
        held: list[bytes] = []
        self.held = held
        try:
            super().data_received(data)
        finally:
            self.held = None
            self.held_bytes = 0
        if held and not self.transport.is_closing():
            self.transport.writelines(held)
        if self.held_close:
            self.held_close = False
            self.transport.close()
        elif self.waiting is not None:
            self._answer_before_body()

    def _answer_before_body(self) -> None:
        """Answer now the direct request whose body is still coming, if its headers alone
        refuse it (a wrong token), as its ASGI task would after this packet, rather than
        once its body is in; the rest of the body is then read and dropped, as by uvicorn."""
        cycle = self.waiting
        assert cycle is not None and self.stack_app is not None
        headers = dict(cycle.scope["headers"])
        if cycle is self.cycle and self.stack_app.refuses(headers):
            self.waiting = None
            self.counted[0] += 1
            self.stack_app.answer(headers, b"", lambda reply: self._respond(cycle, reply))

    def _free(self) -> bool:
        """No response is under way, and the client reads what it is sent (the transport
        is not above its write limit, and the answers held while this packet is parsed
        are not either): a request may be answered directly. Otherwise uvicorn queues it
        behind the response, or waits for the client."""
        cycle = self.cycle
        return (
            not self.flow.write_paused
            and self.held_bytes <= HIGH_WATER_LIMIT
            and not self.held_close
            and (cycle is None or cycle.response_complete)
        )

    def on_message_begin(self) -> None:
        self.between = False
        super().on_message_begin()

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
        if self.parser.get_method() != b"POST" or not self._free():
            return False
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
        self.between = True
        cycle = self.waiting
        if cycle is None or cycle is not self.cycle:
            super().on_message_complete()
            return
        self.waiting = None
        cycle.more_body = False
        self.counted[0] += 1
        assert self.stack_app is not None
        waiting = _Waiting(self.tasks)

        def respond(reply: Reply) -> None:
            waiting.done()
            self._respond(cycle, reply)

        if self.stack_app.answer(dict(cycle.scope["headers"]), cycle.body, respond):
            waiting.track()

    def _answer_whole(self, headers: dict[bytes, bytes], body: bytes) -> None:
        """Answer a request read by ``_request.c``: its cycle is made only if the answer waits."""
        assert self.stack_app is not None
        waiting = _Waiting(self.tasks)

        def respond(reply: Reply) -> None:
            waiting.done()
            self._respond(waiting.cycle, reply)

        if self.stack_app.answer(headers, body, respond):
            waiting.cycle = self._cycle_of_whole(headers)
            waiting.track()

    def _cycle_of_whole(self, headers: Mapping[bytes, bytes]) -> RequestResponseCycle:
        """The cycle uvicorn would have made for a request read by ``_request.c`` (now current)."""
        HttpToolsProtocol.on_message_begin(self)  # uvicorn's scope (the parser is not told)
        self.url = b"/function"
        self.headers.extend(headers.items())
        scope = self.scope
        scope["method"] = "POST"
        scope["path"] = self.root_path + "/function"
        scope["raw_path"] = self.root_path.encode("ascii") + b"/function"
        scope["query_string"] = b""
        cycle = self.cycle = RequestResponseCycle(
            scope=scope,
            transport=self.transport,
            flow=self.flow,
            logger=self.logger,
            access_logger=self.access_logger,
            access_log=self.access_log,
            default_headers=self.server_state.default_headers,
            message_event=asyncio.Event(),
            expect_100_continue=False,
            keep_alive=True,
            on_response=self.on_response_complete,
        )
        cycle.more_body = False
        return cycle

    def _respond(self, cycle: RequestResponseCycle | None, reply: Reply) -> None:
        """Write ``reply`` as uvicorn would, head and body in one system call.

        ``cycle`` is None for a request read by ``_request.c`` and answered
        before :meth:`data_received` returns (an HTTP/1.1 request without a
        ``Connection`` header: kept alive).
        """
        if cycle is None:
            default_headers, keep_alive = self.server_state.default_headers, True
        elif cycle.disconnected or cycle.response_complete:
            return
        else:
            default_headers, keep_alive = cycle.default_headers, cycle.keep_alive
        defaults = self.defaults
        if defaults[0] is not default_headers:  # uvicorn makes a new list when the date changes
            defaults = self.defaults = _header_lines(default_headers)
        head = [STATUS_LINE[reply.status], defaults[1]]
        closes = defaults[2]  # a header says close already: uvicorn adds no second one
        for name, value in reply.headers:
            if name == b"connection" and value.lower() == b"close":
                closes = True
            head += (name, b": ", value, b"\r\n")
        if closes:
            keep_alive = False
        elif not keep_alive:
            head.append(b"connection: close\r\n")
        head.append(b"\r\n")
        held = self.held
        close = not keep_alive
        if held is None:
            self.transport.writelines((b"".join(head), reply.body))
        else:  # written (and the connection closed) once the parser has read the packet
            held += (b"".join(head), reply.body)
            self.held_bytes += len(held[-2]) + len(reply.body)
            self.held_close |= close
            close = False
        if cycle is None:
            if close:
                self.transport.close()
            self.on_response_complete()
            return
        cycle.keep_alive = keep_alive
        cycle.response_started = cycle.response_complete = True
        cycle.message_event.set()
        if close:
            self.transport.close()
        cycle.on_response()


def http_protocol(direct_path: bool = True) -> type[HttpToolsProtocol]:
    """The protocol a server reads requests with: :class:`HttpProtocol` (the direct path).

    uvicorn's own ``HttpToolsProtocol`` instead, every request parsed by httptools and
    answered through ASGI, when ``direct_path`` is false (``--no-direct-path``,
    ``STACK_DIRECT_PATH=false``), or when the uvicorn or httptools installed is not the
    version :data:`REVIEWED` (then logged as ``directPathOff``).
    """
    if not direct_path:
        return HttpToolsProtocol
    if not REVIEWED.installed():
        logger.warning(
            kv(
                logName="directPathOff",
                uvicorn=version("uvicorn"),
                httptools=version("httptools"),
                reviewed=f"uvicorn {REVIEWED.uvicorn}, httptools {REVIEWED.httptools}",
            )
        )
        return HttpToolsProtocol
    return HttpProtocol
