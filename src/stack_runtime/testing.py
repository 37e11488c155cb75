"""Test extension functions the way integrator.io calls them.

The pytest plugin hands tests a :class:`Stack` as the ``stack`` fixture; it can
also be made by hand (``Stack.load("extensions")``) for other test runners::

    def test_drops_inactive(stack):
        result = stack.call("preSavePage", records=[{"id": 1, "status": "inactive"}])
        assert result["data"] == []

    def test_refuses_unknown_region(stack):
        with pytest.raises(ExtensionCallError) as failed:
            stack.call("persistSettings", stack.options("persistSettings", pending={"region": "mars"}))
        assert failed.value.codes == ["ValueError"]

Each call goes through the real dispatcher: the envelope is checked, the
function resolved as the server resolves it, the options make a JSON round trip,
the result is checked for plain JSON data and against ``maxResponseSize``, and a
failure is the 422 integrator.io would get. :meth:`Stack.call` then checks the
result's shape for the function's kind (:mod:`stack_runtime.shapes`): a preMap
that answers a dict, or two entries for three records, fails the test with
:class:`ResultShapeError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .core.dispatcher import DEFAULT_CALL_TIMEOUT, Outcome
from .devtools.local import INFER, LocalStack, _Infer, build_envelope
from .exceptions import EnvelopeError, ExtensionCallError, ResultShapeError, SampleError
from .samples import options_for
from .shapes import shape_problems
from .types import Record

__all__ = [
    "CallResult",
    "ExtensionCallError",
    "ResultShapeError",
    "Stack",
    "EnvelopeError",
    "SampleError",
]


@dataclass(frozen=True)
class CallResult:
    """What integrator.io would get back from one call."""

    status: int
    """200, or 422 when the call failed (400 for an envelope a server refuses unread: one
    nested deeper than 1024 levels)."""
    body: bytes
    """The exact HTTP body (empty when the function returned ``None``)."""

    @property
    def ok(self) -> bool:
        """True for a 200."""
        return self.status == 200

    @property
    def result(self) -> Any:
        """The result as integrator.io reads it (``None`` for an empty body)."""
        return orjson.loads(self.body) if self.body else None

    @property
    def errors(self) -> list[dict[str, Any]]:
        """The ``errors`` of a 422 (``[]`` for a 200)."""
        if self.ok or not self.body:
            return []
        parsed = orjson.loads(self.body)
        return list(parsed.get("errors", [])) if isinstance(parsed, dict) else []

    @property
    def codes(self) -> list[Any]:
        """The ``code`` of each error, in order."""
        return [error.get("code") for error in self.errors]

    @classmethod
    def of(cls, outcome: Outcome) -> CallResult:
        """The result of a dispatcher :class:`~stack_runtime.core.dispatcher.Outcome`."""
        return cls(outcome.status, outcome.body)


class Stack:
    """Call the functions of an extensions folder as integrator.io would."""

    def __init__(self, local: LocalStack) -> None:
        self.local = local

    @classmethod
    def load(cls, root: Path | str, *, call_timeout: float | None = DEFAULT_CALL_TIMEOUT) -> Stack:
        """Import the extensions folder ``root`` (raises ``ExtensionLoadError``)."""
        return cls(LocalStack.load(root, call_timeout=call_timeout))

    def close(self) -> None:
        """Forget the imported modules; worker threads end once their calls return."""
        self.local.close(wait=False)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def options(
        self,
        kind: str,
        records: Sequence[Record] | None = None,
        *,
        type: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Realistic options for a function of ``kind`` (see :mod:`stack_runtime.samples`).

        ``records`` fill the page of the kinds that take one; keyword arguments
        replace top-level fields (``pending=...``, ``connection=...``,
        ``lastExportDateTime=...``).
        """
        return options_for(kind, records, type=type, **fields)

    def envelope(
        self,
        function: str,
        options: Any = None,
        *,
        records: Sequence[Record] | None = None,
        type: str | _Infer | None = INFER,
        kind: str | None = None,
        connector: str | None = None,
        max_response_size: int | None = None,
    ) -> dict[str, Any]:
        """The envelope :meth:`call` sends (options built from ``records`` when not given)."""
        kind = kind or function
        if options is None:
            options = options_for(kind, records, type=type if isinstance(type, str) else None)
        elif records is not None:
            raise SampleError("give either options or records, not both")
        return build_envelope(
            function,
            options,
            type=type,
            kind=kind,
            connector=connector,
            max_response_size=max_response_size,
        )

    def invoke(
        self,
        function: str,
        options: Any = None,
        *,
        records: Sequence[Record] | None = None,
        type: str | _Infer | None = INFER,
        kind: str | None = None,
        connector: str | None = None,
        max_response_size: int | None = None,
    ) -> CallResult:
        """Call ``function`` and return what integrator.io would get, 200 or 422."""
        envelope = self.envelope(
            function,
            options,
            records=records,
            type=type,
            kind=kind,
            connector=connector,
            max_response_size=max_response_size,
        )
        return CallResult.of(self.local.dispatch_sync(envelope))

    def call(
        self,
        function: str,
        options: Any = None,
        *,
        records: Sequence[Record] | None = None,
        type: str | _Infer | None = INFER,
        kind: str | None = None,
        connector: str | None = None,
        max_response_size: int | None = None,
        check_shape: bool = True,
    ) -> Any:
        """Call ``function``; its result as integrator.io reads it.

        ``options`` are sent as given; without them, realistic options for the
        function's ``kind`` (its name unless given) are built around ``records``.
        ``type`` defaults to the kind's (``hook`` for ``preSavePage``); ``None``
        calls a top-level function. ``connector`` calls that integration app
        instead of the DIY module.

        Raises :class:`ExtensionCallError` when the call answers 422, and
        :class:`ResultShapeError` when the result does not have the shape of
        its kind (unless ``check_shape`` is false).
        """
        envelope = self.envelope(
            function,
            options,
            records=records,
            type=type,
            kind=kind,
            connector=connector,
            max_response_size=max_response_size,
        )
        result = CallResult.of(self.local.dispatch_sync(envelope))
        return self._checked(function, kind, envelope, result, check_shape)

    @staticmethod
    def _checked(
        function: str,
        kind: str | None,
        envelope: dict[str, Any],
        result: CallResult,
        check_shape: bool,
    ) -> Any:
        if not result.ok:
            raise ExtensionCallError(function, result)
        value = result.result
        if check_shape:
            kind = kind or function
            problems = shape_problems(kind, LocalStack.as_sent(envelope["options"]), value)
            if problems:
                raise ResultShapeError(function, kind, problems, value)
        return value

    async def acall(
        self,
        function: str,
        options: Any = None,
        *,
        records: Sequence[Record] | None = None,
        type: str | _Infer | None = INFER,
        kind: str | None = None,
        connector: str | None = None,
        max_response_size: int | None = None,
        check_shape: bool = True,
    ) -> Any:
        """:meth:`call` from a test that already runs an event loop."""
        envelope = self.envelope(
            function,
            options,
            records=records,
            type=type,
            kind=kind,
            connector=connector,
            max_response_size=max_response_size,
        )
        result = CallResult.of(await self.local.dispatch(envelope))
        return self._checked(function, kind, envelope, result, check_shape)
