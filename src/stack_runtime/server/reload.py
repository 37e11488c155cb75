"""New extension code on a running server stack host, without dropping a call.

gunicorn's master imports no extension: each worker imports the extensions
folder as it is on disk when the worker starts. ``SIGHUP`` to the master (what
gunicorn offers for a reload; ``kill -HUP`` in a container too) then:

1. imports the extensions in a short-lived child process of their own
   (:class:`ExtensionCheck`), as on disk now. When they do not import, the
   master logs ``reloadFailed`` with the file, the line and the error, and the
   workers go on serving the code they loaded;
2. starts as many new workers as the host runs, which import the extensions;
3. once every new worker serves (its heartbeat moved since it was born), retires
   the old ones: each drains as on SIGTERM (:mod:`stack_runtime.server.worker`), its calls
   finished, while the new ones serve; the master logs ``reloadFinished`` when the
   last old worker is gone. A new worker that exits before it serves (its
   extensions failed to import after all) ends the reload there: the new workers
   go, the old ones stay (``reloadFailed``).

A ``SIGHUP`` while the extensions are being checked checks them again as they are
now; one during steps 2 and 3 runs another reload after this one. Settings
(flags, environment, ``.env``) are not read again: they are the host's, from its
start.

:func:`check_extensions` is the same check, at start-up: ``serve`` stops with
the file and line when the extensions do not import.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import time
from pathlib import Path
from typing import Any

from ..core.loader import load_extensions
from ..core.logs import kv, logger
from ..exceptions import ExtensionLoadError

__all__ = ["ExtensionCheck", "Reload", "check_extensions", "served"]

#: Seconds a worker that failed to start is not replaced, so that extensions that no
#: longer import do not make the master start worker after worker.
RESPAWN_PAUSE = 5.0


def served(worker: Any) -> bool:
    """Whether a gunicorn worker has served: its heartbeat moved since it was born
    (``born``, noted in the ``pre_fork`` hook; the first heartbeat comes once it listens)."""
    return bool(worker.tmp.last_update() != getattr(worker, "born", None))


class ExtensionCheck:
    """The extensions folder imported in a child process forked for that alone;
    :meth:`outcome` tells how it went, without waiting unless asked to.

    The child is forked from the calling process (gunicorn's master, or ``serve``
    before it starts gunicorn), as the workers are: it imports the extensions as a
    worker would, with the host's code already imported, without starting another
    interpreter. It first puts the signals back to their defaults and closes every
    descriptor but the standard ones and its pipe (the listening sockets among them:
    a process that extension code starts at import time must not hold one). It writes
    its outcome as JSON to the pipe and exits; a child that ends without writing one
    (killed, crashed) failed. gunicorn's master may reap it before :meth:`outcome`
    does: the outcome is what it wrote, not its exit status.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            try:
                for number in _SIGNALS:
                    signal.signal(number, signal.SIG_DFL)
                os.closerange(3, write)
                os.closerange(write + 1, _open_max())
                _report(str(directory), write)
            finally:
                os._exit(1)
        os.close(write)
        self.pid = pid
        self._pipe = read
        self._text = b""

    def outcome(self, timeout: float | None = 0.0) -> ExtensionLoadError | bool | None:
        """``None`` while the check runs (waiting at most ``timeout`` seconds, ``None``:
        until it ends); then ``True`` when the extensions import, else the error."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._pipe], [], [], left)
            if not ready:
                return None
            chunk = os.read(self._pipe, 65536)
            if chunk:
                self._text += chunk
                continue
            self._close()
            return _outcome(self._text, self.directory)

    def cancel(self) -> None:
        """Stop the check (a newer one replaces it, or the host stops)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self._close()

    def _close(self) -> None:
        """Close the pipe and wait for the child (it exits once it has written), unless
        gunicorn reaped it already: a zombie would count among the master's children."""
        os.close(self._pipe)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


#: The signals gunicorn's master handles; the check's child puts them back to the defaults.
_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT)
_SIGNALS += (signal.SIGTERM, signal.SIGCHLD, signal.SIGUSR1, signal.SIGUSR2, signal.SIGTTIN)
_SIGNALS += (signal.SIGTTOU, signal.SIGWINCH)


def _open_max() -> int:
    try:
        return max(int(os.sysconf("SC_OPEN_MAX")), 256)
    except (OSError, ValueError):
        return 65536


def _outcome(text: bytes, directory: Path) -> ExtensionLoadError | bool:
    try:
        found = json.loads(text)
    except ValueError:
        return ExtensionLoadError(
            str(directory), None, "the process that imported the extensions ended without a word"
        )
    if found.get("ok"):
        return True
    return ExtensionLoadError(found["file"], found["line"], found["detail"])


def _report(directory: str, fd: int) -> None:
    """In the check's child: import the extensions, write how it went to ``fd``, exit
    (at once: threads that extension code started are not waited for)."""
    try:
        load_extensions(directory)
        found: dict[str, Any] = {"ok": True}
    except ExtensionLoadError as exc:
        found = {"ok": False, "file": exc.file, "line": exc.line, "detail": exc.detail}
    except BaseException as exc:  # sys.exit() at import time, say
        found = {"ok": False, "file": directory, "line": None, "detail": repr(exc)}
    with os.fdopen(fd, "w") as out:
        json.dump(found, out)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def check_extensions(directory: Path) -> None:
    """Import the extensions in a child process of their own and wait; raises
    :class:`~stack_runtime.core.loader.ExtensionLoadError` when they do not import."""
    outcome = ExtensionCheck(directory).outcome(timeout=None)
    if isinstance(outcome, ExtensionLoadError):
        raise outcome


class Reload:
    """The reload on ``SIGHUP``, step by step (see the module's docstring), for
    :class:`~stack_runtime.server.gunicorn.StackArbiter`, which calls :meth:`step` on each turn of
    its loop (at least every second, and at once on a signal such as a child's exit)."""

    def __init__(self, arbiter: Any, directory: Path) -> None:
        self.arbiter = arbiter
        self.directory = directory
        self.check: ExtensionCheck | None = None
        self.incoming: set[int] = set()
        """The new workers, until every one of them serves."""
        self.outgoing: set[int] = set()
        """The old workers, retired, until every one of them is gone."""
        self.switched = False
        """True from the switch to the new workers until the old ones are gone."""
        self.again = False
        self.started = 0.0
        self.deadline = 0.0

    @property
    def busy(self) -> bool:
        """True from a ``SIGHUP`` until the reload has finished or failed."""
        return self.check is not None or bool(self.incoming) or self.switched

    @property
    def starting(self) -> bool:
        """True while new workers start beside the old ones (no worker is retired then)."""
        return bool(self.incoming)

    def request(self) -> None:
        """``SIGHUP``: check the extensions as on disk now, then switch (or queue it)."""
        if self.incoming or self.switched:
            self.again = True
            return
        if self.check is not None:
            self.check.cancel()
        else:
            self.started = time.monotonic()
        logger.info(kv(logName="reloadStarted", extensions=str(self.directory)))
        self.check = ExtensionCheck(self.directory)
        self.deadline = time.monotonic() + self.arbiter.timeout

    def step(self) -> None:
        """Move the reload on, as far as it can go now."""
        if self.check is not None:
            outcome = self.check.outcome()
            if outcome is None and time.monotonic() > self.deadline:
                self.check.cancel()
                outcome = ExtensionLoadError(
                    str(self.directory), None, f"took over {self.arbiter.timeout:.0f} s to import"
                )
            if outcome is None:
                return
            self.check = None
            if isinstance(outcome, ExtensionLoadError):
                self._failed(outcome.file, outcome.line, outcome.detail)
                return
            self.incoming = {self.arbiter.spawn_worker() for _ in range(self.arbiter.num_workers)}
        if self.incoming:
            workers = self.arbiter.WORKERS
            if not self.incoming <= workers.keys():
                for pid in self.incoming & workers.keys():
                    self.arbiter.retire(pid)
                self.incoming = set()
                self._failed(None, None, "a new worker exited before it served (its log says why)")
                return
            if not all(served(workers[pid]) for pid in self.incoming):
                return
            self.outgoing = set(workers) - self.incoming - self.arbiter.retiring
            for pid in self.outgoing:
                self.arbiter.retire(pid)
            logger.info(
                kv(
                    logName="reloadSwitched",
                    newWorkers=len(self.incoming),
                    retiring=len(self.outgoing),
                )
            )
            self.incoming = set()
            self.switched = True
        if self.switched and not self.outgoing & self.arbiter.WORKERS.keys():
            self.outgoing = set()
            self.switched = False
            seconds = f"{time.monotonic() - self.started:.2f}"
            logger.info(kv(logName="reloadFinished", seconds=seconds))
            self._next()

    def cancel(self) -> None:
        """The host stops: no reload goes on."""
        if self.check is not None:
            self.check.cancel()
            self.check = None
        self.again = False

    def _failed(self, file: str | None, line: int | None, detail: str) -> None:
        """The old workers go on serving the extensions as they loaded them."""
        kept = len(self.arbiter.WORKERS.keys() - self.arbiter.retiring)
        logger.error(
            kv(logName="reloadFailed", file=file, line=line, error=detail, keptWorkers=kept)
        )
        self._next()

    def _next(self) -> None:
        if self.again:
            self.again = False
            self.request()
