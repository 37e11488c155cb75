"""The one error type every face renders the same way.

integrator.io shows the ``code`` and ``message`` of each error to its users, so
the texts here are byte-for-byte those of the reference Node host, typos
included. The reference writes some errors as ``{code, message}`` and others as
``{message, code}``; :attr:`ErrorItem.message_first` keeps that key order so the
JSON bodies match byte for byte too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = [
    "ErrorItem",
    "CallFailure",
    "DIY_NOT_CONFIGURED",
    "CONNECTOR_NOT_CONFIGURED",
    "DIY_OR_CONNECTOR_REQUIRED",
    "FUNCTION_MISSING",
    "FUNCTION_NOT_STRING",
    "OPTIONS_MISSING",
    "INVALID_FUNCTION",
    "NOT_SERIALIZABLE",
    "UNAUTHORIZED",
    "object_not_found",
    "response_size_exceeded",
    "errors_body",
]


@dataclass(frozen=True, slots=True)
class ErrorItem:
    """One ``{code, message}`` entry of an ``errors`` list."""

    code: Any
    message: str
    message_first: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The entry as integrator.io receives it, keys in the reference's order."""
        if self.message_first:
            return {"message": self.message, "code": self.code}
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class CallFailure:
    """A call that ended in errors: the HTTP status and the collected errors."""

    status: int
    errors: tuple[ErrorItem, ...]

    def body(self) -> bytes:
        """The JSON body ``{"errors": [...]}``."""
        return errors_body(self.errors)

    def lambda_message(self) -> str:
        """The message a Lambda function error carries: ``{"statusCode": ..., "errors": [...]}``."""
        return _dumps(
            {"statusCode": self.status, "errors": [e.as_dict() for e in self.errors]}
        ).decode()


def errors_body(errors: tuple[ErrorItem, ...] | list[ErrorItem]) -> bytes:
    """Serialize ``{"errors": [...]}`` compactly, as Express's ``res.json`` does."""
    return _dumps({"errors": [e.as_dict() for e in errors]})


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _dumps(value: dict[str, Any]) -> bytes:
    """Compact JSON of an error body, whatever text its messages hold.

    A message with a lone surrogate (an exception's text can hold one, and so
    can a ``type`` read on Lambda) is not UTF-8, which ``orjson`` refuses: such
    a body is written with each lone surrogate escaped (``\\ud800``), as
    JavaScript's ``JSON.stringify`` writes it.
    """
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return _LONE_SURROGATE.sub(_escape, text).encode()


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


DIY_NOT_CONFIGURED = ErrorItem(
    "missing_required_field", "DIY is not configured in the extension configuration."
)
CONNECTOR_NOT_CONFIGURED = ErrorItem(
    "invalid_field",
    "The _connectorId set in the extension options does't match any of the "
    "_connectorId's present in extension configuration.",
)
DIY_OR_CONNECTOR_REQUIRED = ErrorItem(
    "missing_required_field",
    "Need to set either the diy or _connectorId field in extension options.",
)
FUNCTION_MISSING = ErrorItem(
    "missing_required_field", "Missing required field function in the extension options."
)
FUNCTION_NOT_STRING = ErrorItem(
    "invalid_field", "The function field in the extension options must be of type string."
)
OPTIONS_MISSING = ErrorItem("missing_required_field", "Function options haven't been provided.")
INVALID_FUNCTION = ErrorItem(
    "invalid_function",
    "The function passed in the extension options doesn't map to a function.",
    message_first=True,
)
NOT_SERIALIZABLE = ErrorItem(
    "invalid_extension_response", "Extension response is not serializable.", message_first=True
)
UNAUTHORIZED = ErrorItem("unauthorized", "Invalid system token.")


def object_not_found(type_text: str) -> ErrorItem:
    """The namespace named by the envelope's ``type`` is not in the module."""
    return ErrorItem(
        "object_not_found",
        f"The object {type_text} doesn't exist in the module.",
        message_first=True,
    )


def response_size_exceeded(limit_text: str) -> ErrorItem:
    """The serialized result is longer than ``maxResponseSize``."""
    return ErrorItem(
        "response_size_exceeded",
        f"response stream exceeded limit of {limit_text} bytes.",
        message_first=True,
    )
