"""How the reference host's JavaScript sees a JSON value.

The envelope is validated with JavaScript truthiness (``if (!options.function)``)
and error messages build strings with JavaScript's ``String()``. These helpers
reproduce both for the values a JSON parser can produce, nested to any depth:
nothing here recurses.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

__all__ = ["truthy", "js_string"]

_EXACT = 2**53
"""Integers below this (in size) are JavaScript numbers as they are; above, the nearest double."""


def truthy(value: Any) -> bool:
    """JavaScript truthiness of a parsed JSON value.

    ``None``, ``False``, ``0``, ``0.0``, ``NaN`` and ``""`` are falsy; every object
    and array is truthy, even an empty one (unlike Python's ``bool``).
    """
    if value is None or value is False:
        return False
    if value is True:
        return True
    if isinstance(value, (int, float)):
        return value != 0 and not (isinstance(value, float) and math.isnan(value))
    if isinstance(value, str):
        return value != ""
    return True


def _number(value: float) -> str:
    """JavaScript's ``Number.prototype.toString()``: the shortest digits that read back
    as ``value`` (as Python's ``repr``), laid out as JavaScript lays them out."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    # value = 0.<digits> x 10**point, as the ECMAScript specification counts (its n)
    point = len(whole) + int(exponent or 0)
    significant = digits.lstrip("0")
    point -= len(digits) - len(significant)
    digits = significant.rstrip("0")
    sign = "-" if value < 0 else ""
    if len(digits) <= point <= 21:
        return sign + digits + "0" * (point - len(digits))
    if 0 < point <= 21:
        return f"{sign}{digits[:point]}.{digits[point:]}"
    if -6 < point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    power = point - 1
    shown = digits if len(digits) == 1 else f"{digits[0]}.{digits[1:]}"
    return f"{sign}{shown}e{'+' if power >= 0 else '-'}{abs(power)}"


def _scalar(value: Any) -> str:
    """``String(value)`` for anything but an array."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        if -_EXACT < value < _EXACT:
            return str(value)
        try:  # a JavaScript number is a double (a JSON reader in Python keeps every digit)
            return _number(float(value))
        except OverflowError:
            return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, float):
        return _number(value)
    return "[object Object]"


def js_string(value: Any) -> str:
    """``String(value)`` in JavaScript, for parsed JSON values.

    An array is its items joined with ``,`` (``null`` as the empty string), its
    nested arrays likewise, at any depth: the walk keeps its own stack.
    """
    if not isinstance(value, list):
        return _scalar(value)
    parts: list[str] = []
    stack: list[Iterator[Any]] = [iter(value)]
    first = [True]
    while stack:
        item = next(stack[-1], _END)
        if item is _END:
            stack.pop()
            first.pop()
            continue
        if first[-1]:
            first[-1] = False
        else:
            parts.append(",")
        if isinstance(item, list):
            stack.append(iter(item))
            first.append(True)
        elif item is not None:
            parts.append(_scalar(item))
    return "".join(parts)


_END = object()
