"""The ``stack-runtime`` command: every subcommand's parser, and what each one runs.

The flags of the settings, and the environment section of each ``--help``, are
built from the table of settings (:data:`stack_runtime.settings.SETTINGS`); the
flags here are the commands' own (what to call, where to write).
"""

from __future__ import annotations

import argparse
import errno
import faulthandler
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .aws_lambda.bootstrap import DEFAULT_HANDLER, WRAPPER_NAME
from .aws_lambda.target import ARCHITECTURES, PYTHON_VERSIONS
from .exceptions import ExtensionLoadError, StackRuntimeError
from .settings import ENV, SETTINGS, Settings, load_settings, setting, settings_for

__all__ = ["build_parser", "main", "settings_from"]

_DESCRIPTION = """\
Host integrator.io extension functions (hooks, wrappers, installers, settings
pages) written in Python, for a server stack or an AWS Lambda stack.

Settings come from flags, then the environment, then a .env file in the
working directory, then defaults."""

_Commands = argparse._SubParsersAction  # the object add_subparsers returns


def _environment(command: str | None) -> str:
    """The environment section of ``--help``: the variables ``command`` reads (all of
    them for ``None``), each with what it sets and its default there."""
    lines = ["environment (a flag wins over its variable, the variable over .env):"]
    for spec in SETTINGS if command is None else settings_for(command):
        lines.append(f"  {spec.env:<44} {spec.summary(command or 'serve')}")
    return "\n".join(lines) + "\n"


def _add_settings(parser: argparse.ArgumentParser, command: str) -> None:
    """Add the flag of every setting that ``command`` has a flag for."""
    group = parser.add_argument_group("settings")
    for spec in settings_for(command):
        if spec.flag is None or command not in spec.flag_in:
            continue
        help_text = spec.explain(command)
        if spec.name == "direct_path":
            group.add_argument(
                spec.flag, dest=spec.name, action=argparse.BooleanOptionalAction, help=help_text
            )
        else:
            choices = getattr(spec.kind, "options", None)
            group.add_argument(
                spec.flag, dest=spec.name, metavar=spec.metavar, choices=choices, help=help_text
            )


def _command(
    commands: _Commands[argparse.ArgumentParser],
    name: str,
    summary: str,
    description: str,
    epilog: str = "",
) -> argparse.ArgumentParser:
    """Add the subcommand ``name``, whose ``--help`` ends with the environment it reads."""
    environment = _environment(name) if any(settings_for(name)) else ""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog="\n".join(part for part in (epilog, environment) if part),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


_SERVE = f"""\
Run the server stack host: gunicorn's master in this process, uvicorn workers.
Each worker imports the extensions when it starts (serve first checks that they
import); SIGHUP to this process starts new workers on the extensions as they are
on disk then and retires the old ones after their calls. Needs
{ENV["system_token"]}."""

_DEV = """\
Run one local server process for writing extensions: it imports the extensions
again whenever a file in the folder changes, keeps serving through a save that
does not import (every call then answers 422 extension_load_failed with the file
and line), logs each call on one line, listens on 127.0.0.1 unless --host says
otherwise, and makes up and prints a system token when none is set."""

_INVOKE = """\
Call one extension function through the same dispatcher the server uses, without
HTTP. Standard output gets exactly the body integrator.io would receive: the
function's result, or the 422 {"errors": [...]}. Logs, tracebacks and whatever
the function prints go to standard error.

The function is the DIY one unless --connector is given. Its type (namespace) is
--type, or none with --flat; left out, it is the type of the function's kind
(its name unless --kind says otherwise): hooks (preSavePage, preMap, postMap,
postSubmit, postResponseMap, postAggregate, formInit, preSave), wrappers (ping,
export, import) and settings (persistSettings, refreshMetadata).

The options are the JSON of --options FILE; or, with --records FILE (a JSON
array of records), the standard options of the function's kind built around
them (fields of --options, if also given, replace the built ones); or, with
neither, the standard options of the kind. FILE '-' reads standard input.
--envelope FILE sends a whole envelope as integrator.io posts it."""


def _invoke_epilog() -> str:
    from .devtools.invoke import EXIT_CALL_FAILED, EXIT_LOAD_FAILED, EXIT_OK, EXIT_USAGE

    return f"""\
exit status:
  {EXIT_OK}  the call answered 200
  {EXIT_CALL_FAILED}  the call answered 422 (the function raised, or the envelope or result was refused)
  {EXIT_USAGE}  usage error: bad flags, or a file that is missing or not JSON
  {EXIT_LOAD_FAILED}  the extensions could not be imported (the file and line are shown)

examples:
  stack-runtime invoke preSavePage --records page.json
  stack-runtime invoke cleanContacts --kind preMap --records page.json
  stack-runtime invoke verifyCredentials --type installer --options opts.json
  echo '{{"pending": {{"region": "eu"}}}}' | stack-runtime invoke persistSettings --options -
  stack-runtime invoke update --connector 5d8a3b6c7e2f4a1b9c0d1e2f --type installer
"""


def _invoke_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("function", nargs="?", metavar="FUNCTION", help="the function's name")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--diy", action="store_true", help="call the DIY module's function (the default)"
    )
    where.add_argument("--connector", metavar="ID", help="call this connector's function")
    namespace = parser.add_mutually_exclusive_group()
    namespace.add_argument(
        "--type",
        dest="function_type",
        metavar="TYPE",
        help="hook, wrapper, setting, installer, uninstaller, utility, ...",
    )
    namespace.add_argument(
        "--flat", action="store_true", help="call a top-level function (no type)"
    )
    parser.add_argument(
        "--kind",
        metavar="KIND",
        help="what integrator.io calls the function for (default: its name), e.g. preMap",
    )
    parser.add_argument("--options", metavar="FILE", help="JSON file of the options ('-': stdin)")
    parser.add_argument(
        "--records", metavar="FILE", help="JSON array of records for a page ('-': stdin)"
    )
    parser.add_argument(
        "--envelope", metavar="FILE", help="a whole envelope as integrator.io posts it ('-': stdin)"
    )
    parser.add_argument(
        "--max-response-size", type=int, metavar="BYTES", help="limit on the result (default 5 MiB)"
    )
    parser.add_argument(
        "--pretty", action="store_true", help="indent the JSON for reading (no longer exact bytes)"
    )


_INIT = """\
Start a project of integrator.io extension functions in DIR (default: the
current directory): DIR/extensions/diy/ with one commented example of each kind
of function, DIR/tests/test_extensions.py testing them with the pytest plugin
(stack-runtime's test extra brings pytest), DIR/extensions/requirements.txt
for the packages the extensions import, and DIR/records.json, a page of records
for stack-runtime invoke. Refuses, writing nothing, when any of those files
exists. Then prints the next steps."""

_PACKAGE_LAMBDA = f"""\
Build the deployment zip for an AWS Lambda stack: stack-runtime (without its
server stack and author's tools, which Lambda never runs), the dependencies it
needs on Lambda as Linux wheels for the chosen architecture and Python version
(and those in --requirement), the extensions folder, and the
{WRAPPER_NAME} wrapper script. Prints what went in, the sizes, and how to
configure the function (handler {DEFAULT_HANDLER}). pip fetches the wheels;
nothing is built from source."""


def _package_lambda_arguments(parser: argparse.ArgumentParser) -> None:
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    default_python = here if here in PYTHON_VERSIONS else "3.11"
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


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``stack-runtime`` and every subcommand."""
    parser = argparse.ArgumentParser(
        prog="stack-runtime",
        description=_DESCRIPTION,
        epilog=_environment(None),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = _command(
        commands,
        "serve",
        "run the production server stack host (gunicorn with uvicorn workers)",
        _SERVE,
    )
    _add_settings(serve, "serve")
    dev = _command(
        commands,
        "dev",
        "run a local development server that reloads when an extension changes",
        _DEV,
    )
    _add_settings(dev, "dev")
    invoke = _command(
        commands,
        "invoke",
        "call one extension function locally, without HTTP",
        _INVOKE,
        _invoke_epilog(),
    )
    _invoke_arguments(invoke)
    _add_settings(invoke, "invoke")
    init = _command(
        commands, "init", "start a project: example extension functions and their tests", _INIT
    )
    init.add_argument(
        "directory", nargs="?", default=".", metavar="DIR", help="project folder (default .)"
    )
    package_lambda = _command(
        commands, "package-lambda", "build the AWS Lambda deployment zip", _PACKAGE_LAMBDA
    )
    _package_lambda_arguments(package_lambda)
    _add_settings(package_lambda, "package-lambda")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings of the command ``args`` were parsed for: its flags, then the
    environment, then ``.env``, then the command's defaults."""
    command: str = args.command
    flags = {s.name: getattr(args, s.name) for s in settings_for(command) if command in s.flag_in}
    return load_settings(flags, command=command)


def _serve(settings: Settings) -> int:
    if not settings.system_tokens:
        print(
            f"stack-runtime serve: no system token. Set {ENV['system_token']} in the environment "
            "or in .env to the system token of the integrator.io stack.",
            file=sys.stderr,
        )
        return 2
    from .core.logs import configure_logging
    from .server.reload import check_extensions

    configure_logging(settings.log_level)
    # The master never imports an extension (each worker does: see server/gunicorn.py); a child
    # process does now, so that extensions that do not import stop start-up here.
    check_extensions(settings.extensions_dir)
    from .tracing import call_tracing

    call_tracing()  # OTEL_* settings checked here, once: one that cannot be used stops serve

    from .asgi.metrics import use_multiprocess_dir

    metrics_dir = use_multiprocess_dir()  # before any metric exists, so workers share it

    from .asgi.state import HostState
    from .server.gc import tune_collector
    from .server.gunicorn import GunicornHost

    # A function that crashes its worker (a segfault in a C extension, say) leaves the
    # Python stack of every thread in the log: which function, which line.
    faulthandler.enable(all_threads=True)
    state = HostState(settings.drain_delay, settings.drain_idle_wait)
    tune_collector()  # the host's own code, before the workers fork: see server/gc.py
    GunicornHost(settings, state, metrics_dir).run()
    return 0


def _dev(settings: Settings) -> int:
    from .devtools.dev import check_folder, listen, run_dev

    # Everything that can stop the server is checked before it says it serves.
    check_folder(settings.extensions_dir)
    try:
        sock = listen(settings.host, settings.port)
    except OSError as exc:
        reason = exc.strerror.lower() if exc.strerror else str(exc)
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            hint = f"{setting('port').flag} or {ENV['port']} chooses another port"
        else:
            hint = f"{setting('host').flag} or {ENV['host']} chooses another address"
        print(
            f"stack-runtime dev: cannot listen on {settings.host}:{settings.port}: {reason} "
            f"({hint})",
            file=sys.stderr,
        )
        return 1
    if not settings.system_tokens:
        token = secrets.token_urlsafe(24)
        settings = settings.with_tokens(token)
        print(
            f"stack-runtime dev: no {ENV['system_token']} set; using this token:\n  {token}",
            file=sys.stderr,
        )
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(
        f"stack-runtime dev: serving {settings.extensions_dir} on "
        f"http://{host}:{sock.getsockname()[1]}",
        file=sys.stderr,
    )
    faulthandler.enable(all_threads=True)  # as in serve: a crash leaves its Python stack
    run_dev(settings, sock)
    return 0


def _package_lambda(args: argparse.Namespace, settings: Settings) -> int:
    from .aws_lambda.package import build_package, format_report
    from .aws_lambda.target import LambdaTarget

    target = LambdaTarget(args.arch, args.python_version)
    print(
        format_report(build_package(settings.extensions_dir, args.output, target, args.requirement))
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    A command that stops on a :class:`~stack_runtime.exceptions.StackRuntimeError` says why
    on one line of standard error, ``stack-runtime COMMAND: ...``, and exits with the error's
    :attr:`~stack_runtime.exceptions.StackRuntimeError.exit_status` (2 for settings and usage
    errors, else 1; ``invoke`` exits 3 when the extensions do not import).
    """
    args = build_parser().parse_args(argv)
    try:
        if args.command == "init":
            from .devtools.scaffold import run_init

            return run_init(args.directory)
        settings = settings_from(args)
        if args.command == "serve":
            return _serve(settings)
        if args.command == "dev":
            return _dev(settings)
        if args.command == "package-lambda":
            return _package_lambda(args, settings)
        if args.command == "invoke":
            from .devtools.invoke import run_invoke

            return run_invoke(args, settings)
    except StackRuntimeError as exc:
        said = f"{exc.headline}: {exc}" if exc.headline else str(exc)
        print(f"stack-runtime {args.command}: {said}", file=sys.stderr)
        return _exit_status(args.command, exc)
    except KeyboardInterrupt:
        return 130
    return 2


def _exit_status(command: str, exc: StackRuntimeError) -> int:
    if command == "invoke" and isinstance(exc, ExtensionLoadError):
        from .devtools.invoke import EXIT_LOAD_FAILED

        return EXIT_LOAD_FAILED
    return exc.exit_status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
