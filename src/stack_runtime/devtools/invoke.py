"""``stack-runtime invoke``: call one extension function here, without HTTP.

The envelope goes through the same dispatcher the server uses; standard output
gets exactly the bytes the server would answer with (the result, or the 422's
``{"errors": [...]}``), and the exit status says which. Logs, tracebacks and
anything the function prints go to standard error.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import orjson

from ..core.errors import ErrorItem
from ..core.requestjson import read_error
from ..exceptions import UsageError
from ..samples import KIND_TYPES, options_for, takes_records
from ..settings import Settings
from .local import INFER, LocalStack, _Infer, build_envelope
from .readable import configure_readable_logging

__all__ = [
    "EXIT_OK",
    "EXIT_CALL_FAILED",
    "EXIT_USAGE",
    "EXIT_LOAD_FAILED",
    "run_invoke",
]

EXIT_OK = 0
"""The function answered 200."""
EXIT_CALL_FAILED = 1
"""The call answered 422: the function raised, or the envelope or result was refused."""
EXIT_USAGE = 2
"""Bad flags, or an options, records or envelope file that cannot be read."""
EXIT_LOAD_FAILED = 3
"""The extensions folder could not be imported."""


def _read_json(path: str, what: str) -> Any:
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the {what} file {path}: {exc.strerror}") from None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        source = "standard input" if path == "-" else path
        problem = read_error(exc, f"the {what} in {source}")
        if problem.code == "nesting_too_deep":  # as a server would refuse it, naming the field
            raise UsageError(problem.message.rstrip(".")) from None
        raise UsageError(f"the {what} in {source} are not valid JSON: {exc}") from None


def _check_stdin(args: argparse.Namespace) -> None:
    readers = [flag for flag in ("options", "records", "envelope") if getattr(args, flag) == "-"]
    if len(readers) > 1:
        raise UsageError(f"only one of --{' and --'.join(readers)} can read standard input")


def _from_envelope(args: argparse.Namespace) -> dict[str, Any]:
    others = [
        flag
        for flag, value in (
            ("FUNCTION", args.function),
            ("--options", args.options),
            ("--records", args.records),
            ("--connector", args.connector),
            ("--type", args.function_type),
            ("--flat", args.flat),
            ("--kind", args.kind),
        )
        if value
    ]
    if others:
        raise UsageError(f"--envelope carries everything; drop {', '.join(others)}")
    envelope = _read_json(args.envelope, "envelope")
    if not isinstance(envelope, dict):
        raise UsageError("the envelope must be a JSON object")
    if args.max_response_size is not None:
        envelope["maxResponseSize"] = args.max_response_size
    return envelope


def build_invoke_envelope(args: argparse.Namespace) -> dict[str, Any]:
    """The envelope the command line asks for (raises :class:`UsageError` and friends)."""
    _check_stdin(args)
    if args.envelope:
        return _from_envelope(args)
    if not args.function:
        raise UsageError("name the FUNCTION to call (or give --envelope FILE)")
    kind = args.kind or args.function
    type_value: str | _Infer | None = INFER
    if args.flat:
        type_value = None
    elif args.function_type:
        type_value = args.function_type
    elif kind not in KIND_TYPES:
        raise UsageError(
            f"cannot tell the type of {args.function!r}: give --type TYPE (hook, wrapper, "
            "setting, installer, uninstaller, utility), --kind KIND, or --flat for a "
            "top-level function"
        )
    options: Any = _read_json(args.options, "options") if args.options else None
    if args.records:
        records = _read_json(args.records, "records")
        if not isinstance(records, list):
            raise UsageError("--records must hold a JSON array of records")
        if not takes_records(kind):
            raise UsageError(
                f"--records needs a function kind that takes a page of records; {kind!r} is "
                "not one (name the kind with --kind, e.g. --kind preSavePage)"
            )
        if options is not None and not isinstance(options, dict):
            raise UsageError("with --records, --options must hold a JSON object")
        options = options_for(kind, records, **(options or {}))
    elif options is None:
        type_text = type_value if isinstance(type_value, str) else KIND_TYPES.get(kind)
        options = options_for(kind, type=type_text)
    return build_envelope(
        args.function,
        options,
        type=type_value,
        kind=kind,
        connector=args.connector,
        max_response_size=args.max_response_size,
    )


def _write(body: bytes, pretty: bool) -> None:
    if pretty and body:
        body = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2)
    out = sys.stdout.buffer
    out.write(body)
    if pretty or (body and sys.stdout.isatty()):
        out.write(b"\n")
    out.flush()


def _timed_out(errors: tuple[ErrorItem, ...]) -> bool:
    return any(error.code == "function_timeout" for error in errors)


def run_invoke(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``stack-runtime invoke`` with the parsed ``args`` (see :mod:`stack_runtime.cli`);
    returns the exit status of the call (see ``EXIT_*``).

    Raises :class:`~stack_runtime.exceptions.UsageError` (and the other errors of
    ``EXIT_USAGE``) and :class:`~stack_runtime.exceptions.ExtensionLoadError`, which
    :func:`stack_runtime.cli.main` turns into their exit statuses.
    """
    envelope = build_invoke_envelope(args)
    configure_readable_logging(settings.log_level, Path(settings.extensions_dir))
    # Whatever extension code prints must not mix with the answer on standard output.
    with contextlib.redirect_stdout(sys.stderr):
        local = LocalStack.load(settings.extensions_dir, call_timeout=settings.call_timeout)
        outcome = local.dispatch_sync(envelope)
    _write(outcome.body, args.pretty)
    status = EXIT_OK if outcome.status == 200 else EXIT_CALL_FAILED
    if outcome.failure is not None and _timed_out(outcome.failure.errors):
        # The function's thread is still running and cannot be stopped: leave without it.
        sys.stderr.flush()
        os._exit(status)
    local.close()
    return status
