"""Check and serialize what an extension function returned.

A result is valid only when it is plain JSON data: ``dict`` with ``str`` keys,
``list``, ``str``, ``int``, ``float``, ``bool`` or ``None``. Anything else (a
``datetime``, a tuple, a set, a dataclass, an enum, a class instance) is refused
with ``invalid_extension_response``, as the reference refuses dates and class
instances. ``NaN`` and infinities serialize as ``null``, as in JavaScript.
"""

from __future__ import annotations

from typing import Any

import orjson

from . import errors
from .errors import ErrorItem
from .jsvalues import js_string, truthy

__all__ = ["DEFAULT_MAX_RESPONSE_SIZE", "encode_result", "is_plain_json", "response_limit"]

#: The reference's default ``maxResponseSize``: 5 MiB.
DEFAULT_MAX_RESPONSE_SIZE = 5 * 1024 * 1024

_PLAIN = frozenset({dict, list, str, int, float, bool, type(None)})
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_OPTIONS |= orjson.OPT_PASSTHROUGH_SUBCLASS
_ASTRAL_LEADS = tuple(bytes([b]) for b in range(0xF0, 0xF5))


def _refuse(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def is_plain_json(value: Any) -> bool:
    """True when ``value`` and everything in it has exactly a JSON type.

    ``orjson`` also serializes tuples, enums and UUIDs natively; this catches
    them. Each container is checked with one C-level ``map(type, ...)``.
    """
    if type(value) not in _PLAIN:
        return False
    stack = [value]
    while stack:
        container = stack.pop()
        kind = type(container)
        if kind is dict:
            items: Any = container.values()
        elif kind is list:
            items = container
        else:
            continue
        found = set(map(type, items))
        if not found <= _PLAIN:
            return False
        if dict in found or list in found:
            stack.extend(x for x in items if type(x) is dict or type(x) is list)
    return True


def response_limit(raw: Any) -> tuple[float, str]:
    """The size limit for ``maxResponseSize`` and the text the error message shows.

    A falsy or non-numeric value means the 5 MiB default; a numeric string counts
    as its number, as JavaScript's ``>`` would read it.
    """
    if truthy(raw):
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return float(raw), js_string(raw)
        if isinstance(raw, str):
            try:
                return float(raw), raw
            except ValueError:
                pass
    return float(DEFAULT_MAX_RESPONSE_SIZE), str(DEFAULT_MAX_RESPONSE_SIZE)


def _js_length(body: bytes) -> int:
    """``JSON.stringify(result).length``: UTF-16 code units of the UTF-8 ``body``."""
    return len(body.decode("utf-8")) + sum(body.count(lead) for lead in _ASTRAL_LEADS)


def encode_result(result: Any, max_response_size: Any = None) -> bytes | ErrorItem:
    """The compact JSON of ``result``, or the error that refuses it.

    ``None`` (a function that returns nothing) gives an empty body, as the
    reference answers for ``undefined``.
    """
    if result is None:
        return b""
    try:
        body = orjson.dumps(result, default=_refuse, option=_OPTIONS)
    except (orjson.JSONEncodeError, TypeError, RecursionError):
        return errors.NOT_SERIALIZABLE
    if not is_plain_json(result):
        return errors.NOT_SERIALIZABLE
    limit, limit_text = response_limit(max_response_size)
    if len(body) > limit and _js_length(body) > limit:
        return errors.response_size_exceeded(limit_text)
    return body
