from __future__ import annotations

import math
from typing import Any

import pytest

from stack_runtime.core.jsvalues import js_string, truthy


@pytest.mark.parametrize("value", [None, False, 0, 0.0, "", math.nan])
def test_falsy(value: Any) -> None:
    assert truthy(value) is False


@pytest.mark.parametrize("value", [True, 1, -1, 0.5, "0", "false", " ", {}, [], {"a": 1}])
def test_truthy(value: Any) -> None:
    assert truthy(value) is True


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "true"),
        (5, "5"),
        (5.0, "5"),
        (1.5, "1.5"),
        ("hook", "hook"),
        ([1, "a"], "1,a"),
        ({}, "[object Object]"),
        (math.inf, "Infinity"),
    ],
)
def test_js_string(value: Any, text: str) -> None:
    assert js_string(value) == text


def _nested(levels: int, inner: Any) -> Any:
    value = inner
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("levels", [1, 999, 1024, 100_000])
def test_js_string_reads_arrays_nested_to_any_depth(levels: int) -> None:
    """``String([[["hook"]]])`` is ``hook`` in JavaScript; no depth makes it recurse."""
    assert js_string(_nested(levels, "hook")) == "hook"
    assert js_string(_nested(levels, [1, None, [2, [], {}]])) == "1,,2,,[object Object]"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ([[1, 2], [3], [], [None], [[[]]], {}, 1.5], "1,2,3,,,,[object Object],1.5"),
        ([None], ""),
        ([[], []], ","),
        ([True, [False, "a,b"]], "true,false,a,b"),
    ],
)
def test_js_string_joins_nested_arrays_as_javascript(value: Any, text: str) -> None:
    assert js_string(value) == text


#: What node prints for ``String(Number(x))`` of each x.
_NUMBERS: list[tuple[Any, str]] = [
    (-0.0, "0"),
    (100.0, "100"),
    (0.001, "0.001"),
    (0.000001, "0.000001"),
    (1e-7, "1e-7"),
    (1.5e-7, "1.5e-7"),
    (-2.5e-10, "-2.5e-10"),
    (123456.789, "123456.789"),
    (1e20, "100000000000000000000"),
    (1e21, "1e+21"),
    (1.2345678901234568e20, "123456789012345680000"),
    (5e-324, "5e-324"),
    (1.7976931348623157e308, "1.7976931348623157e+308"),
    (2**53 - 1, "9007199254740991"),
    (2**53 + 1, "9007199254740992"),
    (2**64 - 1, "18446744073709552000"),
    (123456789012345678901, "123456789012345680000"),
    (10**400, "Infinity"),
    (-(10**5000), "-Infinity"),
]


@pytest.mark.parametrize(("value", "text"), _NUMBERS, ids=[text for _, text in _NUMBERS])
def test_js_string_writes_numbers_as_javascript(value: Any, text: str) -> None:
    """A JSON number is a double in JavaScript; Python keeps every digit of an integer."""
    assert js_string(value) == text
