"""The system-token check, in constant time.

integrator.io sends ``Authorization: Bearer <token>``; the reference also takes
``access_token`` from the JSON body or the query string when there is no
``Authorization`` header. Every accepted token (the current one and, during a
rotation, the previous one) is compared, so the time taken does not tell which
one matched or how much of it did.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

__all__ = ["TokenChecker", "bearer_token"]


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

    def accepts(self, candidate: object) -> bool:
        """True when ``candidate`` is a string equal to one of the tokens."""
        if not isinstance(candidate, str) or not candidate:
            return False
        given = candidate.encode("utf-8", "surrogatepass")
        matched = False
        for token in self._tokens:
            matched |= hmac.compare_digest(given, token)
        return matched
