"""The error for a request whose JSON cannot be read, naming what was wrong.

Every face reads a request with ``orjson`` (the HTTP body, the Lambda client
context, and a Lambda payload that AWS's runtime client could not read), which
reads at most :data:`MAX_DEPTH` levels of nested arrays and objects: that is
the host's limit for a request, the same on every face. A deeper request gets
``400 nesting_too_deep`` naming the field that nests too deep;
anything else ``orjson`` refuses gets ``400 invalid_json`` with its message.

Nothing else limits depth: everything that reads an envelope's values (its
checks, JavaScript-style texts, log lines, export dates) walks them without
recursion, so a request up to :data:`MAX_DEPTH` levels deep is served as any
other.
"""

from __future__ import annotations

import json
import re

import orjson

from .errors import ErrorItem

__all__ = ["MAX_DEPTH", "read_error", "too_deep", "field_path"]

MAX_DEPTH = 1024
"""The deepest nesting of arrays and objects a request may have (``orjson``'s limit)."""

_DEPTH_EXCEEDED = "depth limit exceeded"
_SCANNED = 256 * 1024
"""Characters :func:`field_path` reads at most, to name a field (a few ms)."""
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"(\s*:)?|[\[{]+|[\]}]+')
_SHOWN = 100
_LEVELS = 4


def too_deep(what: str, field: str | None) -> ErrorItem:
    """``nesting_too_deep``: ``what`` (``The request body``) nests deeper than allowed."""
    where = f", in the field {field}" if field else ""
    return ErrorItem(
        "nesting_too_deep",
        f"{what} nests arrays and objects deeper than {MAX_DEPTH} levels{where}.",
    )


def read_error(
    exc: orjson.JSONDecodeError, what: str, field_prefix: str | None = None
) -> ErrorItem:
    """The 400 entry for JSON ``orjson`` refused with ``exc``.

    ``what`` names the document (``The request body``); the field named in the
    message is the path of keys to where it nests too deep (:func:`field_path`),
    after ``field_prefix`` and a dot when given (``options.data`` for a Lambda
    payload, which is the options).
    """
    if not exc.msg.startswith(_DEPTH_EXCEEDED):
        return ErrorItem("invalid_json", f"{what} is not valid JSON: {exc}")
    key = field_path(exc.doc, exc.pos) if isinstance(exc.doc, str) else None
    if field_prefix is None:
        return too_deep(what, key)
    return too_deep(what, f"{field_prefix}.{key}" if key is not None else field_prefix)


def field_path(document: str, position: int) -> str | None:
    """The keys leading to ``position`` in the JSON object ``document``: ``options.data``.

    Up to :data:`_LEVELS` keys, down through objects only (an array ends the
    path). ``None`` when the document is not an object, or when ``position``
    lies beyond the first :data:`_SCANNED` characters (finding the keys costs a
    pass over the text before it, in Python). A key longer than 100 characters
    is cut, with ``...``.
    """
    if position > _SCANNED or not document.lstrip().startswith("{"):
        return None
    depth = 0
    kinds: list[str] = []  # "{" or "[" for the first _LEVELS containers around the token
    keys: list[str | None] = []  # the key being read in each of those objects
    for token in _TOKEN.finditer(document, 0, position):
        text = token.group()
        first = text[0]
        if first == '"':
            if token.group(1) is not None and depth <= _LEVELS:
                keys[depth - 1 :] = [None] * (depth - 1 - len(keys)) + [text]
        elif first == "[" or first == "{":
            kinds += text[: max(0, _LEVELS - depth)]
            depth += len(text)
        else:
            depth -= len(text)
            del kinds[depth:], keys[depth:]
    path = []
    for kind, key in zip(kinds, keys, strict=False):
        if kind != "{" or key is None:
            break
        name = str(json.loads(key[: key.rindex('"') + 1]))
        path.append(name if len(name) <= _SHOWN else name[:_SHOWN] + "...")
    return ".".join(path) or None
