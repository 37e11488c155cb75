"""The SYN filter a stopping host puts on its listening socket (the kernel's own sockets)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from stack_runtime.server import worker


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.setblocking(False)
        yield sock


def _connect(listener: socket.socket, timeout: float) -> socket.socket:
    client = socket.socket()
    client.settimeout(timeout)
    client.connect(listener.getsockname())
    return client


def test_the_filter_drops_new_connections_and_keeps_the_queued_ones(
    listener: socket.socket,
) -> None:
    """A connection queued before the filter is still accepted, with its bytes; a connect
    after it gets no answer (its SYN is dropped, not refused)."""
    with _connect(listener, 5) as queued:
        queued.sendall(b"sent before")
        if not worker._refuse_new_connections([listener]):
            pytest.skip("this kernel refuses a socket filter to this process")
        with pytest.raises(TimeoutError):
            _connect(listener, 0.3).close()
        accepted, _ = listener.accept()
        with accepted:
            accepted.settimeout(5)
            assert accepted.recv(100) == b"sent before"
        with pytest.raises(BlockingIOError):
            listener.accept()  # the dropped connect never joined the queue


def test_a_socket_that_is_not_tcp_gets_no_filter() -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        assert worker._refuse_new_connections([sock]) is False


def test_a_refused_filter_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    class Refusing:
        family = socket.AF_INET

        def setsockopt(self, *args: object) -> None:
            raise PermissionError(1, "Operation not permitted")

    with caplog.at_level(logging.WARNING):
        assert worker._refuse_new_connections([Refusing()]) is False  # type: ignore[list-item]
    assert "logName=drainFilterFailed, error=[Errno 1] Operation not permitted" in caplog.text
