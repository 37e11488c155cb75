"""Hostile envelopes and exactly what the host answers them, for every face's tests.

Each :class:`Case` is an envelope written as JSON text field by field (``orjson``
writes 254 levels at most; these nest up to 1024) with the status and the JSON
the host answers. The answers are written out by hand, as in ``wire.py``, so a
test notices when the package drifts. The fixture tree is ``tests/fixtures/protocol``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from .wire import BAD_CONNECTOR, FUNCTION_NOT_STRING, NOT_SERIALIZABLE

#: Levels of nesting inside a field that a request may still have (the envelope is one more).
READABLE = 1000
#: Levels inside a field that make the request deeper than the host's 1024.
TOO_DEEP = 1024


def nested(levels: int, inner: str = "1", opening: str = "[") -> str:
    """JSON text of ``inner`` inside ``levels`` arrays (``[``) or objects (``{``, key ``k``)."""
    if opening == "[":
        return "[" * levels + inner + "]" * levels
    return '{"k":' * levels + inner + "}" * levels


def envelope_text(fields: Mapping[str, str]) -> str:
    """An envelope from its fields' JSON texts, in order."""
    return "{" + ",".join(f"{json.dumps(key)}:{value}" for key, value in fields.items()) + "}"


@dataclass(frozen=True)
class Case:
    """One hostile envelope and the answer every face gives it."""

    name: str
    fields: dict[str, str]
    """The envelope's fields as JSON text, in order."""
    status: int
    answer: Any
    """The JSON body a server answers (``{"errors": [...]}`` for a failure)."""
    tags: tuple[str, ...] = field(default=())

    @property
    def body(self) -> bytes:
        """The HTTP body."""
        return envelope_text(self.fields).encode()

    @property
    def envelope(self) -> dict[str, Any]:
        """The envelope as a JSON reader gives it."""
        value = orjson.loads(self.body)
        assert isinstance(value, dict)
        return value

    @property
    def errors(self) -> list[Any]:
        """The errors of a failure's answer."""
        return list(self.answer["errors"])


def _hook(function: str, options: str = '{"a":1}', **fields: str) -> dict[str, str]:
    return {"diy": "true", "type": '"hook"', "function": json.dumps(function), **fields} | {
        "options": options
    }


def _not_found(type_text: str) -> dict[str, Any]:
    return {
        "errors": [
            {
                "message": f"The object {type_text} doesn't exist in the module.",
                "code": "object_not_found",
            }
        ]
    }


def _raised(message: str, code: Any = "ValueError") -> dict[str, Any]:
    return {"errors": [{"message": message, "code": code}]}


ECHOED = {"a": 1}

#: Envelopes the host reads (nested up to 1024 levels), and their answers.
READ: list[Case] = [
    Case(
        "function-nested",
        {"diy": "true", "function": nested(READABLE, '"echo"'), "options": "{}"},
        422,
        {"errors": [FUNCTION_NOT_STRING]},
    ),
    Case(
        "type-nested-unknown",
        _hook("echo", type=nested(READABLE, '"nope"')),
        422,
        _not_found("nope"),
    ),
    # JavaScript's String() of [[["hook"]]] is "hook": the namespace the reference finds
    Case("type-nested-hook", _hook("echo", type=nested(READABLE, '"hook"')), 200, ECHOED),
    Case(
        "type-nested-objects",
        _hook("echo", type=nested(READABLE, "{}", "{")),
        422,
        _not_found("[object Object]"),
    ),
    Case(
        "connector-nested-unknown",
        {"_connectorId": nested(READABLE, '"nope"'), "function": '"x"', "options": "{}"},
        422,
        {"errors": [BAD_CONNECTOR]},
    ),
    Case(
        "connector-nested-found",
        {
            "_connectorId": nested(READABLE, '"conn-1"'),
            "type": '"hook"',
            "function": '"preSavePage"',
            "options": '{"data":[7]}',
        },
        200,
        {"data": [7], "connector": "conn-1"},
    ),
    Case("diy-nested", _hook("echo", diy=nested(READABLE, "false")), 200, ECHOED),
    Case(
        "max-response-size-nested",
        _hook("echo", maxResponseSize=nested(READABLE, "1", "{")),
        200,
        ECHOED,
    ),
    Case(
        "options-nested-echoed",
        _hook("echo", '{"a":' + nested(READABLE - 1) + "}"),
        422,
        {"errors": [NOT_SERIALIZABLE]},
    ),
    Case(
        "export-dates-nested",
        _hook(
            "dateTypes",
            '{"lastExportDateTime":'
            + nested(READABLE - 1, '"2024-01-01T00:00:00Z"')
            + ',"currentExportDateTime":'
            + nested(READABLE - 1, '"x"', "{")
            + "}",
        ),
        200,
        {"lastExportDateTime": "list", "currentExportDateTime": "dict"},
    ),
    Case(
        "export-dates-huge",
        _hook("dateTypes", '{"lastExportDateTime":1e308,"currentExportDateTime":-1e308}'),
        200,
        {"lastExportDateTime": "float", "currentExportDateTime": "float"},
    ),
    Case("type-huge-number", _hook("echo", type="1e21"), 422, _not_found("1e+21")),
    Case(
        "type-beyond-a-double-integer",
        _hook("echo", type="123456789012345678901"),
        422,
        _not_found("123456789012345680000"),
    ),
    Case(
        "message-nested",
        _hook("raiseWith", '{"message":' + nested(READABLE - 1) + "}"),
        422,
        _raised("(ValueError could not be shown as text: RecursionError)"),
    ),
    Case(
        "message-lone-surrogate",
        _hook("raiseWith", '{"kind":"surrogate"}'),
        422,
        _raised("lone \ud800 surrogate"),
    ),
    Case(
        "message-unprintable",
        _hook("raiseWith", '{"kind":"unprintable"}'),
        422,
        _raised("(_Unprintable could not be shown as text: RuntimeError)", "_Unprintable"),
    ),
    Case("code-huge", _hook("raiseWith", '{"kind":"hugeCode"}'), 422, _raised("huge", 1e30)),
    Case(
        "result-too-deep",
        _hook("returnDeep", '{"levels":255}'),
        422,
        {"errors": [NOT_SERIALIZABLE]},
    ),
    Case(
        "result-254-levels",
        _hook("returnDeep", '{"levels":254}'),
        200,
        json.loads(nested(254, '"leaf"')),
    ),
]


def too_deep(what: str, field_path: str | None) -> dict[str, Any]:
    """The answer to a request nested deeper than 1024 levels."""
    where = f", in the field {field_path}" if field_path else ""
    message = f"{what} nests arrays and objects deeper than 1024 levels{where}."
    return {"errors": [{"code": "nesting_too_deep", "message": message}]}


@dataclass(frozen=True)
class Unread:
    """An envelope nested too deep in one field, and that field's path."""

    name: str
    fields: dict[str, str]
    path: str

    @property
    def body(self) -> bytes:
        return envelope_text(self.fields).encode()


#: Envelopes nested deeper than the host reads, each in one field.
UNREAD: list[Unread] = [
    Unread(
        "function",
        {"diy": "true", "function": nested(TOO_DEEP, '"x"'), "options": "{}"},
        "function",
    ),
    Unread("type", _hook("echo", type=nested(TOO_DEEP, '"hook"')), "type"),
    Unread(
        "connector",
        {"_connectorId": nested(TOO_DEEP, "{}", "{"), "function": '"x"', "options": "{}"},
        "_connectorId.k.k.k",
    ),
    Unread("diy", _hook("echo", diy=nested(TOO_DEEP)), "diy"),
    Unread("max-response-size", _hook("echo", maxResponseSize=nested(TOO_DEEP)), "maxResponseSize"),
    Unread(
        "export-date",
        _hook("echo", '{"b":1,"lastExportDateTime":' + nested(TOO_DEEP - 1, '"x"', "{") + "}"),
        "options.lastExportDateTime.k.k",
    ),
    Unread("options-data", _hook("echo", '{"data":[' + nested(TOO_DEEP) + "]}"), "options.data"),
]
