from __future__ import annotations

import dataclasses
import datetime
import enum
import math
import uuid
from decimal import Decimal
from typing import Any

import orjson
import pytest

from stack_runtime.core import errors
from stack_runtime.core.results import (
    C_CHECK,
    DEFAULT_MAX_RESPONSE_SIZE,
    encode_result,
    is_plain_json,
    python_is_plain_json,
    response_limit,
)


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 1


@dataclasses.dataclass
class Point:
    x: int


class Text(str):
    pass


@pytest.mark.parametrize(
    "result",
    [
        {"a": [1, 2.5, "x", True, None, {"b": []}]},
        [],
        "text",
        0,
        False,
        [[[[{"deep": 1}]]]],
    ],
)
def test_plain_json_is_encoded(result: Any) -> None:
    encoded = encode_result(result)
    assert isinstance(encoded, bytes) and encoded


@pytest.mark.parametrize(
    "result",
    [
        datetime.datetime.now(),
        {"d": datetime.date.today()},
        (1, 2),
        [{"t": (1,)}],
        {1, 2},
        Color.RED,
        [Level.HIGH],
        uuid.uuid4(),
        Point(1),
        Decimal("1.5"),
        b"bytes",
        {1: "int key"},
        [Text("subclass")],
        object(),
        len,
    ],
)
def test_everything_else_is_refused(result: Any) -> None:
    assert encode_result(result) == errors.NOT_SERIALIZABLE


def test_cycles_are_refused_not_looped() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    assert encode_result(cycle) == errors.NOT_SERIALIZABLE


def test_none_is_empty_body() -> None:
    assert encode_result(None) == b""


def test_nan_is_null() -> None:
    assert encode_result([math.nan, math.inf]) == b"[null,null]"


def test_limit_is_inclusive_and_message_uses_given_value() -> None:
    assert encode_result("xxx", 5) == b'"xxx"'
    error = encode_result("xxxx", 5)
    assert isinstance(error, errors.ErrorItem)
    assert error.message == "response stream exceeded limit of 5 bytes."


@pytest.mark.parametrize(
    ("raw", "limit"),
    [
        (None, DEFAULT_MAX_RESPONSE_SIZE),
        (0, DEFAULT_MAX_RESPONSE_SIZE),
        ("abc", DEFAULT_MAX_RESPONSE_SIZE),
        (10, 10),
        ("10", 10),
        (True, DEFAULT_MAX_RESPONSE_SIZE),
    ],
)
def test_response_limit(raw: Any, limit: int) -> None:
    assert response_limit(raw)[0] == limit


def _deep(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    "result",
    [
        [{"id": i, "tags": ["a"], "address": {"city": "x"}} for i in range(5000)]
        + [{"id": 5000, "tags": ("a",)}],
        [{"id": i} for i in range(3000)] + [{"deep": [[{"x": Color.RED}]]}],
        {"page": [[i, [i, {"u": uuid.UUID(int=i)}]] for i in range(1, 2000)]},
    ],
    ids=["tuple-after-5000-records", "enum-deep-in-a-page", "uuids-in-nested-lists"],
)
def test_large_results_are_checked_to_the_last_value(result: Any) -> None:
    assert encode_result(result) == errors.NOT_SERIALIZABLE


def test_large_plain_results_pass() -> None:
    page = [{"id": i, "tags": ["a", "b"], "address": {"city": "x", "n": None}} for i in range(5000)]
    assert encode_result(page, 10**8) == orjson.dumps(page)


def test_nesting_is_limited_as_orjson_limits_it() -> None:
    assert isinstance(encode_result(_deep(200)), bytes)
    assert encode_result(_deep(400)) == errors.NOT_SERIALIZABLE


def test_a_result_nested_deeper_than_254_levels_is_not_serializable() -> None:
    """orjson writes 254 levels of arrays and objects and no more: deeper is a 422."""
    assert encode_result(_deep(254)) == b"[" * 254 + b'"leaf"' + b"]" * 254
    assert encode_result(_deep(255)) == errors.NOT_SERIALIZABLE
    assert encode_result({"a": _deep(300)}) == errors.NOT_SERIALIZABLE


@pytest.mark.parametrize("levels", [300, 1024, 100_000])
@pytest.mark.parametrize("check", [is_plain_json, python_is_plain_json], ids=["c", "python"])
def test_deep_results_are_refused_by_either_check_without_recursion(
    levels: int, check: Any
) -> None:
    """Both result checks (C and Python) stop at their depth limit, however deep the value."""
    deep = _deep(levels)
    assert check(deep) is False
    assert check({"k": [{"k": deep}]}) is False
    assert encode_result(deep) == errors.NOT_SERIALIZABLE


@pytest.mark.parametrize(
    ("raw", "limit", "shown"),
    [
        (10**400, math.inf, "Infinity"),
        (-(10**400), -math.inf, "-Infinity"),
        (2**64 + 1, float(2**64), "18446744073709552000"),
        ("1e400", math.inf, "1e400"),
        (1e300, 1e300, "1e+300"),
    ],
    ids=["huge", "huge-negative", "beyond-64-bits", "huge-text", "large-float"],
)
def test_response_limit_of_huge_numbers(raw: Any, limit: float, shown: str) -> None:
    """A Lambda payload's JSON reader keeps every digit of an integer; the limit is the
    JavaScript number."""
    assert response_limit(raw) == (limit, shown)


def test_a_huge_negative_limit_refuses_every_result_with_a_message() -> None:
    error = encode_result([1], -(10**400))
    assert isinstance(error, errors.ErrorItem)
    assert error.message == "response stream exceeded limit of -Infinity bytes."


def test_is_plain_json_stops_on_cycles() -> None:
    cycle: dict[str, Any] = {}
    cycle["self"] = [cycle]
    assert is_plain_json(cycle) is False


def _nested(levels: int, inner: Any = 1) -> Any:
    value: Any = inner
    for _ in range(levels):
        value = [value]
    return value


_KEYED_BY_TEXT = {Text("k"): 1}
_CHECKED_VALUES: list[Any] = [
    None,
    True,
    1,
    1.5,
    math.nan,
    "x",
    [],
    {},
    [{"a": [1, 2.0, None, False, "s", {"b": {}}]}],
    {"k": (1, 2)},
    [uuid.UUID(int=7)],
    {"c": Color.RED},
    [Level.HIGH],
    [Text("subclass")],
    _KEYED_BY_TEXT,
    {"d": datetime.date(2024, 1, 1)},
    [Point(1)],
    [Decimal("1.5")],
    [b"bytes"],
    [{1, 2}],
    _nested(255),
    _nested(256),
    _nested(257),
    _nested(400),
    *(_nested(n, inner) for n in (255, 256, 257) for inner in ([], {}, {"k": 1}, {"k": []}, [[]])),
]


@pytest.mark.parametrize("value", _CHECKED_VALUES, ids=range(len(_CHECKED_VALUES)))
def test_the_c_check_agrees_with_the_python_one(value: Any) -> None:
    assert is_plain_json(value) is python_is_plain_json(value)


def test_the_c_check_is_built() -> None:
    """The package builds ``_plain.c``; without a C compiler it falls back to Python (slower)."""
    assert C_CHECK, "stack_runtime.core._plain is not built: install gcc, then pip install -e ."


def test_the_c_check_stops_on_cycles() -> None:
    cycle: dict[str, Any] = {}
    cycle["self"] = [cycle]
    assert is_plain_json(cycle) is False and python_is_plain_json(cycle) is False
