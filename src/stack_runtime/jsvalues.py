"""How the reference host's JavaScript sees a JSON value.

The envelope is validated with JavaScript truthiness (``if (!options.function)``)
and error messages build strings with JavaScript's ``String()``. These helpers
reproduce both for the values a JSON parser can produce.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["truthy", "js_string"]


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


def js_string(value: Any) -> str:
    """``String(value)`` in JavaScript, for parsed JSON values."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, list):
        return ",".join("" if v is None else js_string(v) for v in value)
    return "[object Object]"
