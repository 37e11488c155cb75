"""Check and serialize what an extension function returned.

A result is valid only when it is plain JSON data: ``dict`` with ``str`` keys,
``list``, ``str``, ``int``, ``float``, ``bool`` or ``None``. Anything else (a
``datetime``, a tuple, a set, a dataclass, an enum, a class instance) is refused
with ``invalid_extension_response``, as the reference refuses dates and class
instances. ``NaN`` and infinities serialize as ``null``, as in JavaScript.
"""

from __future__ import annotations

import gc
import math
from typing import Any

import orjson

from . import errors
from .errors import ErrorItem
from .jsvalues import js_string, truthy

__all__ = [
    "C_CHECK",
    "DEFAULT_MAX_RESPONSE_SIZE",
    "encode_result",
    "is_plain_json",
    "python_is_plain_json",
    "response_limit",
]

#: The reference's default ``maxResponseSize``: 5 MiB.
DEFAULT_MAX_RESPONSE_SIZE = 5 * 1024 * 1024

_PLAIN = frozenset({dict, list, str, int, float, bool, type(None)})
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_OPTIONS |= orjson.OPT_PASSTHROUGH_SUBCLASS
_referents = gc.get_referents
_MAX_DEPTH = 256  # orjson refuses nesting deeper than 254
_BATCH = 512
_ASTRAL_LEADS = tuple(bytes([b]) for b in range(0xF0, 0xF5))


def _refuse(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def python_is_plain_json(value: Any) -> bool:
    """True when ``value`` and everything in it has exactly a JSON type.

    ``orjson`` also serializes tuples, enums and UUIDs natively; this catches
    them. :func:`is_plain_json` is the same check in C (``_plain.c``) when the
    package was built with it, and this function otherwise. The walk is done by C functions, a batch of values at a time:
    :func:`gc.get_referents` lists the values of every list and dict of a batch
    at once (strings and numbers have none), and each batch's types are checked
    in one pass. Batches are kept small enough to stay in the CPU's cache. Call
    it on a value ``orjson`` has serialized: that proves there is no cycle (and
    nesting deeper than orjson allows is refused here too).
    """
    if type(value) not in _PLAIN:
        return False
    pending = [(_referents(value), 1)]
    while pending:
        batch, depth = pending.pop()
        if len(batch) > _BATCH:
            pending.extend((batch[i : i + _BATCH], depth) for i in range(0, len(batch), _BATCH))
            continue
        if depth > _MAX_DEPTH or not _PLAIN.issuperset(map(type, batch)):
            return False
        children = _referents(*batch)
        if children:
            pending.append((children, depth + 1))
    return True


try:
    from ._plain import is_plain_json
except ImportError:  # built without a C compiler: the same check in Python
    is_plain_json = python_is_plain_json

C_CHECK = is_plain_json is not python_is_plain_json
"""True when the result check runs in C (``_plain.c`` was built)."""


def response_limit(raw: Any) -> tuple[float, str]:
    """The size limit for ``maxResponseSize`` and the text the error message shows.

    A falsy or non-numeric value means the 5 MiB default; a numeric string counts
    as its number, as JavaScript's ``>`` would read it.
    """
    if truthy(raw):
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            try:
                return float(raw), js_string(raw)
            except OverflowError:  # an integer beyond a double: JavaScript's Infinity
                return (math.inf if raw > 0 else -math.inf), js_string(raw)
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
    if type(max_response_size) is int and max_response_size > 0:  # the usual case
        limit: float = max_response_size
    else:
        limit = response_limit(max_response_size)[0]
    if len(body) > limit and _js_length(body) > limit:
        return errors.response_size_exceeded(response_limit(max_response_size)[1])
    return body
