"""Turn a Lambda invocation into what the dispatcher takes.

Three kinds of invocation reach the handler:

* **integrator.io's Invoke**: the event (the payload) is the function's
  ``options`` and the client context carries the rest of the envelope as
  top-level keys: ``{"diy": true, "type": "hook", "function": "preSavePage"}``.
* **The whole envelope as the event**, ``{"diy": ..., "function": ...,
  "options": ...}``, for callers that cannot set a client context.
* **An HTTP event** from a function URL, API Gateway (HTTP API or REST API) or
  an Application Load Balancer, which goes through the HTTP face.

An envelope in the client context wins: the event is then always the options,
whatever keys it has.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ..core.errors import ErrorItem
from ..core.requestjson import read_error

__all__ = [
    "ENVELOPE_KEYS",
    "Invocation",
    "UnreadablePayload",
    "carries_envelope",
    "classify",
    "is_http_event",
    "parse_client_context",
    "read_payload",
]

#: Top-level keys that make a client context (or an event) an envelope.
ENVELOPE_KEYS = ("diy", "_connectorId", "function", "type", "maxResponseSize")

#: Keys that make an event with no envelope in its client context a whole envelope.
_EVENT_ENVELOPE_KEYS = ("diy", "_connectorId", "function")


@dataclass(frozen=True, slots=True)
class Invocation:
    """What to do with one invocation.

    ``kind`` is ``"call"`` (dispatch ``envelope``), ``"http"`` (run the HTTP
    face on the event) or ``"dropped"`` (a client context arrived without its
    envelope keys, because the runtime entry point is not in use).
    """

    kind: str
    envelope: Mapping[str, Any] | None = None
    source: str = ""
    """Where the envelope came from: ``client-context``, ``event`` or ``none``."""


def parse_client_context(raw: str | bytes | None) -> Mapping[str, Any] | ErrorItem | None:
    """The client context header as a JSON object; ``None`` when there is none or it
    is not an object; the ``400`` error when it is not JSON ``orjson`` reads (too
    deep, ``NaN``, a lone surrogate, not JSON at all)."""
    if not raw:
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return read_error(exc, "The client context")
    return value if isinstance(value, dict) else None


@dataclass(frozen=True, slots=True)
class UnreadablePayload:
    """A payload that neither AWS's runtime client nor ``orjson`` could read.

    The runtime entry point hands it to the handler in place of the event, so
    that the caller gets the protocol's ``400`` rather than the runtime's
    ``Runtime.UnmarshalError``.
    """

    problem: orjson.JSONDecodeError

    def error(self, enveloped: bool) -> ErrorItem:
        """The ``400`` entry; ``enveloped``: the client context carries the envelope,
        so the payload is the function's options."""
        if enveloped:
            return read_error(self.problem, "The payload (the function's options)", "options")
        return read_error(self.problem, "The payload")


def read_payload(raw: str | bytes) -> Any:
    """A payload AWS's runtime client could not read, as ``orjson`` reads it (it reads
    nesting up to :data:`~stack_runtime.core.requestjson.MAX_DEPTH` levels, as over HTTP,
    where the runtime client stops short of 1,000), or :class:`UnreadablePayload`."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return UnreadablePayload(exc)


def carries_envelope(client_context: Mapping[str, Any] | None) -> bool:
    """True when the client context holds integrator.io's envelope keys."""
    return client_context is not None and any(key in client_context for key in ENVELOPE_KEYS)


def is_http_event(event: Any) -> bool:
    """True for a function URL, API Gateway (v1 or v2) or ALB event."""
    if not isinstance(event, dict):
        return False
    request_context = event.get("requestContext")
    if not isinstance(request_context, dict):
        return False
    return "http" in request_context or "elb" in request_context or "httpMethod" in event


def classify(
    event: Any,
    client_context: Mapping[str, Any] | None,
    *,
    context_dropped: bool = False,
) -> Invocation:
    """Decide how to serve ``event``, given the invocation's parsed client context.

    ``context_dropped`` says that a client context arrived but only the runtime
    client's parsed copy (without the envelope keys) could be seen.
    """
    if carries_envelope(client_context):
        assert client_context is not None
        envelope = {k: v for k, v in client_context.items() if k != "options"}
        envelope["options"] = event
        return Invocation("call", envelope, "client-context")
    if is_http_event(event):
        return Invocation("http")
    if isinstance(event, dict) and any(key in event for key in _EVENT_ENVELOPE_KEYS):
        return Invocation("call", event, "event")
    if context_dropped:
        return Invocation("dropped")
    return Invocation("call", {"options": event}, "none")
