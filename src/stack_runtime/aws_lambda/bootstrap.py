"""The runtime entry point: AWS's runtime client, with the raw client context kept.

``python -m stack_runtime.aws_lambda [HANDLER]`` runs AWS's own runtime loop
(``awslambdaric``'s ``bootstrap.run``: init, ``/invocation/next``, the handler,
``/response`` or ``/error``, init errors, SnapStart hooks) with one change: its
runtime client is a subclass that records each invocation's
``Lambda-Runtime-Client-Context`` header before the runtime client parses it
and drops integrator.io's envelope keys. The handler reads the header back
(:mod:`stack_runtime.aws_lambda.invocation`). A payload or client context
the runtime client cannot read (its JSON library stops short of 1,000 levels
of nesting) goes to the handler too, which reads it as the HTTP face does or
answers the protocol's ``400``, instead of failing before the handler runs.

It needs ``awslambdaric`` 4 (whose ``bootstrap.run`` takes a runtime client).
``HANDLER`` defaults to ``$_HANDLER``, then ``stack_runtime.aws_lambda.handler``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from .envelope import read_payload
from .invocation import capture

__all__ = ["DEFAULT_HANDLER", "WRAPPER_NAME", "add_layer_paths", "main"]

#: The handler to configure on the function (a stable name: docs/lambda.md).
DEFAULT_HANDLER = "stack_runtime.aws_lambda.handler"

#: The wrapper script at the root of the deployment zip, which starts :func:`main`.
WRAPPER_NAME = "stack-runtime-lambda"


_USAGE = f"""\
usage: python -m stack_runtime.aws_lambda [HANDLER]

The Lambda runtime entry point of stack-runtime: AWS's runtime client
(awslambdaric), keeping the client context that integrator.io sends.
HANDLER defaults to $_HANDLER, then {DEFAULT_HANDLER}.
Runs inside a Lambda execution environment (AWS_LAMBDA_RUNTIME_API must be
set). On a managed Python runtime, set
AWS_LAMBDA_EXEC_WRAPPER=/var/task/{WRAPPER_NAME} instead of running it yourself."""


def _runtime_reads(client_context: str) -> bool:
    """True when AWS's runtime client can parse ``client_context`` (with :mod:`json`)."""
    try:
        json.loads(client_context)
    except (ValueError, RecursionError):
        return False
    return True


def _runtime_client_class() -> type[Any]:
    from awslambdaric.lambda_runtime_client import LambdaRuntimeClient
    from awslambdaric.lambda_runtime_exception import FaultException
    from awslambdaric.lambda_runtime_marshaller import LambdaMarshaller

    class PayloadReadingMarshaller(LambdaMarshaller):  # type: ignore[misc]
        """AWS's marshaller, handing the handler what it cannot read.

        A payload its JSON library refuses (nesting deeper than Python's
        recursion limit allows, an integer with thousands of digits) is read
        with ``orjson`` instead, or handed over as
        :class:`~stack_runtime.aws_lambda.envelope.UnreadablePayload`, which the
        handler answers with the protocol's ``400``.
        """

        def unmarshal_request(self, request: Any, content_type: str = "application/json") -> Any:
            try:
                return super().unmarshal_request(request, content_type)
            except FaultException:
                return read_payload(request)

    class ClientContextKeepingClient(LambdaRuntimeClient):  # type: ignore[misc]
        """AWS's runtime client, recording each invocation's raw client context.

        A client context that the runtime client itself cannot parse is recorded
        and then hidden from it (it would fail the invocation before the handler
        runs): the handler reads the recorded one and says what is wrong with it.
        """

        marshaller = PayloadReadingMarshaller()

        def wait_next_invocation(self) -> Any:
            request = super().wait_next_invocation()
            raw = request.client_context
            capture.record(request.invoke_id, raw)
            if raw and not _runtime_reads(raw):
                request.client_context = None
            return request

    return ClientContextKeepingClient


def add_layer_paths(layers: str = "/opt") -> list[str]:
    """Put the Python folders of the function's Lambda layers on ``sys.path``.

    A managed runtime imports from ``python/`` and
    ``python/lib/pythonX.Y/site-packages`` of its layers (extracted to
    ``/opt``); started through the wrapper script, this entry point does the
    same, after the deployment package. Returns the folders it added.
    """
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    added = []
    for folder in (f"{layers}/python", f"{layers}/python/lib/{version}/site-packages"):
        if os.path.isdir(folder) and folder not in sys.path:
            sys.path.append(folder)
            added.append(folder)
    return added


def _fail(message: str) -> int:
    print(f"stack-runtime lambda: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the Lambda runtime loop; returns only when it cannot start."""
    args = list(sys.argv if argv is None else argv)
    if len(args) > 1 and args[1] in ("-h", "--help"):
        print(_USAGE)
        return 0
    handler = args[1] if len(args) > 1 else os.environ.get("_HANDLER") or DEFAULT_HANDLER
    api_address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not api_address:
        return _fail(
            "AWS_LAMBDA_RUNTIME_API is not set: this entry point runs inside a Lambda "
            "execution environment (or next to a Runtime API emulator)."
        )
    if os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY"):
        return _fail(
            "AWS_LAMBDA_MAX_CONCURRENCY is set: multi-concurrent execution environments "
            "(Lambda Managed Instances) are not supported; use on-demand Lambda."
        )
    try:
        from awslambdaric import bootstrap
        from awslambdaric.lambda_config import LambdaConfigProvider
    except ImportError as exc:
        return _fail(f"AWS's runtime client is missing ({exc}); install awslambdaric>=4,<5.")

    add_layer_paths()
    use_thread = LambdaConfigProvider([args[0] if args else "", handler]).use_thread_polling
    client = _runtime_client_class()(api_address, use_thread)
    capture.activate()
    bootstrap.run(handler, client)
    return 0  # pragma: no cover - bootstrap.run serves until the process ends
