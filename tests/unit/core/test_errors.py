"""Error bodies: every entry the host makes can be written, whatever text it holds."""

from __future__ import annotations

import json

import orjson
import pytest

from stack_runtime.core.errors import NOT_SERIALIZABLE, CallFailure, ErrorItem, errors_body


def test_the_usual_bodies_are_orjsons_bytes() -> None:
    items = [NOT_SERIALIZABLE, ErrorItem("c", 'é 😀 "q"\n\x01')]
    assert errors_body(items) == orjson.dumps({"errors": [e.as_dict() for e in items]})


@pytest.mark.parametrize(
    ("item", "body"),
    [
        # the bytes node's JSON.stringify writes for the same entry
        (
            ErrorItem("ValueError", 'lone \ud800 "q" é 😀 \n', message_first=True),
            b'{"errors":[{"message":"lone \\ud800 \\"q\\" \xc3\xa9 \xf0\x9f\x98\x80 \\n",'
            b'"code":"ValueError"}]}',
        ),
        (
            ErrorItem("c\udfff", "x"),
            b'{"errors":[{"code":"c\\udfff","message":"x"}]}',
        ),
    ],
    ids=["message", "code"],
)
def test_a_lone_surrogate_is_escaped_as_javascript_writes_it(item: ErrorItem, body: bytes) -> None:
    assert errors_body([item]) == body
    assert json.loads(body)["errors"][0] == item.as_dict()


def test_a_lambda_message_with_a_lone_surrogate_is_json() -> None:
    failure = CallFailure(422, (ErrorItem("object_not_found", "The object \udc00 doesn't"),))
    message = failure.lambda_message()
    assert message == '{"statusCode":422,"errors":[{"code":"object_not_found",' + (
        '"message":"The object \\udc00 doesn\'t"}]}'
    )
    assert json.loads(message)["errors"][0]["message"] == "The object \udc00 doesn't"
