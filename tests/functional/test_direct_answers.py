"""``POST /function`` answered by the HTTP protocol itself, against the same app through ASGI.

Two real uvicorn servers on loopback serve two hosts built from the same
extensions: one reads requests with :class:`~stack_runtime.server.httptools.HttpProtocol`
(which answers ``POST /function`` without ASGI when it can, and reads the
plainest whole ones without uvicorn's parser), the other with uvicorn's own
httptools protocol (every request through ASGI). The same requests, sent as raw
bytes, must get the same bytes back from both, but for the ``date`` header.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from stack_runtime.asgi.app import StackApp
from stack_runtime.asgi.metrics import MetricsPortGuard
from stack_runtime.core.dispatcher import PreparedCall
from stack_runtime.server.build import build_app
from stack_runtime.server.httptools import HttpProtocol, _stack_app, _whole_post
from stack_runtime.settings import Settings

EXTENSIONS = Path(__file__).parent.parent / "fixtures" / "protocol"
TOKEN = "direct-token"


class Served:
    """A host served by uvicorn in a thread; ``direct`` counts the calls answered without
    ASGI, ``whole`` those of them read without uvicorn's parser."""

    def __init__(self, protocol: type[HttpToolsProtocol]) -> None:
        settings = Settings(extensions_dir=EXTENSIONS, call_timeout=5).with_tokens(TOKEN)
        self.app: StackApp = build_app(settings)
        self.direct = self.whole = 0
        answer = self.app.answer

        def counted(*args: Any) -> Any:
            self.direct += 1
            return answer(*args)

        self.app.answer = counted  # type: ignore[method-assign,assignment]
        if issubclass(protocol, HttpProtocol):
            served = self

            class Counting(protocol):  # type: ignore[valid-type,misc]
                def _answer_whole(self, headers: dict[bytes, bytes], body: bytes) -> None:
                    served.whole += 1
                    super()._answer_whole(headers, body)

            protocol = Counting
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        config = uvicorn.Config(
            self.app, http=protocol, lifespan="off", log_config=None, access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.listener]}, daemon=True
        )

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.listener.close()


@pytest.fixture
def both() -> Iterator[tuple[Served, Served]]:
    with Served(HttpProtocol) as direct, Served(HttpToolsProtocol) as through_asgi:
        yield direct, through_asgi


def no_access_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn's access log off, as in a host: pytest gives the logger a handler for each
    test phase, and the protocol sends every request through ASGI while it has one."""
    monkeypatch.setattr(logging.getLogger("uvicorn.access"), "handlers", [])


def read_responses(conn: socket.socket, count: int) -> list[bytes]:
    """``count`` responses (each sized by its Content-Length), fewer if the connection closes."""
    data = b""
    responses: list[bytes] = []
    while len(responses) < count:
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            head = data[: end + 4]
            length = re.search(rb"(?im)^content-length: *(\d+)", head)
            size = end + 4 + (int(length.group(1)) if length else 0)
            if len(data) >= size:
                responses.append(data[:size])
                data = data[size:]
                continue
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return responses


def exchange(port: int, *parts: bytes, count: int = 1) -> list[bytes]:
    """Send ``parts`` (a short pause between them) on a new connection; read ``count`` answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        for n, part in enumerate(parts):
            if n:
                time.sleep(0.05)
            conn.sendall(part)
        return read_responses(conn, count)


def post(
    envelope: Any,
    *,
    token: str | None = TOKEN,
    url: str = "/function",
    version: str = "1.1",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> bytes:
    """A raw ``POST`` request."""
    content = body if body is not None else json.dumps(envelope).encode()
    lines = [f"POST {url} HTTP/{version}", "host: 127.0.0.1"]
    if token is not None:
        lines.append(f"authorization: Bearer {token}")
    given = {"content-type": "application/json", **(headers or {})}
    if "transfer-encoding" not in given:
        given["content-length"] = str(len(content))
    lines += [f"{name}: {value}" for name, value in given.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + content


def call(function: str, options: Any = None, **fields: Any) -> dict[str, Any]:
    return {"diy": True, "type": "hook", "function": function, "options": options or {}, **fields}


def chunked(content: bytes) -> bytes:
    return f"{len(content):x}\r\n".encode() + content + b"\r\n0\r\n\r\n"


def without_date(responses: list[bytes]) -> list[bytes]:
    return [re.sub(rb"(?im)^date: [^\r]*\r\n", b"", r) for r in responses]


ECHO = call("echo", {"data": [{"id": 1, "name": "Zoë"}], "_flowId": "f1"})
MALFORMED = b"POST /function HTTP/1.1\r\nno colon here\r\n\r\n"
CASES: dict[str, Callable[[], tuple[tuple[bytes, ...], int]]] = {
    "an echo, 20 times on one connection (each in a worker thread)": lambda: (
        (post(ECHO, headers={"traceid": "t-1"}),) * 20,
        20,
    ),
    "an async function": lambda: ((post(call("asyncEcho", {"data": [1, 2]})),), 1),
    "a def function in the thread pool": lambda: ((post(call("sleepy", {"seconds": 0.05})),), 1),
    "a function that raises": lambda: ((post(call("raiseCoded", {"x": 1})),), 1),
    "an async function that raises": lambda: ((post(call("asyncRaise", {"x": 1})),), 1),
    "a result that is not JSON": lambda: ((post(call("returnDatetime", {"x": 1})),), 1),
    "an unknown function": lambda: ((post(call("nowhere", {"x": 1})),), 1),
    "a wrong token": lambda: ((post(ECHO, token="wrong"),), 1),
    "no token": lambda: ((post(ECHO, token=None),), 1),
    "the token in the body": lambda: ((post({**ECHO, "access_token": TOKEN}, token=None),), 1),
    "the token in the query": lambda: (
        (post(ECHO, token=None, url=f"/function?access_token={TOKEN}"),),
        1,
    ),
    "invalid JSON": lambda: ((post(None, body=b'{"diy": tru'),), 1),
    "a JSON array": lambda: ((post([1, 2]),), 1),
    "no JSON content type": lambda: ((post(ECHO, headers={"content-type": "text/plain"}),), 1),
    "HTTP/1.0": lambda: ((post(ECHO, version="1.0"),), 1),
    "Connection: close": lambda: ((post(ECHO, headers={"connection": "close"}),), 2),
    "pipelined, async first": lambda: (
        (post(call("asyncEcho", {"data": [3]})) + post(ECHO) + post(call("raiseCoded", {})),),
        3,
    ),
    "the body in a second packet": lambda: (
        (post(ECHO)[:-10], post(ECHO)[-10:]),
        1,
    ),
    "Expect: 100-continue": lambda: ((post(ECHO, headers={"expect": "100-continue"}),), 2),
    "a chunked body": lambda: (
        (
            post(
                None,
                body=chunked(json.dumps(ECHO).encode()),
                headers={"transfer-encoding": "chunked"},
            ),
        ),
        1,
    ),
    "a body over 64 KiB, in two packets": lambda: (
        (
            post(call("echo", {"data": ["x" * 100_000]}))[:50_000],
            post(call("echo", {"data": ["x" * 100_000]}))[50_000:],
        ),
        1,
    ),
    # Read without uvicorn's parser, or left to it: the same answers either way.
    "header names in capitals, values with inner spaces": lambda: (
        (post(ECHO, headers={"Content-Type": "application/json", "X-Note": "a b  c"}),),
        1,
    ),
    "a value after two spaces": lambda: ((raw_post(ECHO, b"x-note:  two"),), 1),
    "a value with spaces after it": lambda: ((raw_post(ECHO, b"x-note: trailing  "),), 1),
    "a value after a tab": lambda: ((raw_post(ECHO, b"x-note:\ttab"),), 1),
    "a value straight after the colon": lambda: ((raw_post(ECHO, b"x-note:tight"),), 1),
    "an empty value": lambda: ((raw_post(ECHO, b"x-note: "),), 1),
    "a value in UTF-8": lambda: ((raw_post(ECHO, "x-note: café".encode()),), 1),
    "a traceid header": lambda: ((raw_post(ECHO, b"traceid: abc-123"),), 1),
    "a token in capitals": lambda: (
        (post(ECHO).replace(b"authorization: Bearer", b"Authorization: BEARER"),),
        1,
    ),
    "two Content-Length headers": lambda: ((raw_post(ECHO, b"content-length: 0"),), 1),
    "a Content-Length with a leading zero": lambda: (
        (post(ECHO).replace(b"content-length: ", b"content-length: 0"),),
        1,
    ),
    "Connection: keep-alive": lambda: ((post(ECHO, headers={"connection": "keep-alive"}),) * 2, 2),
    "Proxy-Connection: close": lambda: ((raw_post(ECHO, b"proxy-connection: close"),) * 2, 2),
    "a space before the colon": lambda: ((raw_post(ECHO, b"x-note : spaced"),), 1),
    "a header line ending in LF alone": lambda: (
        (post(ECHO).replace(b"host: 127.0.0.1\r\n", b"host: 127.0.0.1\n"),),
        1,
    ),
    "no Content-Length": lambda: (
        (b"POST /function HTTP/1.1\r\nauthorization: Bearer " + TOKEN.encode() + b"\r\n\r\n",),
        1,
    ),
    "an empty body": lambda: ((post(None, body=b""),), 1),
    "two requests in one packet": lambda: ((post(ECHO) + post(call("echo", {"data": [7]})),), 2),
    "a request that ends too soon": lambda: ((post(ECHO)[:-1], b"}" + post(ECHO)), 2),
    "POST /function/ and /functions": lambda: (
        (post(ECHO, url="/function/"), post(ECHO, url="/functions")),
        2,
    ),
    # uvicorn starts no ASGI task before its parser has read the whole packet, and its 400
    # for a malformed request closes the connection: the calls before it go unanswered.
    "a call, then a malformed request, in one packet": lambda: ((post(ECHO) + MALFORMED,), 2),
    "two calls, then a malformed request, in one packet": lambda: (
        (post(ECHO) + post(ECHO) + MALFORMED,),
        3,
    ),
    "a call, then a malformed request in the next packet": lambda: (
        (post(ECHO), MALFORMED),
        2,
    ),
    # Through ASGI a wrong token is answered before the body is read.
    "a wrong token, the body and a malformed request in the next packet": lambda: (
        (post(ECHO, token="wrong")[:-10], post(ECHO, token="wrong")[-10:] + MALFORMED),
        2,
    ),
}


def raw_post(envelope: Any, header: bytes) -> bytes:
    """A ``POST /function`` with ``header`` (a whole line, as it is sent) among its headers."""
    request = post(envelope)
    return request.replace(b"\r\n", b"\r\n" + header + b"\r\n", 1)


def test_every_case_gets_the_same_bytes_with_or_without_asgi(
    both: tuple[Served, Served], monkeypatch: pytest.MonkeyPatch
) -> None:
    """1. each case is sent to both servers on a new connection;
    2. the answers are equal byte for byte but for the date;
    3. most calls were answered directly by one server, none by the other."""
    no_access_log(monkeypatch)
    direct, through_asgi = both
    for name, case in CASES.items():
        parts, count = case()
        got = without_date(exchange(direct.port, *parts, count=count))
        expected = without_date(exchange(through_asgi.port, *parts, count=count))
        assert got == expected, name
        assert got, name
    assert through_asgi.direct == 0
    # All but the query string, Expect, chunked, 64 KiB, two lengths, no length,
    # space before the colon, bare LF and unknown path cases; of the pipelined calls
    # (three, two in one packet, one that completes a request that ended too soon, two
    # before a malformed request) the first, and each next one when the call before it
    # was answered within the read (the loop waits briefly for a def call's thread); and
    # the other 3 calls of the malformed request cases (the answers to those in its
    # packet dropped).
    assert 20 + 32 + 4 <= direct.direct <= 20 + 34 + 5
    # Of those, the ones that came whole, alone and in the plainest shape: the 20
    # echoes, the 12 cases after them up to HTTP/1.0, 5 of the header cases, and the call
    # alone in its packet before a malformed request
    # (none where _request.c was not built: they are answered directly all the same).
    assert direct.whole == (20 + 17 + 1 if _whole_post is not None else 0)


@pytest.mark.parametrize("c_reader", [True, False], ids=["with _request.c", "without"])
def test_calls_in_the_packet_of_a_malformed_request_get_only_its_400(
    both: tuple[Served, Served], monkeypatch: pytest.MonkeyPatch, c_reader: bool
) -> None:
    """1. two calls answered at once (a wrong token) and a malformed request come in one
       packet;
    2. the client gets uvicorn's 400 alone, and the connection closes;
    3. the same calls in a packet of their own, then the malformed one: 401, 401, 400.
    The same where _request.c was not built."""
    no_access_log(monkeypatch)
    if not c_reader:
        monkeypatch.setattr("stack_runtime.server.httptools._whole_post", None)
    direct, _ = both
    refused = post(ECHO, token="wrong")
    answers = exchange(direct.port, refused + refused + MALFORMED, count=3)
    assert [a.split(b"\r\n", 1)[0] for a in answers] == [b"HTTP/1.1 400 Bad Request"]
    assert answers[0].endswith(b"connection: close\r\n\r\nInvalid HTTP request received.")
    answers = exchange(direct.port, refused + refused, MALFORMED, count=3)
    assert [a.split(b"\r\n", 1)[0] for a in answers] == [b"HTTP/1.1 401 Unauthorized"] * 2 + [
        b"HTTP/1.1 400 Bad Request"
    ]
    assert direct.direct == 4  # all four answered directly; the first two answers dropped


def test_the_c_reader_of_plain_requests_is_built() -> None:
    """The package builds ``_request.c``; without a C compiler every request goes through
    uvicorn's parser (answered the same, more slowly)."""
    assert _whole_post is not None, (
        "stack_runtime.server._request is not built: install gcc, then pip install -e ."
    )


def test_a_direct_call_in_flight_when_the_server_stops_is_answered(
    both: tuple[Served, Served], monkeypatch: pytest.MonkeyPatch
) -> None:
    """1. an async call that takes 0.5 s starts; 2. the server is told to stop;
    3. the call is answered 200, with Connection: close; 4. the server stops."""
    no_access_log(monkeypatch)
    direct, _ = both
    with socket.create_connection(("127.0.0.1", direct.port), timeout=10) as conn:
        conn.sendall(post(call("asyncSleepy", {"seconds": 0.5})))
        time.sleep(0.2)
        direct.server.should_exit = True
        answers = read_responses(conn, 2)  # the connection closes after the first
    assert len(answers) == 1
    assert answers[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"connection: close\r\n" in answers[0]
    assert answers[0].endswith(b'{"slept":0.5}')
    direct.thread.join(10)
    assert not direct.thread.is_alive()


def test_a_client_that_leaves_mid_call_costs_nothing_else(
    both: tuple[Served, Served], monkeypatch: pytest.MonkeyPatch
) -> None:
    """1. a client sends a slow async call and closes its connection;
    2. another client's calls are answered while and after the slow call runs."""
    no_access_log(monkeypatch)
    direct, _ = both
    with socket.create_connection(("127.0.0.1", direct.port), timeout=10) as conn:
        conn.sendall(post(call("asyncSleepy", {"seconds": 0.3})))
    for _ in range(3):
        (answer,) = exchange(direct.port, post(ECHO))
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    time.sleep(0.4)
    (answer,) = exchange(direct.port, post(ECHO))
    assert answer.endswith(b'{"data":[{"id":1,"name":"Zo\xc3\xab"}],"_flowId":"f1"}')


def test_only_wrappers_that_keep_the_answer_are_looked_through() -> None:
    """The metrics port guard hides the app on its own port; an unknown wrapper hides it."""
    app = build_app(Settings(extensions_dir=EXTENSIONS).with_tokens(TOKEN))
    guard = MetricsPortGuard(app, 9100)

    class Unknown:
        def __init__(self, app: Any) -> None:
            self.app = app

    assert _stack_app(app, 8080) is app
    assert _stack_app(ProxyHeadersMiddleware(app), 8080) is app  # type: ignore[arg-type]
    assert _stack_app(ProxyHeadersMiddleware(guard), 8080) is app  # type: ignore[arg-type]
    assert _stack_app(ProxyHeadersMiddleware(guard), 9100) is None  # type: ignore[arg-type]
    assert _stack_app(Unknown(app), 8080) is None


def test_an_error_of_the_host_itself_is_a_json_500_either_way(
    both: tuple[Served, Served], monkeypatch: pytest.MonkeyPatch
) -> None:
    """1. the dispatcher fails at once for one function name, and later (checking the
       result of a call that ran in a thread) for one call of echo;
    2. both servers answer those calls with the same JSON 500;
    3. the next call on the same connection is answered as usual."""
    no_access_log(monkeypatch)

    for served in both:
        dispatcher = served.app.dispatcher
        begin, begin_then, finish = dispatcher.begin, dispatcher.begin_then, dispatcher._finish

        def broken(envelope: Any, *then: Any, begin: Any = begin, other: Any = begin_then) -> Any:
            if envelope.get("function") == "hostBug":
                raise RuntimeError("a bug")
            return other(envelope, *then) if then else begin(envelope)

        def broken_later(call: PreparedCall, result: Any, finish: Any = finish) -> Any:
            if call.options.get("x") == "later":
                raise RuntimeError("a bug, later")
            return finish(call, result)

        monkeypatch.setattr(dispatcher, "begin", broken)
        monkeypatch.setattr(dispatcher, "begin_then", broken)
        monkeypatch.setattr(dispatcher, "_finish", broken_later)
    direct, through_asgi = both
    for name, options in (("hostBug", {"x": 1}), ("echo", {"x": "later"})):
        parts = (post(call(name, options)), post(ECHO))
        got = without_date(exchange(direct.port, *parts, count=2))
        assert got == without_date(exchange(through_asgi.port, *parts, count=2))
        assert got[0].startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
        assert got[0].endswith(
            b'{"errors":[{"code":"internal_error",'
            b'"message":"The host failed to answer this request."}]}'
        )
        assert got[1].startswith(b"HTTP/1.1 200 OK\r\n")
    assert direct.direct == 4


def test_a_client_that_reads_no_answers_gets_no_more_until_it_does(
    both: tuple[Served, Served], monkeypatch: pytest.MonkeyPatch
) -> None:
    """1. a client sends 100 calls with 200 KB answers, one after the other, reading none;
    2. meanwhile the host never holds more than a few answers for it: once the client's
       buffers are full, the host waits for it, as uvicorn does, instead of answering on
       into memory;
    3. then the client reads, and gets all 100 answers, whole and in order."""
    no_access_log(monkeypatch)
    direct, _ = both
    calls = 100
    request = post(call("returnSized", {"length": 200_000}))
    with socket.create_connection(("127.0.0.1", direct.port), timeout=30) as conn:

        def send_all() -> None:
            for _ in range(calls):
                conn.sendall(request)

        sender = threading.Thread(target=send_all)
        sender.start()
        most = 0
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            for protocol in list(direct.server.server_state.connections):
                if protocol.transport is not None:
                    most = max(most, protocol.transport.get_write_buffer_size())
            time.sleep(0.005)
        answers = read_responses(conn, calls)
        sender.join(10)
    assert most < 1_000_000, most
    assert len(answers) == calls
    assert all(a.startswith(b"HTTP/1.1 200 OK\r\n") for a in answers)
    assert all(a.endswith(b'"' + b"x" * 200_000 + b'"') for a in answers)


def test_while_every_answer_closes_the_direct_answer_says_so_once(
    both: tuple[Served, Served], monkeypatch: pytest.MonkeyPatch
) -> None:
    """1. both servers' default headers close every connection (as while a worker drains);
    2. a call (read in C, and parsed) gets the same bytes from both: one
       ``connection: close``, and the connection closes."""
    no_access_log(monkeypatch)
    for served in both:
        close = (b"connection", b"close")
        config, state = served.server.config, served.server.server_state
        monkeypatch.setattr(config, "encoded_headers", [*config.encoded_headers, close])
        monkeypatch.setattr(state, "default_headers", [*state.default_headers, close])
    direct, through_asgi = both
    for request in (post(ECHO), post(ECHO, headers={"connection": "keep-alive"})):
        got = without_date(exchange(direct.port, request, request, count=2))
        assert got == without_date(exchange(through_asgi.port, request, request, count=2))
        assert len(got) == 1 and got[0].count(b"connection: close\r\n") == 1, got
    assert direct.direct == 2
