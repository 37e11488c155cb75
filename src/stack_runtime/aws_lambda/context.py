"""The parts of AWS's ``LambdaContext`` that the handler reads."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["LambdaContext"]


class LambdaContext(Protocol):
    """The context object AWS's runtime client hands to a handler.

    ``client_context`` is the runtime client's parsed copy of the invocation's
    client context: an object with only ``client``, ``custom`` and ``env``
    attributes, or ``None`` when the invocation had none. Every other key of the
    client context, integrator.io's envelope among them, is gone from it.
    """

    aws_request_id: str
    function_name: str | None
    invoked_function_arn: str | None
    client_context: Any

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function times out."""
        ...
