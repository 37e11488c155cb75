"""Hypothesis strategies for hostile envelopes, written as JSON text.

Text rather than Python values: a JSON writer cannot make what these need, such as
nesting past 254 levels, ``NaN`` and ``Infinity`` literals, lone surrogates
escaped as ``\\ud800``, numbers beyond a double or with hundreds of digits.
Each envelope field is sometimes plausible, sometimes of any type, nested to any
depth (around the limits that matter: 254, 1024), or huge.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TypeVar

from hypothesis import strategies as st

__all__ = ["Envelope", "envelopes", "json_values"]

T = TypeVar("T")

#: (type, function) of tests/fixtures/protocol that end quickly whatever their options
#: (none sleeps, writes files or loops on a number from the options), and a few that
#: do not resolve.
CALLS = (
    *(
        ("hook", name)
        for name in (
            "echo",
            "dateTypes",
            "describeDates",
            "raiseWith",
            "raiseCoded",
            "raisePlain",
            "exitProcessCall",
            "returnNothing",
            "returnDatetime",
            "returnTuple",
            "returnSet",
            "returnNan",
            "returnIntKeys",
            "returnUnicode",
            "asyncEcho",
            "asyncRaise",
            "asyncExit",
            "requestId",
            "_private",
            "os",
        )
    ),
    ("wrapper", "ping"),
    ("setting", "persistSettings"),
    ("utility", "sum"),
    ("utility", "notAFunction"),
    ("", "flatEcho"),
    ("hooks", "echo"),
    ("__class__", "mro"),
)
CONNECTORS = ("conn-1", "abc123def456abc123def456", "nope")
_USUAL = ("diy", "type", "function", "options")

_LONE = ("\\ud800", "\\udbff", "\\udc00", "\\udfff", "\\ud83d", "\\ude00x")


def _weighted(*choices: tuple[st.SearchStrategy[T], int]) -> st.SearchStrategy[T]:
    """One of the strategies, each drawn as often as its weight says."""
    pool = [strategy for strategy, weight in choices for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


def _number_text() -> st.SearchStrategy[str]:
    """A number; one time in six one that JSON (or a double) cannot hold."""
    valid = st.one_of(
        st.integers().map(str),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.floats(allow_nan=False, allow_infinity=False).map(repr),
        st.sampled_from(["-0", "1E+2", "5e-324", "1e21", "1.7976931348623157e308", "-0.0"]),
        st.integers(min_value=20, max_value=300).map(lambda digits: "9" * digits),
    )
    beyond = st.one_of(
        st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400"]),
        st.integers(min_value=310, max_value=5000).map(lambda digits: "9" * digits),
    )
    return _weighted((valid, 9), (beyond, 1))


@st.composite
def _string_text(draw: st.DrawFn) -> str:
    """A JSON string: any text (escaped as a writer would), lone surrogates, raw bytes."""
    text = draw(st.text(max_size=12))
    written = json.dumps(text, ensure_ascii=draw(st.booleans()))
    if draw(st.integers(0, 7)) == 7:  # a lone surrogate, escaped, at either end
        at = draw(st.sampled_from([1, len(written) - 1]))
        written = written[:at] + draw(st.sampled_from(_LONE)) + written[at:]
    return written


def _huge_string() -> st.SearchStrategy[str]:
    """A string of up to a million characters (well under the 50 MB body limit)."""
    return st.builds(
        lambda size, char: json.dumps(char * size, ensure_ascii=False),
        st.integers(0, 1_000_000),
        st.characters(),
    )


def _scalars() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["null", "true", "false", "0", '""', "[]", "{}"]),
        _number_text(),
        _string_text(),
    )


def _containers(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    keys = st.one_of(_string_text(), st.sampled_from(['"data"', '"lastExportDateTime"', '""']))
    return st.one_of(
        st.lists(children, max_size=3).map(lambda items: "[" + ",".join(items) + "]"),
        st.lists(st.tuples(keys, children), max_size=3).map(
            lambda pairs: "{" + ",".join(f"{k}:{v}" for k, v in pairs) + "}"
        ),
    )


#: Levels of nesting to wrap a value in, around the limits that matter.
_DEPTHS = _weighted(
    (st.integers(0, 8), 4),
    (st.integers(250, 260), 2),
    (st.integers(990, 1030), 2),
    (st.sampled_from([2000, 20_000]), 1),
)


@st.composite
def _nested(draw: st.DrawFn, inner: st.SearchStrategy[str]) -> str:
    levels = draw(_DEPTHS)
    value = draw(inner)
    if draw(st.booleans()):
        return "[" * levels + value + "]" * levels
    key = draw(st.sampled_from(['"k"', '"data"', '"\\ud800"', '""']))
    return ("{" + key + ":") * levels + value + "}" * levels


def json_values() -> st.SearchStrategy[str]:
    """Any JSON value as text (and a few things JSON refuses), small or hostile."""
    small = st.recursive(_scalars(), _containers, max_leaves=5)
    return _weighted((small, 6), (_nested(small), 3), (_huge_string(), 1))


def _field(plausible: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """An envelope field: plausible two times in three, else anything at all."""
    return _weighted((plausible, 2), (json_values(), 1))


def _options() -> st.SearchStrategy[str]:
    fields = st.fixed_dictionaries(
        {},
        optional={
            "lastExportDateTime": _field(st.just('"2024-01-02T03:04:05Z"')),
            "currentExportDateTime": _field(st.just("1700000000000")),
            "data": _field(st.just('[{"id":1}]')),
            "kind": st.sampled_from(['"surrogate"', '"unprintable"', '"hugeCode"', '"x"']),
            "message": json_values(),
            "text": _string_text(),
            "numbers": _field(st.just("[1,2,3]")),
            "_integrationId": _field(st.just('"i1"')),
            "_flowId": _field(st.just('"f1"')),
            "connection": _field(st.just('{"_id":"c1"}')),
        },
    )
    written = fields.map(
        lambda f: "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in f.items()) + "}"
    )
    return st.one_of(written, json_values())


@dataclass(frozen=True)
class Envelope:
    """One generated envelope: its fields' JSON texts, in order."""

    fields: dict[str, str]

    @property
    def text(self) -> str:
        return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in self.fields.items()) + "}"

    @property
    def body(self) -> bytes:
        return self.text.encode("utf-8", "surrogatepass")

    def client_context(self) -> str:
        """The envelope without ``options``, in ASCII: the client context of an Invoke."""
        rest = {k: v for k, v in self.fields.items() if k != "options"}
        text = "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in rest.items()) + "}"
        # only strings hold non-ASCII characters: escape them as a JSON writer would
        return _NON_ASCII.sub(lambda match: json.dumps(match.group())[1:-1], text)

    @property
    def options(self) -> bytes:
        """The options as an Invoke's payload (``null`` when there are none)."""
        return self.fields.get("options", "null").encode("utf-8", "surrogatepass")


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


@st.composite
def envelopes(draw: st.DrawFn) -> Envelope:
    """An envelope with any of its fields, each plausible or hostile, in any order."""
    type_name, function = draw(st.sampled_from(CALLS))
    fields = draw(
        st.fixed_dictionaries(
            {
                "diy": _field(st.just("true")),
                "type": _field(st.just(json.dumps(type_name))),
                "function": _field(st.just(json.dumps(function))),
                "options": _options(),
            },
            optional={
                "_connectorId": _field(st.sampled_from(CONNECTORS).map(json.dumps)),
                "maxResponseSize": _field(_number_text()),
                "access_token": _field(st.just('"test-token"')),
            },
        )
    )
    # the usual fields are each left out one time in eight
    kept = [key for key in fields if key not in _USUAL or draw(st.integers(0, 7)) < 7]
    order = draw(st.permutations(kept))
    return Envelope({key: fields[key] for key in order})
