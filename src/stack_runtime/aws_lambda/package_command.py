"""The ``package-lambda`` subcommand of ``stack-runtime``: its flags and its run.

The build itself is in :mod:`stack_runtime.aws_lambda.package`, imported only
when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..settings import Settings
from .bootstrap import DEFAULT_HANDLER, WRAPPER_NAME
from .target import ARCHITECTURES, PYTHON_VERSIONS, LambdaTarget, TargetError

__all__ = ["add_command", "run_command"]


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``package-lambda`` to the ``stack-runtime`` command."""
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    default_python = here if here in PYTHON_VERSIONS else "3.11"
    parser = commands.add_parser(
        "package-lambda",
        help="build the AWS Lambda deployment zip",
        description="Build the deployment zip for an AWS Lambda stack: stack-runtime, the "
        "dependencies it needs on Lambda as Linux wheels for the chosen architecture and "
        "Python version (and those in --requirement), the extensions folder, and the "
        f"{WRAPPER_NAME} wrapper script. Prints what went in, the sizes, and how to "
        f"configure the function (handler {DEFAULT_HANDLER}). pip fetches the wheels; "
        "nothing is built from source.",
    )
    parser.add_argument(
        "--extensions",
        metavar="DIR",
        dest="extensions_dir",
        help="extensions folder (default $STACK_EXTENSIONS_DIR, else ./extensions)",
    )
    parser.add_argument(
        "--output",
        "-o",
        metavar="ZIP",
        type=Path,
        default=Path("dist/stack-runtime-lambda.zip"),
        help="where to write the zip (default dist/stack-runtime-lambda.zip)",
    )
    parser.add_argument(
        "--arch",
        choices=tuple(ARCHITECTURES),
        default="x86_64",
        help="the function's architecture (default x86_64)",
    )
    parser.add_argument(
        "--python-version",
        metavar="X.Y",
        default=default_python,
        help=f"the function's Python runtime: {', '.join(PYTHON_VERSIONS)} "
        f"(default {default_python})",
    )
    parser.add_argument(
        "--requirement",
        "-r",
        metavar="FILE",
        type=Path,
        help="a requirements file of packages the extensions import, to include too",
    )


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``package-lambda`` with parsed ``args``; returns the exit status.

    ``settings`` gives the extensions folder (flag, environment, ``.env``, default).
    """
    from .package import PackageError, build_package, format_report

    try:
        target = LambdaTarget(args.arch, args.python_version)
        report = build_package(settings.extensions_dir, args.output, target, args.requirement)
    except (TargetError, PackageError) as exc:
        print(f"stack-runtime package-lambda: {exc}", file=sys.stderr)
        return 1
    print(format_report(report))
    return 0
