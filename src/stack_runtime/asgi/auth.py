"""The system-token check, in constant time, and the 401 that refuses a request without it.

integrator.io sends ``Authorization: Bearer <token>``; the reference also takes
``access_token`` from the JSON body or the query string when there is no
``Authorization`` header. Every accepted token (the current one and, during a
rotation, the previous one) is compared, so the time taken does not tell which
one matched or how much of it did.

Every route that needs the token asks :meth:`TokenChecker.authorizes`: ``POST /function``
(in two steps, the header before the body is read, the body's and the query's token after),
``/openConnections``, ``/stopServer`` and ``/metrics`` (through :func:`refusal`).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from ..core.errors import UNAUTHORIZED, errors_body

__all__ = [
    "CHALLENGE",
    "UNAUTHORIZED_BODY",
    "TokenChecker",
    "bearer_token",
    "query_token",
    "refusal",
]

#: The body of every 401.
UNAUTHORIZED_BODY = errors_body([UNAUTHORIZED])
#: The header of every 401 that says why.
CHALLENGE = (b"www-authenticate", b"invalid system token")


def query_token(query: bytes) -> str | None:
    """The first ``access_token`` of a raw query string, if any (not empty)."""
    given = parse_qs(query.decode("latin-1")).get("access_token")
    return given[0] if given else None


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization`` header value, if its scheme is ``Bearer``."""
    parts = authorization.split(" ")
    if len(parts) == 2 and parts[0].lower() == "bearer":
        return parts[1]
    return None


class TokenChecker:
    """Accepts any of a fixed set of system tokens."""

    def __init__(self, tokens: Iterable[str]) -> None:
        self._tokens = tuple(t.encode() for t in tokens if t)
        self._headers = tuple(b"Bearer " + t for t in self._tokens if t.isascii())
        """The usual ``Authorization`` values, whole: ``Bearer <token>``."""

    def __bool__(self) -> bool:
        return bool(self._tokens)

    def accepts_header(self, authorization: bytes) -> bool:
        """True when an ``Authorization`` header value carries one of the tokens.

        The usual value, exactly ``Bearer <token>``, is compared whole (against
        every token, in constant time); any other goes through :func:`bearer_token`
        and :meth:`accepts`.
        """
        matched = False
        for header in self._headers:
            matched |= hmac.compare_digest(authorization, header)
        return matched or self.accepts(bearer_token(authorization.decode("latin-1")))

    def authorizes(
        self,
        authorization: bytes | None,
        query: bytes,
        body: Mapping[str, Any] | None = None,
    ) -> bool:
        """True when a request carries one of the tokens: in its ``Authorization`` header
        value when it has one (then nothing else counts), else as the ``access_token`` of its
        JSON ``body``, else of its raw ``query`` string."""
        if authorization is not None:
            return self.accepts_header(authorization)
        token = body.get("access_token") if body else None
        return self.accepts(token or query_token(query))

    def accepts(self, candidate: object) -> bool:
        """True when ``candidate`` is a string equal to one of the tokens."""
        if not isinstance(candidate, str) or not candidate:
            return False
        given = candidate.encode("utf-8", "surrogatepass")
        matched = False
        for token in self._tokens:
            matched |= hmac.compare_digest(given, token)
        return matched


def refusal(tokens: TokenChecker, request: Request) -> Response | None:
    """The 401 for a request of a Starlette route that carries none of ``tokens`` (its
    first ``Authorization`` header, else its query's ``access_token``); None when it does."""
    authorization = None
    for name, value in request.scope["headers"]:
        if name == b"authorization":
            authorization = value
            break
    if tokens.authorizes(authorization, request.scope["query_string"]):
        return None
    name, value = CHALLENGE
    return Response(
        UNAUTHORIZED_BODY, 401, {name.decode(): value.decode()}, media_type="application/json"
    )
