"""Check a result against the shape integrator.io expects for its kind.

The dispatcher only checks that a result is plain JSON data; integrator.io then
reads it as a page, a list of per-record answers, a ping status... and quietly
mishandles the wrong shape (a preMap entry spelled ``{"date": ...}`` drops the
record). :func:`shape_problems` compares a result with the model in
:mod:`stack_runtime.types` for the function's kind, and per-record answers with
the number of records sent. The pytest plugin runs it on every successful
:meth:`~stack_runtime.testing.Stack.call`.

It reads the TypedDicts at run time (no third-party validator): required keys,
value types, ``Literal`` values, and, for the answers where a misspelt key loses
data, keys that the model does not know.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any

from . import types as models

__all__ = ["RESULT_MODELS", "RECORD_COUNTS", "shape_problems"]

#: The model of the result of each function kind.
RESULT_MODELS: Mapping[str, Any] = {
    "preSavePage": models.PreSavePageResult,
    "preMap": models.PreMapResult,
    "postMap": models.PostMapResult,
    "postSubmit": models.PostSubmitResult,
    "postResponseMap": models.PostResponseMapResult,
    "postAggregate": models.PostAggregateResult,
    "formInit": models.FormInitResult,
    "preSave": models.PreSaveResult,
    "ping": models.PingResult,
    "export": models.ExportResult,
    "import": models.ImportResult,
    "persistSettings": models.PersistSettingsResult,
    "refreshMetadata": models.RefreshMetadataResult,
}

#: The options field whose length a per-record answer must match, by kind.
RECORD_COUNTS: Mapping[str, str] = {
    "preMap": "data",
    "postMap": "postMapData",
    "postSubmit": "responseData",
    "postResponseMap": "postResponseMapData",
    "import": "postMapData",
}

# Answers in which a key integrator.io does not know is almost surely a typo that loses data.
_CLOSED = frozenset(
    {
        models.RecordResult,
        models.PreSavePageResult,
        models.NewErrorAndRetryData,
        models.PingResult,
        models.ExportResult,
    }
)


def _name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _check(value: Any, hint: Any, where: str, problems: list[str]) -> None:
    if hint is Any:
        return
    if hint is None or hint is type(None):
        if value is not None:
            problems.append(f"{where}: expected nothing (None), got {type(value).__name__}")
        return
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        attempts: list[list[str]] = []
        for option in args:
            found: list[str] = []
            _check(value, option, where, found)
            if not found:
                return
            attempts.append(found)
        closest: list[str] = min(attempts, key=len)
        problems.extend(closest)
        return
    if origin is typing.Literal:
        if value not in args or type(value) is bool:
            allowed = " or ".join(repr(a) for a in args)
            problems.append(f"{where}: expected {allowed}, got {value!r}")
        return
    if typing.is_typeddict(hint):
        _check_typeddict(value, hint, where, problems)
        return
    if origin is list:
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list, got {type(value).__name__}")
            return
        for index, item in enumerate(value):
            _check(item, args[0] if args else Any, f"{where}[{index}]", problems)
        return
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            problems.append(f"{where}: expected an object (dict), got {type(value).__name__}")
            return
        for key, item in value.items():
            _check(item, args[1] if args else Any, f"{where}[{key!r}]", problems)
        return
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, hint)
    if not ok:
        problems.append(f"{where}: expected {_name(hint)}, got {type(value).__name__}")


def _check_typeddict(value: Any, model: Any, where: str, problems: list[str]) -> None:
    if not isinstance(value, dict):
        problems.append(
            f"{where}: expected an object ({model.__name__}), got {type(value).__name__}"
        )
        return
    hints = typing.get_type_hints(model)
    for key in sorted(model.__required_keys__ - value.keys()):
        problems.append(f"{where}: {key!r} is missing ({model.__name__} requires it)")
    for key, item in value.items():
        if key in hints:
            _check(item, hints[key], f"{where}[{key!r}]", problems)
        elif model in _CLOSED:
            known = ", ".join(sorted(hints))
            problems.append(
                f"{where}: {key!r} is not a field of {model.__name__} (integrator.io ignores "
                f"it; the fields are {known})"
            )


def shape_problems(kind: str | None, options: Any, result: Any) -> list[str]:
    """What is wrong with ``result`` for a function of ``kind`` called with ``options``.

    An empty list when nothing is (or the kind is unknown, such as an installer step).
    """
    if kind is None or kind not in RESULT_MODELS:
        return []
    problems: list[str] = []
    _check(result, RESULT_MODELS[kind], "result", problems)
    field = RECORD_COUNTS.get(kind)
    if field and isinstance(result, list) and isinstance(options, dict):
        sent = options.get(field)
        if isinstance(sent, list) and len(sent) != len(result):
            problems.append(
                f"result: {len(result)} entries for {len(sent)} records in {field}; "
                f"{kind} must answer one entry per record, in order"
            )
    return problems
