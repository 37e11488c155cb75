"""A small Lambda Runtime API emulator: what a runtime process talks to inside Lambda.

It serves the routes of the Runtime API on loopback:

* ``GET  /2018-06-01/runtime/invocation/next`` hands out the next queued
  invocation (the event as the body; request id, deadline, function ARN,
  trace id and, when given, the client context as JSON in
  ``Lambda-Runtime-Client-Context``), blocking until there is one;
* ``POST /2018-06-01/runtime/invocation/{id}/response`` and ``.../{id}/error``
  take the answer to that invocation;
* ``POST /2018-06-01/runtime/init/error`` takes an init error.

Tests and the cold-start benchmark queue invocations with :meth:`invoke`
and read back what the runtime posted.
"""

from __future__ import annotations

import http.client
import itertools
import json
import queue
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Answer", "RuntimeApiEmulator"]

PREFIX = "/2018-06-01/runtime"

# A function error carries an X-Ray cause in a header, which AWS's runtime client sends up
# to 1 MiB long (it drops a longer one): take such a header line, where Python's HTTP server
# refuses any longer than 64 KiB (a 431 that ends the runtime process).
http.client._MAXLINE = max(http.client._MAXLINE, 2 * 1024 * 1024)  # type: ignore[attr-defined]
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:stack-runtime-test"


@dataclass
class Answer:
    """What the runtime posted for one invocation (or for its init)."""

    kind: str
    """``response``, ``error`` or ``init-error``."""
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    received_at: float = 0.0
    """``time.perf_counter()`` when the emulator got it."""

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_type(self) -> str | None:
        return self.headers.get("lambda-runtime-function-error-type")


@dataclass
class _Pending:
    request_id: str
    body: bytes
    headers: dict[str, str]
    answered: threading.Event = field(default_factory=threading.Event)
    answer: Answer | None = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A runtime process killed mid-request is expected; anything else is printed."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class RuntimeApiEmulator:
    """The Runtime API on ``127.0.0.1:<free port>``; use as a context manager."""

    def __init__(self) -> None:
        self._queue: queue.Queue[_Pending] = queue.Queue()
        self._by_id: dict[str, _Pending] = {}
        self._ids = itertools.count(1)
        self._closed = threading.Event()
        self.init_errors: queue.Queue[Answer] = queue.Queue()
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != f"{PREFIX}/invocation/next":
                    self._reply(404, b'{"errorMessage":"not found"}')
                    return
                while not emulator._closed.is_set():
                    try:
                        pending = emulator._queue.get(timeout=0.2)
                    except queue.Empty:
                        continue
                    self.send_response(200)
                    for name, value in pending.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(pending.body)))
                    self.end_headers()
                    self.wfile.write(pending.body)
                    return
                self.close_connection = True

            def do_POST(self) -> None:
                body = self._body()
                headers = {k.lower(): v for k, v in self.headers.items()}
                now = time.perf_counter()
                if self.path == f"{PREFIX}/init/error":
                    emulator.init_errors.put(Answer("init-error", body, headers, now))
                    self._reply(202, b'{"status":"OK"}')
                    return
                parts = self.path[len(PREFIX) :].strip("/").split("/")
                if (
                    len(parts) == 3
                    and parts[0] == "invocation"
                    and parts[2]
                    in (
                        "response",
                        "error",
                    )
                ):
                    pending = emulator._by_id.get(parts[1])
                    if pending is None or pending.answered.is_set():
                        self._reply(400, b'{"errorMessage":"unknown or answered request id"}')
                        return
                    pending.answer = Answer(parts[2], body, headers, now)
                    pending.answered.set()
                    self._reply(202, b'{"status":"OK"}')
                    return
                self._reply(404, b'{"errorMessage":"not found"}')

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks: list[bytes] = []
                    while True:
                        size = int(self.rfile.readline().strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def address(self) -> str:
        """``host:port``, the value of ``AWS_LAMBDA_RUNTIME_API``."""
        host, port = self._server.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else host
        return f"{name}:{port}"

    def __enter__(self) -> RuntimeApiEmulator:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()
        self._server.shutdown()
        self._server.server_close()

    def submit(
        self,
        event: Any = None,
        client_context: Mapping[str, Any] | None = None,
        *,
        raw_event: bytes | None = None,
        raw_client_context: str | None = None,
        deadline_seconds: float = 300,
    ) -> str:
        """Queue an invocation; returns its request id.

        ``raw_event`` and ``raw_client_context`` are sent as they are, instead of
        the JSON of ``event`` and ``client_context``.
        """
        request_id = f"req-{next(self._ids):04d}"
        body = raw_event if raw_event is not None else json.dumps(event).encode()
        headers = {
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(int((time.time() + deadline_seconds) * 1000)),
            "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
            "Lambda-Runtime-Trace-Id": f"Root=1-00000000-{request_id};Sampled=0",
        }
        if raw_client_context is not None:
            headers["Lambda-Runtime-Client-Context"] = raw_client_context
        elif client_context is not None:
            headers["Lambda-Runtime-Client-Context"] = json.dumps(client_context)
        pending = _Pending(request_id, body, headers)
        self._by_id[request_id] = pending
        self._queue.put(pending)
        return request_id

    def answer(self, request_id: str) -> Answer | None:
        """The answer posted for ``request_id`` so far, if any."""
        pending = self._by_id[request_id]
        return pending.answer if pending.answered.is_set() else None

    def wait(self, request_id: str, timeout: float = 60) -> Answer:
        """The answer the runtime posted for ``request_id``."""
        pending = self._by_id[request_id]
        if not pending.answered.wait(timeout):
            raise TimeoutError(f"no answer to {request_id} within {timeout} s")
        assert pending.answer is not None
        return pending.answer

    def invoke(
        self,
        event: Any = None,
        client_context: Mapping[str, Any] | None = None,
        *,
        raw_event: bytes | None = None,
        timeout: float = 60,
    ) -> Answer:
        """Queue an invocation and wait for the runtime's answer."""
        return self.wait(self.submit(event, client_context, raw_event=raw_event), timeout)
