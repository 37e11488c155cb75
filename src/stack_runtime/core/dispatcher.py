"""The transport-free core: an envelope in, a result or errors out.

The HTTP app, the Lambda handler and ``stack-runtime invoke`` are faces over
:class:`Dispatcher`. It validates the envelope exactly as the reference does
(collecting every error it finds, in the reference's order), resolves the
function, converts the export dates, runs the call and checks the result.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import math
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from . import errors
from .errors import CallFailure, ErrorItem
from .jsvalues import js_string, truthy
from .loader import ExtensionFunction, ExtensionModule, Extensions, namespace_attribute
from .logs import kv, kv_pairs, log_info, logger, preview, request_id, trace_id
from .pool import CallPool
from .results import encode_result

__all__ = [
    "CallCounter",
    "Dispatcher",
    "Outcome",
    "PreparedCall",
    "to_datetime",
    "outcome_label",
    "DEFAULT_CALL_TIMEOUT",
]

#: Default per-call limit in seconds, just under the reference's 315 s request timeout.
DEFAULT_CALL_TIMEOUT = 300.0

_MISSING = object()
_DATE_FIELDS = ("lastExportDateTime", "currentExportDateTime")
_NOT_AWAITABLE = frozenset({dict, list, str, int, float, bool, type(None)})
"""Result types that need no ``inspect.isawaitable`` (an ABC check, dear on every call)."""
_OUTCOMES: Mapping[str, str] = {
    "function_timeout": "timeout",
    "invalid_extension_response": "invalid_response",
    "response_size_exceeded": "invalid_response",
}


@dataclass(slots=True)
class Outcome:
    """The answer to one envelope: HTTP status and JSON body (empty for ``None``).

    Read-only by convention (not frozen: a frozen dataclass costs more to build,
    and one is built for every call).
    """

    status: int
    body: bytes
    failure: CallFailure | None = None
    result: Any = None


@dataclass(slots=True)
class PreparedCall:
    """A validated, resolved call, ready to run (read-only by convention, as :class:`Outcome`)."""

    function: ExtensionFunction
    options: Any
    max_response_size: Any
    name: str
    is_async: bool
    """True for an ``async def`` function, which is awaited on the event loop."""


def outcome_label(outcome: Outcome) -> str:
    """``success``, ``error`` (raised), ``timeout`` or ``invalid_response``."""
    if outcome.failure is None:
        return "success"
    codes = [item.code for item in outcome.failure.errors]
    return _OUTCOMES.get(codes[0], "error") if codes else "error"


Then = Callable[["Outcome | None"], None]
"""What :meth:`Dispatcher.launch` calls with a call's outcome (None: no answer, the call
was cancelled or the host itself failed)."""


_TIMED_OUT = "stack_runtime: the call ran past its limit"
"""The message a call's task is cancelled with when the call limit has passed."""


def _host_failed(call: PreparedCall, exc: BaseException) -> None:
    logger.error(kv(logName="unhandledError", function=call.name), exc_info=exc)


async def _outcome_of(future: asyncio.Future[Outcome | None]) -> Outcome:
    outcome = await future
    if outcome is None:  # cancelled, or the host failed (logged)
        raise RuntimeError("the call has no answer")
    return outcome


class CallCounter(Protocol):
    """What a :class:`Dispatcher` tells about its calls (``metrics.CallMetrics`` listens)."""

    def started(self, function: str) -> None:
        """A call of ``function`` starts running."""

    def finished(self, function: str, outcome: str, seconds: float, *, ran: bool = True) -> None:
        """A call was answered (``ran``: :meth:`started` was told); ``outcome`` as
        :func:`outcome_label` names it."""

    def dropped(self, function: str) -> None:
        """A started call ended without an answer (cancelled)."""


def to_datetime(value: Any) -> Any:
    """An export date from the envelope as a timezone-aware ``datetime``.

    ISO 8601 strings (``Z`` or an offset; no offset means UTC) and epoch
    milliseconds are converted. A value that cannot be read is returned unchanged
    (the reference would turn it into an invalid date and lose it).
    """
    if isinstance(value, bool):
        return value
    try:
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.strip())
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    logger.warning(kv(logName="unparsableExportDate", value=preview(value)))
    return value


def _fail(*items: ErrorItem, status: int = 422) -> Outcome:
    failure = CallFailure(status, tuple(items))
    return Outcome(status, failure.body(), failure)


def exception_error(exc: BaseException) -> ErrorItem:
    """The 422 entry for a raised exception: its ``code`` (else class name) and ``str``.

    Whatever the exception holds, this gives an entry: a ``code`` that is not a
    string or a number is replaced by the class name, an integer too large for
    JSON's writers by the JavaScript number it would be, and a ``str`` that
    fails (a ``__str__`` that raises, a message nested too deep to print) by a
    message that says so.
    """
    try:
        code = getattr(exc, "code", None)
    except Exception:  # a property that raises
        code = None
    if not truthy(code) or not isinstance(code, (str, int, float)):
        code = type(exc).__name__
    elif isinstance(code, int) and not -(2**63) <= code < 2**64:  # beyond a JSON writer's integers
        code = _js_number(code)
    elif isinstance(code, float) and math.isinf(code):
        code = None  # JSON has no Infinity: null, as orjson and JavaScript write it
    return ErrorItem(code, exception_text(exc), message_first=True)


def _js_number(code: int) -> float | None:
    """A code too large for a JSON integer, as the JavaScript number it would be
    (``None`` for one beyond a double: JavaScript's ``Infinity``, written ``null``)."""
    try:
        return float(code)
    except OverflowError:
        return None


def exception_text(exc: BaseException) -> str:
    """``str(exc)``, or what went wrong when it cannot be had."""
    try:
        return str(exc)
    except Exception as failure:
        return f"({type(exc).__name__} could not be shown as text: {type(failure).__name__})"


_INVOKED_KEYS = (
    "logName",
    "type",
    "function",
    "_connectorId",
    "_integrationId",
    "_flowId",
    "_exportId",
    "_importId",
    "_connectionId",
    "_reqId",
    "traceId",
)


def _log_invoked(envelope: Mapping[str, Any], options: Any) -> None:
    type_value = envelope.get("type")
    integration = flow = export = import_ = connection = None
    if isinstance(options, dict):
        integration = options.get("_integrationId")
        if type_value == "hook" or type_value == "wrapper":
            flow = options.get("_flowId")
            export = options.get("_exportId")
            import_ = options.get("_importId")
            given = options.get("connection")
            if type_value == "wrapper" and isinstance(given, dict):
                connection = given.get("_id")
            else:
                connection = options.get("_connectionId")
    values = (
        "callFunctionInvoked",
        type_value,
        envelope.get("function"),
        envelope.get("_connectorId"),
        integration,
        flow,
        export,
        import_,
        connection,
        request_id.get(),
        trace_id.get(),
    )
    # Before the function runs, so that a call that kills its process shows in the log:
    # kept for one write with other lines only where the line outlives the process.
    log_info(kv_pairs(_INVOKED_KEYS, values), later=True, survive=True)


class Dispatcher:
    """Validate, resolve and run extension calls against loaded :class:`Extensions`.

    ``def`` functions always run on ``executor``, a thread pool (a
    :class:`CallPool` unless another is given, see :mod:`stack_runtime.core.pool`),
    never on the event loop's thread; ``async def`` functions run on the event
    loop. A call that runs longer than
    ``call_timeout`` seconds is answered with a ``function_timeout`` error.
    ``metrics``, when given, is told of every call :meth:`launch` runs and of every
    envelope it refuses (as ``rejected``).

    Run a call with :meth:`dispatch` (awaited), :meth:`dispatch_sync` (in the calling
    thread), or, on the request path, :meth:`begin` and :meth:`begin_then`; a subclass
    may override the steps they share (``_prepare``, :meth:`launch`, ``_run_sync``).
    """

    def __init__(
        self,
        extensions: Extensions,
        *,
        executor: Executor | None = None,
        call_timeout: float | None = DEFAULT_CALL_TIMEOUT,
        metrics: CallCounter | None = None,
    ) -> None:
        self.extensions = extensions
        self.call_timeout = call_timeout
        self.metrics = metrics
        self._executor = executor
        self._resolved: dict[tuple[str, ...], tuple[ExtensionFunction, bool]] = {}
        """Functions already resolved, by ``(type, function)`` (DIY) or with the connector id."""

    @property
    def executor(self) -> Executor:
        """The thread pool for ``def`` functions (created on first use)."""
        if self._executor is None:
            self._executor = CallPool(thread_name_prefix="extension")
        return self._executor

    # -- validation and resolution ------------------------------------------------

    def _module(
        self, envelope: Mapping[str, Any]
    ) -> tuple[ExtensionModule | None, list[ErrorItem]]:
        if truthy(envelope.get("diy")):
            if self.extensions.diy is None:
                return None, [errors.DIY_NOT_CONFIGURED]
            return self.extensions.diy, []
        connector_id = envelope.get("_connectorId")
        if truthy(connector_id):
            key = connector_id if isinstance(connector_id, str) else js_string(connector_id)
            module = self.extensions.connectors.get(key)
            return module, [] if module is not None else [errors.CONNECTOR_NOT_CONFIGURED]
        return None, [errors.DIY_OR_CONNECTOR_REQUIRED]

    @staticmethod
    def _cache_key(envelope: Mapping[str, Any]) -> tuple[str, ...] | None:
        """The key a resolution is remembered by, for the usual envelope shapes only.

        Only string ``type`` and ``function`` and a ``diy`` of exactly ``true`` (or
        absent, with a string ``_connectorId``) qualify: no two such envelopes that
        resolve differently share a key.
        """
        type_value = envelope.get("type")
        name = envelope.get("function")
        if type(type_value) is not str or type(name) is not str:
            return None
        diy = envelope.get("diy")
        if diy is True:
            return (type_value, name)
        connector_id = envelope.get("_connectorId")
        if (diy is None or diy is False) and type(connector_id) is str:
            return (connector_id, type_value, name)
        return None

    def _prepare(self, envelope: Mapping[str, Any]) -> PreparedCall | Outcome:
        """Validate and resolve ``envelope``; a ready call or the failing :class:`Outcome`.

        A resolution that succeeded is remembered (for the usual envelope shapes),
        so the next call of the same function skips the lookup: the answer is the
        same, as extension modules are imported once.
        """
        options = envelope.get("options")
        _log_invoked(envelope, options)
        key = self._cache_key(envelope)
        known = self._resolved.get(key) if key is not None else None
        if known is None or type(options) is not dict:
            resolved = self._resolve(envelope, options)
            if isinstance(resolved, Outcome):
                if self.metrics is not None:
                    self.metrics.finished("", "rejected", 0.0, ran=False)
                return resolved
            known = (resolved, inspect.iscoroutinefunction(resolved))
            if key is not None:
                self._resolved[key] = known
        if isinstance(options, dict):
            for field in _DATE_FIELDS:
                if field in options and truthy(options[field]):
                    options[field] = to_datetime(options[field])
        function, is_async = known
        return PreparedCall(
            function, options, envelope.get("maxResponseSize"), envelope["function"], is_async
        )

    def _resolve(self, envelope: Mapping[str, Any], options: Any) -> ExtensionFunction | Outcome:
        """Validate ``envelope`` in the reference's order and find its function."""
        module, problems = self._module(envelope)
        name = envelope.get("function")
        if not truthy(name):
            problems.append(errors.FUNCTION_MISSING)
        elif not isinstance(name, str):
            problems.append(errors.FUNCTION_NOT_STRING)
        if not truthy(options):
            problems.append(errors.OPTIONS_MISSING)
        if problems:
            return _fail(*problems)
        assert module is not None and isinstance(name, str)

        type_value = envelope.get("type", _MISSING)
        if type_value is not _MISSING and truthy(type_value):
            type_text = js_string(type_value)
            namespace = module.namespace(namespace_attribute(type_text))
            if namespace is None:
                logger.info(kv(logName="objectNotFound", module=module.label, type=type_text))
                return _fail(errors.object_not_found(type_text))
        else:
            namespace = module.module
        function = module.function(namespace, name)
        if function is None:
            logger.warning(
                kv(
                    logName="functionNotFound",
                    module=module.label,
                    type=envelope.get("type"),
                    function=name,
                    available=" ".join(module.function_names(namespace)) or "(none)",
                )
            )
            return _fail(errors.INVALID_FUNCTION)
        return function

    # -- the call -------------------------------------------------------------------

    def _finish(self, call: PreparedCall, result: Any) -> Outcome:
        """Check and serialize a returned ``result``."""
        encoded = encode_result(result, call.max_response_size)
        if isinstance(encoded, ErrorItem):
            logger.warning(
                kv(
                    logName="invalidResponse",
                    function=call.name,
                    code=encoded.code,
                    resultType=type(result).__name__,
                )
            )
            return _fail(encoded)
        return Outcome(200, encoded, None, result)

    def _failed(self, call: PreparedCall, exc: BaseException) -> Outcome:
        """The 422 for a function that raised; the traceback goes to the log only."""
        logger.error(
            kv(
                logName="functionFailed",
                function=call.name,
                error=f"{type(exc).__name__}: {exception_text(exc)}",
            ),
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        return _fail(exception_error(exc))

    def _timed_out(self, call: PreparedCall) -> Outcome:
        """The 422 for a call that ran past ``call_timeout``."""
        limit = js_string(self.call_timeout)
        logger.error(kv(logName="functionTimeout", function=call.name, limitSeconds=limit))
        return _fail(
            ErrorItem(
                "function_timeout",
                f"The function {call.name} did not finish within {limit} seconds.",
                message_first=True,
            )
        )

    def launch(self, call: PreparedCall, then: Then) -> Outcome | None:
        """Run a prepared call as far as it goes without waiting.

        Returns the :class:`Outcome` when the call has one already: a ``def``
        function that finished while the loop waited for its thread (a
        :class:`CallPool` waits while the thread computes, at most a few
        milliseconds, see :mod:`stack_runtime.core.pool`), or an ``async def``
        function that cannot even be called with ``options``. Otherwise returns
        None and calls ``then`` with the outcome later, on the loop. A ``def``
        function always runs in a worker thread, never on the loop's thread; an
        ``async def`` runs in a task of its own.
        ``then`` gets None for a call that has no answer: it was cancelled (the
        host shutting down), or the host itself failed (logged as
        ``unhandledError``). Must be called on the event loop.
        """
        metrics = self.metrics
        if metrics is not None:
            metrics.started(call.name)
        started = time.perf_counter()
        if call.is_async:
            return self._launch_async(call, then, started)
        executor = self.executor
        if isinstance(executor, CallPool):  # the cheap hand-off (pool.py)

            def settle(ok: bool, value: Any) -> Outcome | None:
                """The outcome, or None when a coroutine the def returned goes on in a task."""
                if not ok:
                    return self._failure(call, value, started)
                if type(value) in _NOT_AWAITABLE or not inspect.isawaitable(value):
                    return self._done(call, self._finish(call, value), started)
                self._go_on(call, value, started, then)
                return None

            def done(ok: bool, value: Any) -> None:
                try:
                    outcome = settle(ok, value)
                except Exception as exc:  # an error of the host itself
                    _host_failed(call, exc)
                    then(None)
                    return
                if outcome is not None:
                    then(outcome)

            finished = executor.call(
                call.function, call.options, done, self.call_timeout, wait=True
            )
            return None if finished is None else settle(*finished)
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        running = loop.run_in_executor(executor, context.run, call.function, call.options)
        self._go_on(call, self._awaited(running), started, then, limited=False)
        return None

    def _launch_async(self, call: PreparedCall, then: Then, started: float) -> Outcome | None:
        """An ``async def`` call, in a task of its own (``asyncio.current_task()`` is set for
        the function, as libraries such as anyio need)."""
        try:
            coroutine = call.function(call.options)
        except BaseException as exc:  # called with the wrong arguments
            return self._failure(call, exc, started)
        self._go_on(call, coroutine, started, then)
        return None

    def _go_on(
        self,
        call: PreparedCall,
        awaitable: Awaitable[Any],
        started: float,
        then: Then,
        *,
        limited: bool = True,
    ) -> None:
        """Await the rest of a call in a task of its own (in a copy of the context), within
        the call limit unless ``limited`` is False; the task itself gives ``then`` the outcome."""
        asyncio.get_running_loop().create_task(
            self._answer(call, awaitable, started, then, limited)
        )

    async def _answer(
        self,
        call: PreparedCall,
        awaitable: Awaitable[Any],
        started: float,
        then: Then,
        limited: bool,
    ) -> None:
        try:
            outcome = await self._settle(call, awaitable, started, limited)
        except asyncio.CancelledError:
            then(None)
            raise
        except Exception as exc:  # an error of the host itself
            _host_failed(call, exc)
            then(None)
            return
        then(outcome)

    def _start(self, call: PreparedCall) -> Outcome | Coroutine[Any, Any, Outcome]:
        """:meth:`launch`, for code that awaits: the outcome, or a coroutine that gives it.

        Must be called on the event loop.
        """
        future: asyncio.Future[Outcome | None] = asyncio.get_running_loop().create_future()

        def then(outcome: Outcome | None) -> None:
            if not future.done():
                future.set_result(outcome)

        outcome = self.launch(call, then)
        return outcome if outcome is not None else _outcome_of(future)

    def _done(self, call: PreparedCall, outcome: Outcome, started: float) -> Outcome:
        if self.metrics is not None:
            self.metrics.finished(call.name, outcome_label(outcome), time.perf_counter() - started)
        return outcome

    def _failure(self, call: PreparedCall, exc: BaseException, started: float) -> Outcome:
        """The outcome of a call that raised ``exc`` (a :class:`TimeoutError`: it timed out)."""
        if isinstance(exc, TimeoutError):
            return self._done(call, self._timed_out(call), started)
        return self._done(call, self._failed(call, exc), started)

    async def _awaited(self, running: Awaitable[Any]) -> Any:
        """A ``def`` call's result from an executor that is not a :class:`CallPool`."""
        return await asyncio.wait_for(running, self.call_timeout)

    async def _settle(
        self, call: PreparedCall, result: Awaitable[Any], started: float, limited: bool = True
    ) -> Outcome:
        """Await ``result``, the awaited part of a call (within the call limit unless
        ``limited`` is False), and make its :class:`Outcome`.

        The limit is one timer that cancels this task with :data:`_TIMED_OUT`, cheaper
        than ``asyncio.timeout`` on every call; a function that swallows the cancellation
        goes on, as under ``asyncio.timeout``."""
        timer = task = None
        if limited and self.call_timeout is not None:
            task = asyncio.current_task()
            if task is not None:
                timer = task.get_loop().call_later(self.call_timeout, task.cancel, _TIMED_OUT)
        try:
            value = await result
        except asyncio.CancelledError as exc:
            if task is not None and exc.args and exc.args[0] is _TIMED_OUT:
                task.uncancel()
                return self._done(call, self._timed_out(call), started)
            if self.metrics is not None:  # never answered, so not counted
                self.metrics.dropped(call.name)
            raise
        except BaseException as exc:
            return self._failure(call, exc, started)
        finally:
            if timer is not None:
                timer.cancel()
        if type(value) not in _NOT_AWAITABLE and inspect.isawaitable(value):
            return await self._settle(call, value, started)  # a coroutine a function returned
        return self._done(call, self._finish(call, value), started)

    def _run_sync(self, call: PreparedCall) -> Outcome:
        """Run a prepared call in the calling thread (the Lambda and CLI faces)."""
        try:
            result = call.function(call.options)
            if inspect.isawaitable(result):
                result = asyncio.run(asyncio.wait_for(result, self.call_timeout))
        except TimeoutError:
            return self._timed_out(call)
        except BaseException as exc:
            return self._failed(call, exc)
        return self._finish(call, result)

    def begin(self, envelope: Mapping[str, Any]) -> Outcome | Coroutine[Any, Any, Outcome]:
        """Validate, resolve and :meth:`_start` ``envelope``: its outcome, or a coroutine for it.

        A refused envelope, and an ``async def`` call that needs no waiting, have
        their outcome at once; any other call is run by awaiting the coroutine
        returned.
        """
        prepared = self._prepare(envelope)
        if isinstance(prepared, Outcome):
            return prepared
        return self._start(prepared)

    def begin_then(self, envelope: Mapping[str, Any], then: Then) -> Outcome | None:
        """Validate, resolve and :meth:`launch` ``envelope``: its outcome now, or None and
        ``then(outcome)`` later (see :meth:`launch`)."""
        prepared = self._prepare(envelope)
        if isinstance(prepared, Outcome):
            return prepared
        return self.launch(prepared, then)

    async def dispatch(self, envelope: Mapping[str, Any]) -> Outcome:
        """Validate, resolve and run ``envelope`` (for an event loop)."""
        begun = self.begin(envelope)
        return begun if isinstance(begun, Outcome) else await begun

    def dispatch_sync(self, envelope: Mapping[str, Any]) -> Outcome:
        """Validate, resolve and run ``envelope`` in the calling thread."""
        prepared = self._prepare(envelope)
        if isinstance(prepared, Outcome):
            return prepared
        return self._run_sync(prepared)
