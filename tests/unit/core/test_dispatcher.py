"""The dispatcher's pure parts on hostile values: export dates and raised exceptions."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from stack_runtime.core.dispatcher import exception_error, exception_text, to_datetime


def _deep(levels: int, inner: Any) -> Any:
    value = inner
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    "value",
    [
        _deep(100_000, "2024-01-01T00:00:00Z"),
        {"a": _deep(5_000, {})},
        "not a date",
        10**400,
        -(10**30),
        float("nan"),
        float("inf"),
        "9" * 100_000,
    ],
    ids=["deep-array", "deep-object", "text", "huge-int", "negative", "nan", "inf", "long-text"],
)
def test_an_unreadable_export_date_is_kept_and_logged_briefly(
    value: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="stack_runtime"):
        assert to_datetime(value) is value
    (record,) = caplog.records
    line = record.getMessage()
    assert line.startswith("logName=unparsableExportDate, value=")
    assert len(line) < 200


def test_readable_export_dates_are_converted() -> None:
    assert to_datetime("2024-01-02T03:04:05Z") == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert to_datetime(0) == datetime(1970, 1, 1, tzinfo=UTC)


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


class _CodeFails(Exception):
    @property
    def code(self) -> str:
        raise KeyError("code")


def _with_code(code: Any) -> Exception:
    exc = Exception("message")
    exc.code = code  # type: ignore[attr-defined]
    return exc


@pytest.mark.parametrize(
    ("exc", "code", "message"),
    [
        (ValueError(_deep(5_000, 1)), "ValueError", "(ValueError could not be shown as text: "),
        (_Unprintable(), "_Unprintable", "(_Unprintable could not be shown as text: RuntimeError)"),
        (_CodeFails("x"), "_CodeFails", "x"),
        (_with_code(10**30), 1e30, "message"),
        (_with_code(10**400), None, "message"),
        (_with_code(2**64 - 1), 2**64 - 1, "message"),
        (_with_code(-(2**63)), -(2**63), "message"),
        (_with_code(float("inf")), None, "message"),
        (_with_code(float("nan")), "Exception", "message"),
        (_with_code(["a"]), "Exception", "message"),
    ],
    ids=[
        "deep-message",
        "str-raises",
        "code-raises",
        "code-beyond-64-bits",
        "code-beyond-a-double",
        "largest-unsigned-64",
        "smallest-signed-64",
        "infinite-code",
        "nan-code",
        "list-code",
    ],
)
def test_any_raised_exception_becomes_an_error_entry(
    exc: Exception, code: Any, message: str
) -> None:
    error = exception_error(exc)
    assert error.code == code
    assert error.message.startswith(message)
    assert exception_text(exc) == error.message
