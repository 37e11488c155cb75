"""The AWS Lambda stack: integrator.io's Lambda Invoke calls, and HTTP events.

Configure the function's handler as ``stack_runtime.aws_lambda.handler`` and
start the runtime with this package's entry point (``python -m
stack_runtime.aws_lambda``, or the ``stack-runtime-lambda`` wrapper script that
``stack-runtime package-lambda`` puts in the zip): AWS's Python runtime client
on its own drops the envelope that integrator.io sends in the client context.
See :mod:`stack_runtime.aws_lambda.bootstrap`.

Importing this package costs nothing. The extensions are loaded when the
runtime first asks for ``handler`` (during the Init phase, once per execution
environment); the HTTP face (Starlette and Mangum) only when an HTTP event
arrives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .lambda_handler import LambdaHandler

    handler: LambdaHandler

__all__ = ["handler"]


def __getattr__(name: str) -> Any:
    if name == "handler":
        from .lambda_handler import build_handler

        built = build_handler()
        globals()["handler"] = built
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
