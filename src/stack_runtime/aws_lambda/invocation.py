"""The raw client context of the invocation being handled.

AWS's runtime client reads the ``Lambda-Runtime-Client-Context`` header and
turns it into an object that keeps only ``client``, ``custom`` and ``env``.
integrator.io puts its envelope (``diy`` or ``_connectorId``, ``type``,
``function``, ``maxResponseSize``) at the top level of that JSON, so the
runtime entry point (:mod:`stack_runtime.aws_lambda.bootstrap`) records the
header here, untouched, as each invocation arrives; the handler reads it back
for the same request id.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ClientContextCapture", "capture"]


@dataclass
class ClientContextCapture:
    """The latest invocation's request id and raw client context header."""

    active: bool = False
    """True once the runtime entry point records every invocation."""
    request_id: str | None = None
    raw: str | None = None

    def activate(self) -> None:
        """Say that every invocation will be recorded from now on."""
        self.active = True

    def record(self, request_id: str | None, raw: str | None) -> None:
        """Remember the header of the invocation that just arrived."""
        self.active = True
        self.request_id = request_id
        self.raw = raw

    def raw_for(self, request_id: str | None) -> str | None:
        """The raw header recorded for ``request_id`` (``None`` if there was none)."""
        if request_id is not None and request_id == self.request_id:
            return self.raw
        return None


#: The one capture of this process: the runtime serves one invocation at a time.
capture = ClientContextCapture()
