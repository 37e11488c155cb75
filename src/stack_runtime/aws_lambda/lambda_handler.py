"""The Lambda handler: one Lambda invocation in, the dispatcher's answer out.

The package builds its ``stack_runtime.aws_lambda.handler`` attribute from
:func:`build_handler` on first use. This module is not called ``handler``: a
submodule of that name, once imported, would stand in the package's namespace
where the runtime looks the handler up.

A call that succeeds returns the function's result (as the compact JSON the
dispatcher made, so ``NaN`` is ``null`` and the payload is always valid JSON).
A call that fails raises :class:`~stack_runtime.exceptions.FunctionError`, whose message is exactly what
integrator.io reads: ``{"statusCode": 422, "errors": [...]}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import orjson

from ..core.dispatcher import Dispatcher, Outcome
from ..core.errors import CallFailure, ErrorItem
from ..core.loader import load_extensions
from ..core.logs import StrictUtf8Records, kv, logger, new_request_id, request_id
from ..exceptions import FunctionError
from ..tracing import call_tracing
from .config import LambdaConfig
from .context import LambdaContext
from .envelope import UnreadablePayload, carries_envelope, classify, parse_client_context
from .invocation import ClientContextCapture, capture

__all__ = ["LambdaHandler", "build_handler", "RUNTIME_NOT_CONFIGURED"]

try:  # the JSON library of AWS's runtime client: a result it writes out verbatim
    from simplejson import RawJSON as _RawJSON
except ImportError:  # pragma: no cover - not under AWS's runtime client
    _RawJSON = None

#: The error for a client context whose envelope the runtime client dropped.
RUNTIME_NOT_CONFIGURED = ErrorItem(
    "runtime_not_configured",
    "The Lambda runtime dropped the envelope (function, type, diy, _connectorId) that "
    "integrator.io sends in the client context. Start the runtime with the "
    "stack-runtime entry point: set AWS_LAMBDA_EXEC_WRAPPER=/var/task/stack-runtime-lambda "
    "on a managed Python runtime, or run python -m stack_runtime.aws_lambda in a "
    "container image.",
)


class LambdaHandler:
    """The Lambda handler: extensions loaded once, a dispatcher, the HTTP face on demand."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        config: LambdaConfig,
        client_contexts: ClientContextCapture = capture,
    ) -> None:
        self.dispatcher = dispatcher
        self.config = config
        self.client_contexts = client_contexts
        self._http: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None

    def __call__(self, event: Any, context: LambdaContext) -> Any:
        """Serve one invocation; returns the result or raises :class:`~stack_runtime.exceptions.FunctionError`."""
        aws_request_id = getattr(context, "aws_request_id", None)
        token = request_id.set(aws_request_id or new_request_id())
        try:
            raw = self.client_contexts.raw_for(aws_request_id)
            dropped = (
                not self.client_contexts.active
                and getattr(context, "client_context", None) is not None
            )
            client_context = parse_client_context(raw)
            if isinstance(client_context, ErrorItem):
                _refuse(client_context)
            if isinstance(event, UnreadablePayload):
                _refuse(event.error(carries_envelope(client_context)))
            invocation = classify(event, client_context, context_dropped=dropped)
            if invocation.kind == "http":
                return self.http_face(event, context)
            if invocation.kind == "dropped":
                logger.error(kv(logName="envelopeDropped", message=RUNTIME_NOT_CONFIGURED.message))
                raise FunctionError(CallFailure(500, (RUNTIME_NOT_CONFIGURED,)))
            assert invocation.envelope is not None
            outcome = self.dispatcher.dispatch_sync(invocation.envelope)
            return _answer(outcome)
        finally:
            request_id.reset(token)

    def http_face(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """Answer an HTTP event through the ASGI app (built on the first one)."""
        if self._http is None:
            from .http_face import build_http_face

            self._http = build_http_face(self.dispatcher, self.config.system_tokens)
        return self._http(event, context)


def _refuse(problem: ErrorItem) -> NoReturn:
    """Answer an invocation that cannot be read with the protocol's ``400``."""
    logger.warning(kv(logName="unreadableInvocation", code=problem.code, message=problem.message))
    raise FunctionError(CallFailure(400, (problem,)))


def _answer(outcome: Outcome) -> Any:
    if outcome.failure is not None:
        raise FunctionError(outcome.failure)
    if not outcome.body:  # the function returned None
        return None
    if _RawJSON is not None:
        return _RawJSON(outcome.body.decode())
    return orjson.loads(outcome.body)


def build_handler(config: LambdaConfig | None = None) -> LambdaHandler:
    """Load the extensions and build the handler (once per execution environment).

    Raises :class:`~stack_runtime.core.loader.ExtensionLoadError` (naming the file and
    line) when an extension cannot be imported: the runtime reports it as an
    init error.
    """
    config = config or LambdaConfig.from_environ()
    logger.setLevel(config.log_level.upper())
    if not any(isinstance(f, StrictUtf8Records) for f in logger.filters):
        logger.addFilter(StrictUtf8Records())  # the runtime client's log stream is strict UTF-8
    extensions = load_extensions(config.extensions_dir)
    logger.info(
        kv(
            logName="extensionsLoaded",
            extensions=str(config.extensions_dir),
            diy=extensions.diy is not None,
            connectors=" ".join(extensions.connectors) or None,
        )
    )
    # Spans go out as each call ends: Lambda freezes the process between invocations.
    tracing = call_tracing(export_at_once=True)
    if tracing is None:
        return LambdaHandler(Dispatcher(extensions, call_timeout=config.call_timeout), config)
    from ..tracing.otel import TracedDispatcher

    dispatcher = TracedDispatcher(extensions, call_timeout=config.call_timeout, tracing=tracing)
    return LambdaHandler(dispatcher, config)
