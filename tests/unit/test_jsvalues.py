from __future__ import annotations

import math
from typing import Any

import pytest

from stack_runtime.jsvalues import js_string, truthy


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
