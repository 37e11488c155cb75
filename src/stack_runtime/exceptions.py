"""Every error stack-runtime raises on purpose: :class:`StackRuntimeError` and its subclasses.

Catch :class:`StackRuntimeError` to catch them all; ``stack-runtime`` (:func:`stack_runtime.cli.main`)
does, and stops with one line that says what went wrong and the exit status of
:attr:`StackRuntimeError.exit_status`. Errors that were a ``ValueError``, an
``AssertionError`` or a ``FileExistsError`` still are.

Authors meet three of them, also importable from where they are used:
:class:`ExtensionCallError` and :class:`ResultShapeError` (``stack_runtime.testing``: what
``stack.call`` raises in a test) and :class:`IntegratorAPIError` (``stack_runtime.client``).

This module imports nothing else of stack-runtime: every part may import it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol

__all__ = [
    "StackRuntimeError",
    "SettingsError",
    "ExtensionLoadError",
    "UsageError",
    "EnvelopeError",
    "EnvelopeTooDeep",
    "SampleError",
    "ScaffoldExists",
    "TargetError",
    "PackageError",
    "FunctionError",
    "IntegratorAPIError",
    "ExtensionCallError",
    "ResultShapeError",
]


class StackRuntimeError(Exception):
    """The base of every error stack-runtime raises on purpose."""

    exit_status: ClassVar[int] = 1
    """The exit status of a ``stack-runtime`` command that stops on this error."""
    headline: ClassVar[str] = ""
    """What the command line says before the message, if anything (``cannot load
    extensions``)."""


# -- the command line and the settings -----------------------------------------------------


class SettingsError(StackRuntimeError, ValueError):
    """A setting is missing or has a value that cannot be used."""

    exit_status = 2


class UsageError(StackRuntimeError, ValueError):
    """The command line asks for something that cannot be done."""

    exit_status = 2


class ExtensionLoadError(StackRuntimeError):
    """An extension could not be imported; says which file, which line and why."""

    headline = "cannot load extensions"

    def __init__(self, file: str, line: int | None, detail: str) -> None:
        self.file = file
        self.line = line
        self.detail = detail
        where = f"{file}, line {line}" if line else file
        super().__init__(f"{where}: {detail}")


class EnvelopeError(StackRuntimeError, ValueError):
    """An envelope cannot be built as asked (its type cannot be told, options not JSON)."""

    exit_status = 2


class EnvelopeTooDeep(EnvelopeError):
    """An envelope nested deeper than a server reads: the server would answer it 400 with
    ``error`` (a :class:`~stack_runtime.core.errors.ErrorItem`, ``nesting_too_deep``)."""

    def __init__(self, error: Any) -> None:
        self.error = error
        super().__init__(error.message)


class SampleError(StackRuntimeError, ValueError):
    """The sample options asked for cannot be built (records for a kind that takes none)."""

    exit_status = 2


class ScaffoldExists(StackRuntimeError, FileExistsError):
    """Some of the files ``init`` would write exist already; ``paths`` lists them."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        listed = "\n  ".join(str(p) for p in paths)
        super().__init__(f"these files exist already; nothing was written:\n  {listed}")


# -- AWS Lambda ----------------------------------------------------------------------------


class TargetError(StackRuntimeError, ValueError):
    """An architecture or Python version that no supported Lambda runtime has."""


class PackageError(StackRuntimeError):
    """The deployment package cannot be built; the message says why and what to do."""


class _Failure(Protocol):
    def lambda_message(self) -> str: ...


class FunctionError(StackRuntimeError):
    """A failed call, reported to Lambda as a function error.

    ``str(error)`` is the JSON ``{"statusCode": ..., "errors": [...]}``: the
    function error's ``errorMessage``, which integrator.io parses. ``failure`` is
    the :class:`~stack_runtime.core.errors.CallFailure` it was made from.
    """

    def __init__(self, failure: _Failure) -> None:
        self.failure = failure
        super().__init__(failure.lambda_message())


# -- for authors ---------------------------------------------------------------------------


class IntegratorAPIError(StackRuntimeError):
    """integrator.io's API answered with an error, or could not be reached.

    ``code`` and ``message`` are integrator.io's first error when its answer has
    ``{"errors": [...]}``; otherwise ``code`` is ``http_<status>`` and ``message``
    the start of the body. ``status`` is 0 when no answer came at all.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        method: str = "",
        url: str = "",
        errors: list[dict[str, Any]] | None = None,
        body: str = "",
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.method = method
        self.url = url
        self.errors = errors if errors is not None else []
        self.body = body
        where = f"{method} {url} " if method else ""
        answer = f"answered {status}" if status else "failed"
        super().__init__(f"integrator.io API {where}{answer}: {message}")


class _Answer(Protocol):
    @property
    def status(self) -> int: ...
    @property
    def body(self) -> bytes: ...
    @property
    def errors(self) -> list[dict[str, Any]]: ...
    @property
    def codes(self) -> list[Any]: ...


class ExtensionCallError(StackRuntimeError):
    """A call answered with errors (a 422) instead of a result.

    ``call_result`` is the :class:`~stack_runtime.testing.CallResult`; ``status``,
    ``errors``, ``codes`` and ``body`` are its own.
    """

    def __init__(self, function: str, result: _Answer) -> None:
        self.function = function
        self.call_result = result
        self.status = result.status
        self.errors = result.errors
        self.codes = result.codes
        self.body = result.body
        super().__init__(
            f"{function} answered {result.status}: {result.body.decode('utf-8', 'replace')}"
        )


class ResultShapeError(StackRuntimeError, AssertionError):
    """A call answered 200, with a result integrator.io would misread for the function's kind."""

    def __init__(self, function: str, kind: str, problems: list[str], result: Any) -> None:
        self.function = function
        self.kind = kind
        self.problems = problems
        self.result = result
        listed = "\n  ".join(problems)
        super().__init__(f"{function} returned a result of the wrong shape for {kind}:\n  {listed}")
