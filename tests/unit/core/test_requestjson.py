"""The 400 for JSON a request cannot be read as: too deep (naming the field), or invalid."""

from __future__ import annotations

import orjson
import pytest

from stack_runtime.core.requestjson import MAX_DEPTH, field_path, read_error


def _refused(text: str | bytes) -> orjson.JSONDecodeError:
    with pytest.raises(orjson.JSONDecodeError) as refused:
        orjson.loads(text)
    return refused.value


def _deep(levels: int, opening: str = "[") -> str:
    closing = "]" if opening == "[" else "}"
    inner = '{"a":' if opening == "{" else opening
    return inner * levels + "1" + closing * levels


def test_orjson_reads_exactly_max_depth_levels() -> None:
    """The limit is orjson's: if orjson changes it, the documented number must change too."""
    assert orjson.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    assert _refused("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)).msg == "depth limit exceeded"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"diy":true,"function":' + _deep(1100) + "}", "function"),
        ('{"type":"hook","function":"x","options":{"data":[' + _deep(1100) + "]}}", "options.data"),
        (
            '{"options":{"b":{"c":1},"lastExportDateTime":{"x":{"y":' + _deep(1100, "{") + "}}}}",
            "options.lastExportDateTime.x.y",
        ),
        (
            '{"a\\"[{":"[[{{\\\\","k":{"j":[]},"maxResponseSize":' + _deep(2000) + "}",
            "maxResponseSize",
        ),
        ('{"' + "k" * 300 + '":' + _deep(1100) + "}", "k" * 100 + "..."),
        ('{"é€😀":' + _deep(1100) + "}", "é€😀"),
    ],
    ids=["function", "options.data", "four-levels", "brackets-in-strings", "long-key", "unicode"],
)
def test_a_body_too_deep_names_the_field(body: str, field: str) -> None:
    exc = _refused(body.encode())
    assert field_path(exc.doc, exc.pos) == field
    error = read_error(exc, "The request body")
    assert error.code == "nesting_too_deep"
    assert error.message == (
        f"The request body nests arrays and objects deeper than 1024 levels, in the field {field}."
    )


def test_the_field_is_named_after_a_prefix() -> None:
    error = read_error(_refused('{"data":' + _deep(1100) + "}"), "The payload", "options")
    assert error.message.endswith("in the field options.data.")
    error = read_error(_refused(_deep(1100)), "The payload", "options")
    assert error.message.endswith("in the field options.")


def test_a_body_too_deep_far_into_it_is_refused_without_a_field() -> None:
    """Naming the field costs a pass in Python over the text before it: not for megabytes."""
    body = '{"data":[' + ",".join(['{"k":"v"}'] * 100_000) + "]," + '"late":' + _deep(1100) + "}"
    error = read_error(_refused(body), "The request body")
    assert error.message == "The request body nests arrays and objects deeper than 1024 levels."


def test_a_top_level_array_too_deep_has_no_field() -> None:
    error = read_error(_refused(_deep(1100)), "The request body")
    assert error.message == "The request body nests arrays and objects deeper than 1024 levels."


@pytest.mark.parametrize(
    "body", ['{"function":NaN}', '{"a":"\\ud800"}', '{"a":1e400}', "{", '{"a":-Infinity}']
)
def test_other_refusals_are_invalid_json_with_orjsons_message(body: str) -> None:
    exc = _refused(body)
    error = read_error(exc, "The request body")
    assert error.code == "invalid_json"
    assert error.message == f"The request body is not valid JSON: {exc}"
