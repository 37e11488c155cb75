"""The runtime entry point: AWS's runtime client, with the raw client context kept.

``python -m stack_runtime.aws_lambda [HANDLER]`` runs AWS's own runtime loop
(``awslambdaric``'s ``bootstrap.run``: init, ``/invocation/next``, the handler,
``/response`` or ``/error``, init errors, SnapStart hooks) with one change: its
runtime client is a subclass that records each invocation's
``Lambda-Runtime-Client-Context`` header before the runtime client parses it
and drops integrator.io's envelope keys. The handler reads the header back
(:mod:`stack_runtime.aws_lambda.invocation`).

It needs ``awslambdaric`` 4 (whose ``bootstrap.run`` takes a runtime client).
``HANDLER`` defaults to ``$_HANDLER``, then ``stack_runtime.aws_lambda.handler``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

from .invocation import capture

__all__ = ["DEFAULT_HANDLER", "WRAPPER_NAME", "add_layer_paths", "main"]

#: The handler to configure on the function (contract.md).
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


def _runtime_client_class() -> type[Any]:
    from awslambdaric.lambda_runtime_client import LambdaRuntimeClient

    class ClientContextKeepingClient(LambdaRuntimeClient):  # type: ignore[misc]
        """AWS's runtime client, recording each invocation's raw client context."""

        def wait_next_invocation(self) -> Any:
            request = super().wait_next_invocation()
            capture.record(request.invoke_id, request.client_context)
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
