"""``_request.c``: what it reads, it reads exactly as uvicorn's parser (httptools) does.

Chosen cases here; generated and mutated ones in ``tests/fuzz`` (``test_fuzz.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from stack_runtime.server.httptools import _whole_post

from ...fuzz import parser_diff


def whole_post(data: Any) -> Any:
    """``_request.whole_post``: the package builds it, and a test fails when it was not."""
    assert _whole_post is not None, (
        "stack_runtime.server._request is not built: install gcc, then make"
    )
    return _whole_post(data)


BODY = b'{"diy":true,"type":"hook","function":"echo","options":{"data":[1]}}'
PLAIN = (
    b"POST /function HTTP/1.1\r\n"
    b"Host: 127.0.0.1:8080\r\n"
    b"Authorization: Bearer t0k3n\r\n"
    b"Content-Type: application/json\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\n"
    b"\r\n" + BODY
)


def agrees(data: bytes) -> Any:
    """``whole_post(data)``, checked against httptools when it reads the request."""
    return parser_diff.agrees(whole_post, data)


def test_the_plainest_request_is_read() -> None:
    headers, body = agrees(PLAIN)
    assert headers == {
        b"host": b"127.0.0.1:8080",
        b"authorization": b"Bearer t0k3n",
        b"content-type": b"application/json",
        b"content-length": str(len(BODY)).encode(),
    }
    assert body == BODY


def with_header(line: bytes) -> bytes:
    return PLAIN.replace(b"\r\n", b"\r\n" + line + b"\r\n", 1)


def many_headers(count: int) -> bytes:
    """The plain request with headers added up to ``count`` in all."""
    return PLAIN.replace(
        b"\r\n", b"\r\n" + b"".join(b"X-N%d: v\r\n" % n for n in range(count - 4)), 1
    )


@pytest.mark.parametrize(
    "data",
    [
        PLAIN[:-1],  # the body not all there
        PLAIN + b"x",  # more after it
        PLAIN + PLAIN,  # two requests
        PLAIN.replace(b"POST", b"post"),
        PLAIN.replace(b"/function", b"/function?access_token=t"),
        PLAIN.replace(b"/function", b"/function/"),
        PLAIN.replace(b"HTTP/1.1", b"HTTP/1.0"),
        PLAIN.replace(b"Content-Length: ", b"Content-Length: 0"),
        PLAIN.replace(b"Content-Length: ", b"Content-Length: +"),
        PLAIN.replace(b"Content-Length: " + str(len(BODY)).encode() + b"\r\n", b""),
        with_header(b"Content-Length: 5"),
        with_header(b"Transfer-Encoding: chunked"),
        with_header(b"Connection: keep-alive"),
        with_header(b"connection: close"),
        with_header(b"Proxy-Connection: keep-alive"),
        with_header(b"Upgrade: websocket"),
        with_header(b"Expect: 100-continue"),
        with_header(b"X-Note:tight"),
        with_header(b"X-Note:\ttab"),
        with_header(b"X-Note: trailing "),
        with_header(b"X-Note: "),
        with_header(b"X-Note: caf\xc3\xa9"),
        with_header(b"X-Note: a\x00b"),
        with_header(b"X-Note : spaced"),
        with_header(b"X(Note): bad name"),
        with_header(b"X-" + b"n" * 100 + b": long name"),
        PLAIN.replace(b"\r\n", b"\n", 1),
        PLAIN.replace(b"Host: 127.0.0.1:8080\r\n", b"Host: 127.0.0.1:8080\n"),
        many_headers(101),
    ],
)
def test_anything_else_is_left_to_the_parser(data: bytes) -> None:
    assert whole_post(data) is None


def test_only_bytes_are_read() -> None:
    assert whole_post(bytearray(PLAIN)) is None
    assert whole_post(memoryview(PLAIN)) is None


def test_repeated_names_keep_the_last_value_and_100_headers_are_read() -> None:
    headers, _ = agrees(with_header(b"X-Note: one\r\nx-note: two"))
    assert headers[b"x-note"] == b"two"
    headers, _ = agrees(many_headers(100))
    assert len(headers) == 100
