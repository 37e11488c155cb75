"""The ``stack-runtime`` command."""

from __future__ import annotations

import argparse
import errno
import faulthandler
import secrets
import sys
from collections.abc import Sequence
from typing import Any

from . import __version__
from .aws_lambda.package_command import add_command as add_package_lambda
from .loader import ExtensionLoadError
from .settings import ENV, Settings, SettingsError, load_settings

__all__ = ["main"]

_DESCRIPTION = """\
Host integrator.io extension functions (hooks, wrappers, installers, settings
pages) written in Python, for a server stack or an AWS Lambda stack.

Settings come from flags, then the environment, then a .env file in the
working directory, then defaults."""

_ENV_HELP = f"""\
environment:
  {ENV["system_token"]:<44} the stack's system token (required by serve)
  {ENV["previous_system_token"]:<44} also accepted, while a token is rotated
  {ENV["extensions_dir"]:<44} extensions folder (default ./extensions)
  {ENV["port"]:<44} port, when --port is not given (default 8080)
  {ENV["host"]:<44} address to listen on
  {ENV["workers"]:<44} worker processes (default: one per usable CPU)
  {ENV["threads"]:<44} threads per worker for def functions (default 64)
  {ENV["direct_path"]:<44} false: read every request with plain uvicorn
  {ENV["call_timeout"]:<44} seconds a call may run (default 300)
  {ENV["blocked_loop"]:<44} seconds before a blocked event loop is logged (default 0.1)
  {ENV["log_level"]:<44} debug, info, warning or error (default info)
  {ENV["metrics_port"]:<44} port that serves GET /metrics without the token (serve)
  {ENV["drain_delay"]:<44} seconds terminate=true keeps listening (default 30)
  {ENV["drain_idle_wait"]:<44} seconds a drain leaves idle connections open (default 20)
"""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--extensions",
        metavar="DIR",
        dest="extensions_dir",
        help="extensions folder (default ./extensions)",
    )
    parser.add_argument("--host", help="address to listen on")
    parser.add_argument("--port", type=int, help="port to listen on (default $PORT, else 8080)")
    parser.add_argument(
        "--call-timeout", type=float, metavar="SECONDS", help="per-call limit (default 300)"
    )
    parser.add_argument(
        "--blocked-loop",
        type=float,
        metavar="SECONDS",
        help="log eventLoopBlocked (and count it in /metrics) when the event loop does not "
        "turn for this long, as when an async def function blocks (default 0.1)",
    )
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    parser.add_argument(
        "--direct-path",
        action=argparse.BooleanOptionalAction,
        help="answer POST /function in the HTTP protocol itself, the plainest requests read "
        "in C, without ASGI; --no-direct-path reads and answers every request with uvicorn's "
        "own httptools protocol, as a fallback (default: on)",
    )


def _drain_flags(parser: argparse.ArgumentParser) -> None:
    """``serve``'s flags for metrics and drains (see the README's "Running behind nginx")."""
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="P",
        help="also listen on port P, where GET /metrics needs no token (default: metrics "
        "only on the main port, behind the token)",
    )
    parser.add_argument(
        "--drain-delay",
        type=float,
        metavar="SECONDS",
        help="after /openConnections?terminate=true, keep listening this long before "
        "draining as on SIGTERM (default 30)",
    )
    parser.add_argument(
        "--drain-idle-wait",
        type=float,
        metavar="SECONDS",
        help="while draining, leave idle keep-alive connections this long after the last "
        "call for the balancer to close, then close them; keep it above the balancer's idle "
        "timeout for connections to the hosts (default 20)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stack-runtime",
        description=_DESCRIPTION,
        epilog=_ENV_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the production server stack host (gunicorn with uvicorn workers)",
        description="Run the server stack host: gunicorn's master in this process, uvicorn "
        "workers. Each worker imports the extensions when it starts (serve first checks that "
        "they import); SIGHUP to this process starts new workers on the extensions as they "
        "are on disk then and retires the old ones after their calls. Needs "
        f"{ENV['system_token']}.",
        epilog=_ENV_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(serve)
    serve.add_argument(
        "--workers", type=int, metavar="N", help="worker processes (default: one per usable CPU)"
    )
    serve.add_argument(
        "--threads", type=int, metavar="N", help="threads per worker for def functions (default 64)"
    )
    _drain_flags(serve)

    dev = commands.add_parser(
        "dev",
        help="run a local development server that reloads when an extension changes",
        description="Run one local server process for writing extensions: it imports the "
        "extensions again whenever a file in the folder changes, keeps serving through a save "
        "that does not import (every call then answers 422 extension_load_failed with the file "
        "and line), logs each call on one line, listens on 127.0.0.1 unless --host says "
        "otherwise, and makes up and prints a system token when none is set.",
        epilog=_ENV_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(dev)

    from .invoke import add_invoke_parser
    from .scaffold import add_init_parser

    add_invoke_parser(commands)
    add_init_parser(commands)
    add_package_lambda(commands)
    return parser


def _settings(args: argparse.Namespace, defaults: Settings | None = None, **extra: Any) -> Settings:
    flags = {
        "extensions_dir": args.extensions_dir,
        "host": args.host,
        "port": args.port,
        "call_timeout": args.call_timeout,
        "blocked_loop": args.blocked_loop,
        "log_level": args.log_level,
        "direct_path": args.direct_path,
        **extra,
    }
    return load_settings(flags, defaults=defaults)


def _serve(args: argparse.Namespace) -> int:
    settings = _settings(
        args,
        workers=args.workers,
        threads=args.threads,
        metrics_port=args.metrics_port,
        drain_delay=args.drain_delay,
        drain_idle_wait=args.drain_idle_wait,
    )
    if not settings.system_tokens:
        print(
            f"stack-runtime serve: no system token. Set {ENV['system_token']} in the environment "
            "or in .env to the system token of the integrator.io stack.",
            file=sys.stderr,
        )
        return 2
    from .logs import configure_logging
    from .reload import check_extensions

    configure_logging(settings.log_level)
    # The master never imports an extension (each worker does: see server.py); a child
    # process does now, so that extensions that do not import stop start-up here.
    check_extensions(settings.extensions_dir)
    from .tracing import call_tracing

    call_tracing()  # OTEL_* settings checked here, once: one that cannot be used stops serve

    from .metrics import use_multiprocess_dir

    metrics_dir = use_multiprocess_dir()  # before any metric exists, so workers share it

    from .collector import tune_collector
    from .server import GunicornHost
    from .state import HostState

    # A function that crashes its worker (a segfault in a C extension, say) leaves the
    # Python stack of every thread in the log: which function, which line.
    faulthandler.enable(all_threads=True)
    state = HostState(settings.drain_delay, settings.drain_idle_wait)
    tune_collector()  # the host's own code, before the workers fork: see collector.py
    GunicornHost(settings, state, metrics_dir).run()
    return 0


def _dev(args: argparse.Namespace) -> int:
    from .dev import check_folder, listen, run_dev

    settings = _settings(args, defaults=Settings(host="127.0.0.1"))
    # Everything that can stop the server is checked before it says it serves.
    check_folder(settings.extensions_dir)
    try:
        sock = listen(settings.host, settings.port)
    except OSError as exc:
        reason = exc.strerror.lower() if exc.strerror else str(exc)
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            hint = f"--port or {ENV['port']} chooses another port"
        else:
            hint = f"--host or {ENV['host']} chooses another address"
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "dev":
            return _dev(args)
        if args.command == "package-lambda":
            from .aws_lambda.package_command import run_command

            return run_command(args, load_settings({"extensions_dir": args.extensions_dir}))
        if args.command == "invoke":
            from .invoke import run_invoke

            return run_invoke(args)
        if args.command == "init":
            from .scaffold import run_init

            return run_init(args)
    except SettingsError as exc:
        print(f"stack-runtime {args.command}: {exc}", file=sys.stderr)
        return 2
    except ExtensionLoadError as exc:
        print(f"stack-runtime {args.command}: cannot load extensions: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
