"""The HTTP face: integrator.io's ``POST /function`` and the operations routes.

``POST /function`` is answered by a lean ASGI handler (it is the request path
every page of every flow takes); everything else goes through Starlette.
No request makes the app answer with HTML or a stack trace: every error is JSON.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Mapping
from contextvars import Token
from typing import Any, NamedTuple

import orjson
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from ..core import errors
from ..core.dispatcher import Dispatcher, Outcome
from ..core.errors import ErrorItem
from ..core.logs import (
    kv,
    kv_pairs,
    log_info,
    logger,
    new_request_id,
    request_id,
    safe_url,
    trace_id,
)
from ..core.requestjson import read_error
from ..core.watchdog import LoopWatchdog
from ..settings import MAX_BODY_BYTES
from .auth import CHALLENGE, UNAUTHORIZED_BODY, TokenChecker, refusal
from .connections import open_connections
from .state import HostState

__all__ = ["Reply", "StackApp"]

_JSON_TYPE = b"application/json; charset=utf-8"
_NOT_LOGGED = frozenset({"/livez", "/readyz"})
_FINISHED_KEYS = ("logName", "method", "url", "statusCode", "responseTime", "_reqId", "traceId")


def _error_body(code: str, message: str) -> bytes:
    return errors.errors_body([ErrorItem(code, message)])


class Reply(NamedTuple):
    """A response to ``POST /function``: its status, JSON body and headers."""

    status: int
    body: bytes
    headers: tuple[tuple[bytes, bytes], ...]


def _reply(status: int, body: bytes, *extra: tuple[bytes, bytes]) -> Reply:
    length = (b"content-length", str(len(body)).encode())
    return Reply(status, body, ((b"content-type", _JSON_TYPE), length, *extra))


_TOO_LARGE = _reply(
    413,
    _error_body(
        "payload_too_large",
        f"The request body is larger than the limit of {MAX_BODY_BYTES} bytes.",
    ),
    (b"connection", b"close"),
)
_NOT_ALLOWED = _reply(
    405, _error_body("method_not_allowed", "Use POST for /function."), (b"allow", b"POST")
)
_NOT_OBJECT = _reply(400, _error_body("invalid_body", "The request body must be a JSON object."))
_UNAUTHORIZED = _reply(401, UNAUTHORIZED_BODY, CHALLENGE)
_INTERNAL_BODY = _error_body("internal_error", "The host failed to answer this request.")
_INTERNAL = _reply(500, _INTERNAL_BODY)


class _BodyTooLarge(Exception):
    pass


def _is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json"


class StackApp:
    """The ASGI application of a server stack host."""

    def __init__(
        self, dispatcher: Dispatcher, tokens: TokenChecker, state: HostState | None = None
    ) -> None:
        self.dispatcher = dispatcher
        self.tokens = tokens
        self.state = state or HostState()
        self.watchdog: LoopWatchdog | None = None
        """Watches the event loop that serves this app, once the server starts it."""
        self.router = Starlette(
            routes=[
                Route("/", self.health),
                Route("/healthCheck", self.health),
                Route("/livez", self.alive),
                Route("/readyz", self.alive),
                Route("/openConnections", self.open_connections),
                Route("/stopServer", self.stop_server),
            ],
            exception_handlers={HTTPException: self.http_error, Exception: self.server_error},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.router(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        context = _enter_request(headers)
        status = 500
        try:
            if scope["path"] == "/function":
                if scope["method"] == "POST":
                    status = await self.function(scope, headers, receive, send)
                else:
                    status = await _send(send, _NOT_ALLOWED)
            else:

                async def send_and_note(message: Message) -> None:
                    nonlocal status
                    if message["type"] == "http.response.start":
                        status = message["status"]
                    await send(message)

                await self.router(scope, receive, send_and_note)
        finally:
            if scope["path"] not in _NOT_LOGGED:
                _log_finished(
                    scope["method"], scope["path"], scope["query_string"], status, started
                )
            _leave_request(context)

    # -- POST /function ----------------------------------------------------------------

    async def function(
        self, scope: Scope, headers: dict[bytes, bytes], receive: Receive, send: Send
    ) -> int:
        """Answer one integrator.io call; returns the status sent."""
        early = self._before_body(headers)
        if early is not None:
            return await _send(send, early)
        message = await receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            raw = message.get("body", b"")  # the whole body at once: the usual case
            if len(raw) > MAX_BODY_BYTES:
                return await _send(send, _TOO_LARGE)
        else:
            try:
                raw = await _read_body(message, receive)
            except _BodyTooLarge:
                return await _send(send, _TOO_LARGE)
        try:
            reply = self._after_body(headers, scope["query_string"], raw)
            if not isinstance(reply, Reply):
                reply = await reply
        except Exception as exc:
            reply = _failed_here(exc)
        return await _send(send, reply)

    def answer(
        self,
        headers: Mapping[bytes, bytes],
        raw: bytes | bytearray,
        respond: Callable[[Reply], None],
    ) -> bool:
        """Answer ``POST /function`` (no query string) whose whole body is ``raw``, without ASGI.

        ``headers`` maps the request's lower-cased header names to their values
        (the last value of a repeated name, as ``dict`` of uvicorn's list gives).

        The same answer as through :meth:`__call__`, and the same log lines, for
        an HTTP protocol that has read the whole request itself
        (:class:`~stack_runtime.server.httptools.HttpProtocol`): ``respond`` is called
        with the reply, at once when the call needs no waiting (a refused
        envelope), or else later, on the event loop; then this returns True.
        """
        started = time.perf_counter()
        context = _enter_request(headers)
        try:
            try:
                reply = self._before_body(headers) or self._envelope(headers, b"", raw)
                if not isinstance(reply, Reply):
                    ids = (request_id.get(), trace_id.get())

                    def later(outcome: Outcome | None) -> None:
                        _respond_later(outcome, respond, started, ids)

                    outcome = self.dispatcher.begin_then(reply, later)
                    if outcome is None:
                        return True
                    reply = _reply(outcome.status, outcome.body)
            except Exception as exc:
                reply = _failed_here(exc)
            try:
                respond(reply)
            finally:
                _log_finished("POST", "/function", b"", reply.status, started)
            return False
        finally:
            _leave_request(context)

    def refuses(self, headers: Mapping[bytes, bytes]) -> bool:
        """Whether a ``POST /function`` with ``headers`` is refused from them alone (a wrong
        token, too large a body): answered before its body is read, whatever it holds."""
        return self._before_body(headers) is not None

    def _before_body(self, headers: Mapping[bytes, bytes]) -> Reply | None:
        """The reply to a call refused from its headers alone (too large, a wrong token)."""
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return _TOO_LARGE
        authorization = headers.get(b"authorization")  # without it, the body may carry one
        if authorization is not None and not self.tokens.authorizes(authorization, b""):
            return _UNAUTHORIZED
        return None

    def _after_body(
        self, headers: Mapping[bytes, bytes], query: bytes, raw: bytes | bytearray
    ) -> Reply | Coroutine[Any, Any, Reply]:
        """The reply to a call whose headers passed: now, or a coroutine that gives it."""
        envelope = self._envelope(headers, query, raw)
        if isinstance(envelope, Reply):
            return envelope
        begun = self.dispatcher.begin(envelope)
        if isinstance(begun, Outcome):
            return _reply(begun.status, begun.body)
        return _reply_when_done(begun)

    def _envelope(
        self, headers: Mapping[bytes, bytes], query: bytes, raw: bytes | bytearray
    ) -> Reply | dict[str, Any]:
        """The envelope of a call whose headers passed, or the reply that refuses it."""
        envelope: Any = {}
        content_type = headers.get(b"content-type", b"")
        if raw and (content_type == b"application/json" or _is_json(content_type)):
            try:
                envelope = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                return _reply(400, errors.errors_body([read_error(exc, "The request body")]))
            if not isinstance(envelope, dict):
                return _NOT_OBJECT
        elif raw:
            _log_body_ignored(content_type, len(raw))

        if b"authorization" not in headers and not self.tokens.authorizes(None, query, envelope):
            return _UNAUTHORIZED  # (a header was checked before the body was read)
        return envelope  # type: ignore[no-any-return]

    # -- Starlette routes --------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        """``GET /`` and ``GET /healthCheck``: the host is up."""
        return Response(b'{"success":true}', media_type="application/json")

    async def alive(self, request: Request) -> Response:
        """``GET /livez`` and ``GET /readyz``: 200 while serving, 503 once draining."""
        if self.state.terminating:
            logger.error(kv(logName="healthCheckFailure", message="applicationInTerminatingState"))
            return PlainTextResponse("Service Unavailable", 503)
        return PlainTextResponse("OK")

    async def open_connections(self, request: Request) -> Response:
        """``GET /openConnections[?terminate=true]``: other open client connections."""
        if (refused := refusal(self.tokens, request)) is not None:
            return refused
        if request.query_params.get("terminate") == "true":
            self.state.mark_terminating()
        count = open_connections(request.scope) - 1
        line = kv(logName="noOfOpenConnections", noOfOpenConnections=count)
        if self.state.terminating:
            line += ", isTerminating=true"
        logger.info(line)
        return PlainTextResponse(str(count))

    async def stop_server(self, request: Request) -> Response:
        """``GET /stopServer``: shut the host down unless other connections are open."""
        if (refused := refusal(self.tokens, request)) is not None:
            return refused
        count = open_connections(request.scope) - 1
        if count > 1:
            return JSONResponse(
                {
                    "errors": [
                        {
                            "code": "connections_still_open",
                            "message": f"{count} connection(s) still open.",
                        }
                    ]
                },
                422,
            )
        logger.info(kv(logName="serverStopping", noOfOpenConnections=count))
        return PlainTextResponse(
            "preparing to shut down.", background=BackgroundTask(self.state.stop)
        )

    async def http_error(self, request: Request, exc: Exception) -> Response:
        """404, 405 and friends as JSON."""
        assert isinstance(exc, HTTPException)
        code = "not_found" if exc.status_code == 404 else f"http_{exc.status_code}"
        return Response(
            _error_body(code, str(exc.detail)), exc.status_code, exc.headers, "application/json"
        )

    async def server_error(self, request: Request, exc: Exception) -> Response:
        """Anything unexpected: a JSON 500, the traceback in the log only."""
        logger.error(kv(logName="unhandledError", url=request.url.path), exc_info=exc)
        return Response(
            _INTERNAL_BODY,
            500,
            media_type="application/json",
        )


async def _read_body(message: Message, receive: Receive) -> bytes:
    """The body that starts with ``message`` (then ``receive`` gives the rest)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise _BodyTooLarge
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
        message = await receive()
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _enter_request(headers: Mapping[bytes, bytes]) -> tuple[Token[str | None], Token[str | None]]:
    """Give a request its ``_reqId`` and integrator.io's ``traceid`` (context variables)."""
    trace = headers.get(b"traceid")
    return (
        request_id.set(new_request_id()),
        trace_id.set(trace.decode("latin-1") if trace else None),
    )


def _leave_request(context: tuple[Token[str | None], Token[str | None]]) -> None:
    request_id.reset(context[0])
    trace_id.reset(context[1])


def _log_finished(
    method: str,
    path: str,
    query: bytes,
    status: int,
    started: float,
    ids: tuple[str | None, str | None] | None = None,
) -> None:
    """The ``reqFinished`` line of a request (``ids``: its request and trace ids, when this
    runs outside its context)."""
    request, trace = ids or (request_id.get(), trace_id.get())
    values = (
        "reqFinished",
        method,
        safe_url(path, query.decode("latin-1")),
        status,
        f"{(time.perf_counter() - started) * 1000:.0f}ms",
        request if path == "/function" else None,
        trace,
    )
    log_info(kv_pairs(_FINISHED_KEYS, values), later=True)


def _log_body_ignored(content_type: bytes, size: int) -> None:
    """Say why a call with a body answers as if it had none: no JSON ``Content-Type``.

    The reference's ``bodyParser.json()`` reads only ``application/json`` bodies,
    so such a call gets the 422s of an empty envelope (``diy``, ``function`` and
    ``options`` missing) however complete its body is; the answer stays that.
    """
    given = content_type.decode("latin-1")
    logger.warning(
        kv(
            logName="bodyIgnored",
            _reqId=request_id.get(),
            contentType=(given[:100] + "..." if len(given) > 100 else given) or "(none)",
            bytes=size,
            message="The body was ignored: it is read only with the header "
            "Content-Type: application/json, so the call has no diy, function or options.",
        )
    )


def _failed_here(exc: Exception) -> Reply:
    """The JSON 500 for an unexpected error of the host itself; the traceback goes to the log."""
    logger.error(kv(logName="unhandledError", url="/function"), exc_info=exc)
    return _INTERNAL


async def _reply_when_done(running: Coroutine[Any, Any, Outcome]) -> Reply:
    outcome = await running
    return _reply(outcome.status, outcome.body)


def _respond_later(
    outcome: Outcome | None,
    respond: Callable[[Reply], None],
    started: float,
    ids: tuple[str | None, str | None],
) -> None:
    """The rest of :meth:`StackApp.answer` for a call that waited (None: it was cancelled)."""
    status = 500
    try:
        reply = _INTERNAL if outcome is None else _reply(outcome.status, outcome.body)
        status = reply.status
        respond(reply)
    finally:
        _log_finished("POST", "/function", b"", status, started, ids)


async def _send(send: Send, reply: Reply) -> int:
    await send({"type": "http.response.start", "status": reply.status, "headers": reply.headers})
    await send({"type": "http.response.body", "body": reply.body})
    return reply.status
