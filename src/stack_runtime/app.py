"""The HTTP face: integrator.io's ``POST /function`` and the operations routes.

``POST /function`` is answered by a lean ASGI handler (it is the request path
every page of every flow takes); everything else goes through Starlette.
No request makes the app answer with HTML or a stack trace: every error is JSON.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from . import errors
from .auth import TokenChecker, bearer_token
from .connections import open_connections
from .dispatcher import Dispatcher
from .errors import ErrorItem
from .logs import kv, kv_pairs, log_info, logger, new_request_id, request_id, safe_url, trace_id
from .settings import MAX_BODY_BYTES
from .state import HostState

__all__ = ["StackApp"]

_JSON_TYPE = b"application/json; charset=utf-8"
_UNAUTHORIZED_BODY = errors.errors_body([errors.UNAUTHORIZED])
_NOT_LOGGED = frozenset({"/livez", "/readyz"})
_FINISHED_KEYS = ("logName", "method", "url", "statusCode", "responseTime", "_reqId", "traceId")


def _error_body(code: str, message: str) -> bytes:
    return errors.errors_body([ErrorItem(code, message)])


_TOO_LARGE_BODY = _error_body(
    "payload_too_large", f"The request body is larger than the limit of {MAX_BODY_BYTES} bytes."
)
_NOT_ALLOWED_BODY = _error_body("method_not_allowed", "Use POST for /function.")
_NOT_OBJECT_BODY = _error_body("invalid_body", "The request body must be a JSON object.")


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
        req_token = request_id.set(new_request_id())
        headers = dict(scope["headers"])
        trace = headers.get(b"traceid")
        trace_token = trace_id.set(trace.decode("latin-1") if trace else None)
        status = 500
        try:
            if scope["path"] == "/function":
                if scope["method"] == "POST":
                    status = await self.function(scope, headers, receive, send)
                else:
                    status = await _respond(send, 405, _NOT_ALLOWED_BODY, allow=b"POST")
            else:

                async def send_and_note(message: Message) -> None:
                    nonlocal status
                    if message["type"] == "http.response.start":
                        status = message["status"]
                    await send(message)

                await self.router(scope, receive, send_and_note)
        finally:
            if scope["path"] not in _NOT_LOGGED:
                values = (
                    "reqFinished",
                    scope["method"],
                    safe_url(scope["path"], scope["query_string"].decode("latin-1")),
                    status,
                    f"{(time.perf_counter() - started) * 1000:.0f}ms",
                    request_id.get() if scope["path"] == "/function" else None,
                    trace_id.get(),
                )
                log_info(kv_pairs(_FINISHED_KEYS, values), later=True)
            request_id.reset(req_token)
            trace_id.reset(trace_token)

    # -- POST /function ----------------------------------------------------------------

    async def function(
        self, scope: Scope, headers: dict[bytes, bytes], receive: Receive, send: Send
    ) -> int:
        """Answer one integrator.io call; returns the status sent."""
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return await _respond(send, 413, _TOO_LARGE_BODY, close=True)

        authorization = headers.get(b"authorization")
        if authorization is not None and not self.tokens.accepts_header(authorization):
            return await _unauthorized(send)

        message = await receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            raw = message.get("body", b"")  # the whole body at once: the usual case
            if len(raw) > MAX_BODY_BYTES:
                return await _respond(send, 413, _TOO_LARGE_BODY, close=True)
        else:
            try:
                raw = await _read_body(message, receive)
            except _BodyTooLarge:
                return await _respond(send, 413, _TOO_LARGE_BODY, close=True)

        envelope: Any = {}
        content_type = headers.get(b"content-type", b"")
        if raw and (content_type == b"application/json" or _is_json(content_type)):
            try:
                envelope = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                body = _error_body("invalid_json", f"The request body is not valid JSON: {exc}")
                return await _respond(send, 400, body)
            if not isinstance(envelope, dict):
                return await _respond(send, 400, _NOT_OBJECT_BODY)

        if authorization is None:
            token = envelope.get("access_token")
            if not token:
                query = parse_qs(scope["query_string"].decode("latin-1"))
                token = (query.get("access_token") or [None])[0]
            if not self.tokens.accepts(token):
                return await _unauthorized(send)

        outcome = await self.dispatcher.dispatch(envelope)
        return await _respond(send, outcome.status, outcome.body)

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

    def _authorized(self, request: Request) -> bool:
        authorization = request.headers.get("authorization")
        if authorization is not None:
            return self.tokens.accepts(bearer_token(authorization))
        return self.tokens.accepts(request.query_params.get("access_token"))

    async def open_connections(self, request: Request) -> Response:
        """``GET /openConnections[?terminate=true]``: other open client connections."""
        if not self._authorized(request):
            return _unauthorized_response()
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
        if not self._authorized(request):
            return _unauthorized_response()
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
            _error_body("internal_error", "The host failed to answer this request."),
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


async def _respond(
    send: Send, status: int, body: bytes, *, close: bool = False, allow: bytes | None = None
) -> int:
    headers = [(b"content-type", _JSON_TYPE), (b"content-length", str(len(body)).encode())]
    if allow:
        headers.append((b"allow", allow))
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return status


async def _unauthorized(send: Send) -> int:
    headers = [
        (b"content-type", _JSON_TYPE),
        (b"content-length", str(len(_UNAUTHORIZED_BODY)).encode()),
        (b"www-authenticate", b"invalid system token"),
    ]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": _UNAUTHORIZED_BODY})
    return 401


def _unauthorized_response() -> Response:
    return Response(
        _UNAUTHORIZED_BODY,
        401,
        {"WWW-Authenticate": "invalid system token"},
        media_type="application/json",
    )
