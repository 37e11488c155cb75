"""``stack-runtime dev``: one local server that reloads the extensions on every save.

The port stays open from start to stop. When a file under the extensions
folder changes, the extensions are imported again in this process, under fresh
module names, and the next calls use the new code. A save that does not import
(a syntax error, a failing import) keeps the server up: the log shows the file
and line, and every call answers ``422`` with the code
:data:`LOAD_FAILED_CODE` and the same file and line, until a save imports again.

Each call is logged on one readable line: which function, the status, how long
it took and, when it failed, its errors, after the traceback of the exception.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import socket
import time
from collections.abc import Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import MappingProxyType
from typing import Any

import uvicorn
import watchfiles

from ..asgi.app import StackApp
from ..asgi.auth import TokenChecker
from ..core.dispatcher import Dispatcher, Outcome, Then
from ..core.errors import CallFailure, ErrorItem
from ..core.jsvalues import js_string, truthy
from ..core.loader import Extensions, load_extensions
from ..core.logs import logger
from ..core.watchdog import LoopWatchdog
from ..exceptions import ExtensionLoadError
from ..server.httptools import http_protocol
from ..settings import Settings
from .readable import configure_readable_logging

__all__ = [
    "LOAD_FAILED_CODE",
    "DevDispatcher",
    "DevServer",
    "SourceChanges",
    "check_folder",
    "listen",
    "load_failed",
    "run_dev",
]

#: The ``code`` of the 422 every call gets while the extensions do not import.
LOAD_FAILED_CODE = "extension_load_failed"

_CALL_LINES = ("logName=callFunctionInvoked,",)
_REQUEST_LINE = "logName=reqFinished, method=POST, url=/function,"


def load_failed(exc: ExtensionLoadError) -> ErrorItem:
    """The 422 entry while the extensions do not import: where and why."""
    return ErrorItem(LOAD_FAILED_CODE, f"The extensions failed to load: {exc}")


def _shown(value: Any) -> str:
    """An envelope value in the readable line: as JavaScript writes it, at most 100 characters."""
    text = js_string(value)
    return text if len(text) <= 100 else text[:100] + "..."


def _describe(envelope: Mapping[str, Any]) -> str:
    connector = envelope.get("_connectorId")
    if truthy(envelope.get("diy")):
        where = "diy"
    else:
        where = (
            f"connector {_shown(connector)}" if truthy(connector) else "(no diy or _connectorId)"
        )
    type_value = envelope.get("type")
    function = envelope.get("function")
    if not isinstance(function, str) or not function:
        function = "(no function)"
    function = _shown(function)
    name = f"{_shown(type_value)} {function}" if truthy(type_value) else f"{function} (top level)"
    return f"{where} {name}"


def _summary(outcome: Outcome) -> str:
    if outcome.failure is None:
        return ""
    text = "; ".join(f"{e.code}: {e.message}" for e in outcome.failure.errors)
    return f"  {text[:500]}"


class DevDispatcher(Dispatcher):
    """A dispatcher that logs a readable line per call, or answers a load failure."""

    def __init__(
        self,
        extensions: Extensions,
        *,
        load_error: ExtensionLoadError | None = None,
        executor: ThreadPoolExecutor | None = None,
        call_timeout: float | None = None,
    ) -> None:
        super().__init__(extensions, executor=executor, call_timeout=call_timeout)
        self.load_error = load_error

    def _load_failed(self) -> Outcome:
        assert self.load_error is not None
        failure = CallFailure(422, (load_failed(self.load_error),))
        return Outcome(422, failure.body(), failure)

    def begin(self, envelope: Mapping[str, Any]) -> Outcome | Coroutine[Any, Any, Outcome]:
        """Run the call (or refuse it while the extensions do not load) and log it."""
        started = time.perf_counter()
        if self.load_error is not None:
            return _logged(envelope, self._load_failed(), started)
        begun = super().begin(envelope)
        if isinstance(begun, Outcome):
            return _logged(envelope, begun, started)
        return _logged_later(envelope, begun, started)

    def begin_then(self, envelope: Mapping[str, Any], then: Then) -> Outcome | None:
        """As :meth:`begin`, for an answer that comes through ``then`` (see
        :meth:`Dispatcher.launch`)."""
        started = time.perf_counter()
        if self.load_error is not None:
            return _logged(envelope, self._load_failed(), started)

        def logged(outcome: Outcome | None) -> None:
            then(outcome if outcome is None else _logged(envelope, outcome, started))

        outcome = super().begin_then(envelope, logged)
        return outcome if outcome is None else _logged(envelope, outcome, started)


def _logged(envelope: Mapping[str, Any], outcome: Outcome, started: float) -> Outcome:
    """``outcome``, after its readable line is logged."""
    elapsed = (time.perf_counter() - started) * 1000
    line = f"{_describe(envelope)} -> {outcome.status} in {elapsed:.1f} ms{_summary(outcome)}"
    if outcome.status == 200:
        logger.info(line)
    else:
        logger.warning(line)
    return outcome


async def _logged_later(
    envelope: Mapping[str, Any], running: Coroutine[Any, Any, Outcome], started: float
) -> Outcome:
    return _logged(envelope, await running, started)


class _QuietCalls(logging.Filter):
    """Drop the per-call key=value lines the readable call line replaces."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(_CALL_LINES):
            return False
        return not (
            message.startswith(_REQUEST_LINE)
            and ("statusCode=200," in message or "statusCode=422," in message)
        )


def _vim_probe(name: str) -> bool:
    """Vim's test of whether it may write in a folder: a file ``4913`` (then 5036, 5159, ...
    while that one exists), made and deleted at once."""
    return name.isdigit() and int(name) >= 4913 and (int(name) - 4913) % 123 == 0


class SourceChanges(watchfiles.DefaultFilter):
    """The changes that reload the extensions: watchfiles' default filter (caches, ``.git``,
    ``.swp``, ``~``, ``.#`` locks), also without the other temporary and backup files
    editors write next to the file they save. Left out, they neither reload nor are logged."""

    ignore_entity_patterns = (
        *watchfiles.DefaultFilter.ignore_entity_patterns,
        r"\.sw.x$",  # vim, testing swap-file names (.swpx)
        r"^#.*#$",  # emacs' auto-save
        r"\.te?mp$",  # a save that writes hooks.py.tmp, then renames it
        r"\.tmp\.[\w.-]+$",  # ... or hooks.py.tmp.<pid>.<time>
        r"___jb_(?:tmp|old|bak)___$",  # JetBrains' safe write
        r"\.bak$",
        r"\.kate-swp$",  # Kate
        r"^\.goutputstream-",  # GNOME's editors
        r"^\.~lock\.",  # LibreOffice
    )

    def __call__(self, change: watchfiles.Change, path: str) -> bool:
        """Whether the change to ``path`` counts."""
        return not _vim_probe(os.path.basename(path)) and super().__call__(change, path)


class DevServer:
    """The dev server's state: the app, whose dispatcher is swapped on every reload."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = Path(settings.extensions_dir)
        self.executor = ThreadPoolExecutor(
            max_workers=settings.threads, thread_name_prefix="extension"
        )
        self.app = StackApp(self._load(), TokenChecker(settings.system_tokens))

    def _load(self) -> DevDispatcher:
        try:
            try:
                extensions = load_extensions(self.root)
            except SystemExit as exc:  # extension code that exits while it is imported
                raise ExtensionLoadError(str(self.root), None, f"SystemExit: {exc}") from exc
        except ExtensionLoadError as exc:
            cause = exc.__cause__
            logger.error(
                f"extensions failed to load: {exc}\n"
                f"  every call answers 422 {LOAD_FAILED_CODE} until the next good save",
                exc_info=(type(cause), cause, cause.__traceback__) if cause else None,
            )
            empty = Extensions(self.root, None, MappingProxyType({}))
            return DevDispatcher(empty, load_error=exc, executor=self.executor)
        names = (["diy"] if extensions.diy else []) + [
            f"connector {c}" for c in extensions.connectors
        ]
        logger.info(f"extensions loaded: {', '.join(names)}")
        return DevDispatcher(
            extensions, executor=self.executor, call_timeout=self.settings.call_timeout
        )

    def reload(self) -> None:
        """Import the extensions again; calls from now on use the new code (or the error)."""
        self.app.dispatcher = self._load()

    async def watch(self, stop: asyncio.Event) -> None:
        """Reload after every change under the extensions folder, until ``stop`` is set."""
        try:
            async for changes in watchfiles.awatch(
                self.root, watch_filter=SourceChanges(), stop_event=stop
            ):
                changed = sorted({os.path.relpath(path, self.root) for _, path in changes})
                logger.info(f"changed: {' '.join(changed)}; reloading")
                # A fresh context: the reload is no request, so it carries no request id.
                await asyncio.to_thread(contextvars.Context().run, self.reload)
        except Exception as exc:  # the folder went away, the watcher failed: keep serving
            logger.error(f"stopped watching {self.root} ({exc}); restart dev to reload again")

    async def serve(self, sock: socket.socket | None = None) -> None:
        """Serve until stopped (Ctrl-C, SIGTERM or ``GET /stopServer``), on ``sock`` when
        given (bound already), else on the settings' host and port."""
        config = uvicorn.Config(
            self.app,
            host=self.settings.host,
            port=self.settings.port,
            log_level="warning",
            access_log=False,
            timeout_keep_alive=self.settings.keepalive,
            http=http_protocol(self.settings.direct_path),  # as serve's workers
        )
        server = uvicorn.Server(config)
        stop = asyncio.Event()
        watcher = asyncio.create_task(self.watch(stop))
        watchdog = LoopWatchdog(self.settings.blocked_loop)
        watchdog.start()
        try:
            await server.serve(sockets=None if sock is None else [sock])
        finally:
            watchdog.stop()
            stop.set()
            try:
                await asyncio.wait_for(watcher, 5)
            except (TimeoutError, asyncio.CancelledError):
                watcher.cancel()
            self.executor.shutdown(wait=False, cancel_futures=True)


def check_folder(root: Path) -> None:
    """Raise :class:`ExtensionLoadError` when the extensions folder ``root`` does not exist."""
    if not root.is_dir():
        raise ExtensionLoadError(
            str(root), None, "extensions folder not found (stack-runtime init makes one)"
        )


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` as uvicorn binds one; ``OSError`` when it cannot be
    (the address is in use, say). Port 0 takes a free port: ``getsockname()`` tells which."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        # Listening now, not when uvicorn starts: a client that reads the port from the
        # "serving" line may connect at once (uvicorn's listen() only sets the backlog again).
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    return sock


def run_dev(settings: Settings, sock: socket.socket | None = None) -> None:
    """Serve ``settings.extensions_dir`` and reload it on every change.

    ``sock`` is the socket to serve on, from :func:`listen`; without it the
    server binds the settings' host and port itself. Raises
    :class:`ExtensionLoadError` when the folder does not exist; any other load
    failure is served as a 422 until it is fixed.
    """
    root = Path(settings.extensions_dir)
    check_folder(root)
    drop = None if settings.log_level == "debug" else _QuietCalls()
    configure_readable_logging(settings.log_level, root, drop=drop)
    asyncio.run(DevServer(settings).serve(sock))
