"""Call extension functions in this process, exactly as the HTTP face would.

``stack-runtime invoke`` and the pytest plugin are faces over this: an envelope
goes through a JSON round trip (what integrator.io sends is JSON, so a tuple
arrives as a list and a ``datetime`` as a string), then through the real
:class:`~stack_runtime.core.dispatcher.Dispatcher` on an event loop, with ``def``
functions in a worker thread. The :class:`~stack_runtime.core.dispatcher.Outcome`
carries the status and the very bytes the server would answer with.
"""

from __future__ import annotations

import asyncio
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

import orjson

from ..core.dispatcher import DEFAULT_CALL_TIMEOUT, Dispatcher, Outcome
from ..core.errors import CallFailure
from ..core.loader import Extensions, load_extensions
from ..core.requestjson import MAX_DEPTH, too_deep
from ..exceptions import EnvelopeError, EnvelopeTooDeep
from ..samples import kind_type

__all__ = ["INFER", "LocalStack", "build_envelope", "unload"]


class _Infer:
    def __repr__(self) -> str:
        return "INFER"


#: Default for ``type``: take it from the function's kind (``"hook"`` for ``preMap``).
INFER: Final = _Infer()


def _refused(exc: EnvelopeTooDeep) -> Outcome:
    """The ``400 nesting_too_deep`` a server answers to an envelope nested too deep."""
    failure = CallFailure(400, (exc.error,))
    return Outcome(400, failure.body(), failure)


_ORJSON_TOO_DEEP = "Recursion limit reached"
"""What ``orjson.dumps`` says of a value nested deeper than it writes (254 levels)."""
_PATH_LEVELS = 4


def _deep_as_sent(envelope: Any) -> Any:
    """:meth:`LocalStack.as_sent` for an envelope nested deeper than ``orjson`` writes.

    Arrays (lists, tuples) and objects (dicts) are copied with a stack of
    their own, down to :data:`~stack_runtime.core.requestjson.MAX_DEPTH` levels (a
    cycle is deeper than that); everything else makes its own JSON round trip.
    """
    root: list[Any] = [None]
    # (value, where its copy goes, its key or index there, its depth, the keys down to it)
    pending: list[tuple[Any, Any, Any, int, tuple[str | None, ...]]] = [(envelope, root, 0, 1, ())]
    while pending:
        value, target, slot, depth, path = pending.pop()
        is_object = isinstance(value, dict)
        if not is_object and not isinstance(value, (list, tuple)):
            try:
                target[slot] = orjson.loads(orjson.dumps(value))
            except TypeError as exc:
                raise EnvelopeError(f"the options are not JSON data: {exc}") from None
            continue
        if depth > MAX_DEPTH:
            field = ".".join(k for k in path if k is not None) or None
            raise EnvelopeTooDeep(too_deep("The request body", field))
        follows = len(path) < _PATH_LEVELS and (not path or path[-1] is not None)
        if is_object:
            copy: dict[str, Any] = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise EnvelopeError("the options are not JSON data: Dict key must be str")
                copy[key] = None
                pending.append((item, copy, key, depth + 1, (*path, key) if follows else path))
            target[slot] = copy
        else:
            items = [None] * len(value)
            below = (*path, None) if follows else path
            pending.extend((item, items, i, depth + 1, below) for i, item in enumerate(value))
            target[slot] = items
    return root[0]


def build_envelope(
    function: str,
    options: Any,
    *,
    type: str | _Infer | None = INFER,
    kind: str | None = None,
    connector: str | None = None,
    max_response_size: int | None = None,
) -> dict[str, Any]:
    """The envelope integrator.io would send to call ``function``.

    ``type`` is the namespace (``"hook"``, ``"wrapper"``, ``"installer"``...);
    ``None`` calls a top-level ("flat") function. Left out, it is the type of
    the function's ``kind`` (by default the function's name: ``preMap`` is a
    hook); a name that is no known kind then raises :class:`EnvelopeError`.
    ``connector`` calls that integration app's function instead of the DIY one.
    """
    if isinstance(type, _Infer):
        type = kind_type(kind or function)
        if type is None:
            raise EnvelopeError(
                f"cannot tell the type of {function!r}: give it (hook, wrapper, setting, "
                "installer, uninstaller, utility), or none for a top-level function"
            )
    envelope: dict[str, Any] = {"_connectorId": connector} if connector else {"diy": True}
    if type is not None:
        envelope["type"] = type
    envelope["function"] = function
    envelope["options"] = options
    if max_response_size is not None:
        envelope["maxResponseSize"] = max_response_size
    return envelope


def unload(extensions: Extensions) -> None:
    """Forget the modules :func:`~stack_runtime.core.loader.load_extensions` registered."""
    modules = [extensions.diy, *extensions.connectors.values()]
    packages = {m.package.split(".", 1)[0] for m in modules if m is not None}
    for name in [n for n in sys.modules if n.split(".", 1)[0] in packages]:
        del sys.modules[name]


class LocalStack:
    """Loaded extensions and a dispatcher, to call functions without a server."""

    def __init__(
        self, extensions: Extensions, *, call_timeout: float | None = DEFAULT_CALL_TIMEOUT
    ) -> None:
        self.extensions = extensions
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="extension")
        self.dispatcher = Dispatcher(extensions, executor=self._executor, call_timeout=call_timeout)
        # One event loop for every synchronous call: a new loop per call costs ~1 ms.
        self._runner = asyncio.Runner()

    @classmethod
    def load(
        cls, root: Path | str, *, call_timeout: float | None = DEFAULT_CALL_TIMEOUT
    ) -> LocalStack:
        """Import the extensions under ``root`` (raises ``ExtensionLoadError``)."""
        return cls(load_extensions(root), call_timeout=call_timeout)

    @staticmethod
    def as_sent(envelope: Any) -> Any:
        """``envelope`` as integrator.io's JSON would deliver it.

        Raises :class:`EnvelopeError` for what JSON cannot carry, and
        :class:`EnvelopeTooDeep` for an envelope nested deeper than a server
        reads (:data:`~stack_runtime.core.requestjson.MAX_DEPTH` levels).
        """
        try:
            return orjson.loads(orjson.dumps(envelope))
        except TypeError as exc:
            if str(exc) != _ORJSON_TOO_DEEP:
                raise EnvelopeError(f"the options are not JSON data: {exc}") from None
        return _deep_as_sent(envelope)

    async def dispatch(self, envelope: Any) -> Outcome:
        """Run ``envelope`` (after a JSON round trip) on the running event loop."""
        try:
            sent = self.as_sent(envelope)
        except EnvelopeTooDeep as exc:
            return _refused(exc)
        return await self.dispatcher.dispatch(sent)

    def dispatch_sync(self, envelope: Any) -> Outcome:
        """Run ``envelope`` on this stack's event loop, as the server's worker would.

        Not from a thread that is already running an event loop: await
        :meth:`dispatch` there.
        """
        try:
            sent = self.as_sent(envelope)
        except EnvelopeTooDeep as exc:
            return _refused(exc)
        return self._runner.run(self.dispatcher.dispatch(sent))

    def close(self, *, wait: bool = True) -> None:
        """Stop the event loop and the worker threads, and forget the loaded modules."""
        self._runner.close()
        self._executor.shutdown(wait=wait, cancel_futures=True)
        unload(self.extensions)
