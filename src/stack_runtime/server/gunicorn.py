"""``stack-runtime serve``: gunicorn's master in this process, uvicorn workers.

The master imports the host's own code (so the workers fork with it in shared
memory) but never an extension: each worker builds the app, importing the
extensions as they are on disk when it starts, and ``SIGHUP`` brings new code
in new workers without dropping a call (:mod:`stack_runtime.server.reload`).
``serve`` checks that the extensions import before gunicorn starts, so one
that does not stops start-up with its file and line.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.errors import HaltServer

from ..asgi.app import StackApp
from ..asgi.metrics import MetricsPortGuard, gunicorn_hooks
from ..asgi.state import HostState
from ..core.logs import KeptLines, kv, logger
from ..exceptions import ExtensionLoadError
from ..settings import Settings
from .build import build_app
from .cpus import usable_cpus
from .gc import tune_collector
from .reload import RESPAWN_PAUSE, Reload, served

__all__ = ["GunicornHost", "StackArbiter", "gunicorn_options"]


def _note_birth(server: Any, worker: Any) -> None:
    """gunicorn's ``pre_fork`` hook: remember the heartbeat file's time at birth, and
    give the worker a page for the log lines it has not written yet (:class:`KeptLines`)."""
    worker.born = worker.tmp.last_update()
    worker.kept_lines = KeptLines()


class StackArbiter(Arbiter):  # type: ignore[misc]
    """gunicorn's master, with the host's reload, and minus the ways for extension code
    to stop the whole host.

    When it stops the host (SIGTERM, SIGINT, SIGQUIT), it marks the host's state
    as stopping before it signals the workers: a worker that drains then stops
    the listening socket itself, for every process that holds it (see
    :mod:`stack_runtime.server.worker`).

    ``SIGHUP`` starts a :class:`~stack_runtime.server.reload.Reload` instead of gunicorn's
    own (which would read its settings again and, in its last step, wait up to the
    graceful timeout without tending to the workers). A worker is retired (sent
    SIGTERM to drain) once, and counts no more among the host's workers, so a
    replacement starts at once and a drain is never cut short by a second signal.

    gunicorn halts when a worker exits with its boot-failure codes (3 or 4), to
    avoid a start-stop loop. That holds while the host starts (no worker has served
    yet: the extensions stopped importing since ``serve`` checked them, say). Once a
    worker has served, one that exits with those codes is replaced instead: a worker
    that had served did not fail to boot (extension code called ``os._exit(3)``),
    and one that never served failed on extensions that no longer import, which the
    host survives (a reload's new worker ends that reload, and any other is started
    again after :data:`~stack_runtime.server.reload.RESPAWN_PAUSE` seconds, logged as
    ``workerNotStarted``).

    A worker that is gone may have left log lines it kept for a later write
    (:class:`~stack_runtime.core.logs.KeptLines`): the master writes them, then a
    ``keptLinesWritten`` warning with the worker's pid.
    """

    def __init__(self, app: GunicornHost) -> None:
        super().__init__(app)
        self.retiring: set[int] = set()
        """Workers sent SIGTERM to drain, until they are gone."""
        self.reloads = Reload(self, app.settings.extensions_dir)
        self.has_served = False
        """True once any worker of this host has served."""
        self.spawn_after = 0.0

    def handle_hup(self) -> None:
        """SIGHUP: the extensions as they are on disk now, in new workers."""
        self.log.info("Hang up: %s", self.master_name)
        self.reloads.request()

    def wait_for_signals(self, timeout: float = 1.0) -> list[int]:
        """gunicorn's wait between two turns of its loop, 0.1 s at most while a reload
        goes on (nothing signals the master when a new worker starts to serve)."""
        if self.reloads.busy:
            timeout = min(timeout, 0.1)
        signals: list[int] = super().wait_for_signals(timeout)
        return signals

    def retire(self, pid: int) -> None:
        """Send worker ``pid`` SIGTERM to drain (once), and count it no more."""
        if pid not in self.retiring:
            self.retiring.add(pid)
            self.kill_worker(pid, signal.SIGTERM)

    def manage_workers(self) -> None:
        """Move a reload on; start the workers missing, retire the ones too many."""
        self.retiring &= self.WORKERS.keys()
        if not self.has_served:
            self.has_served = any(served(worker) for worker in self.WORKERS.values())
        self.reloads.step()
        if self.reloads.starting:  # the old workers serve beside the new until these serve
            return
        ages = sorted((w.age, pid) for pid, w in self.WORKERS.items() if pid not in self.retiring)
        missing = self.num_workers - len(ages)
        if missing > 0 and time.monotonic() >= self.spawn_after:
            for _ in range(missing):
                self.spawn_worker()
        for _, pid in ages[: max(0, -missing)]:  # the oldest first
            self.retire(pid)

    def stop(self, graceful: bool = True) -> None:
        """Stop the host: note it in the host's state first, for the workers' drain."""
        self.reloads.cancel()
        self.app.state.mark_stopping()
        super().stop(graceful)

    def reap_workers(self) -> None:
        before = dict(self.WORKERS)
        had_served = {pid for pid, worker in before.items() if served(worker)}
        self.has_served = self.has_served or bool(had_served)
        try:
            self._reap_workers(had_served)
        finally:
            gone = before.keys() - self.WORKERS.keys()
            for pid in gone:
                _write_kept_lines(before[pid])
            unborn = gone - had_served - self.retiring - self.reloads.incoming
            if unborn and self.has_served:
                self.spawn_after = time.monotonic() + RESPAWN_PAUSE
                logger.error(
                    kv(
                        logName="workerNotStarted",
                        pids=",".join(map(str, sorted(unborn))),
                        retryInSeconds=f"{RESPAWN_PAUSE:g}",
                        workers=len(self.WORKERS.keys() - self.retiring),
                    )
                )

    def _reap_workers(self, had_served: set[int]) -> None:
        before = dict(self.WORKERS)
        try:
            super().reap_workers()
        except HaltServer as exc:
            gone = before.keys() - self.WORKERS.keys()
            boot_codes = (self.WORKER_BOOT_ERROR, self.APP_LOAD_ERROR)
            if exc.exit_status not in boot_codes or not gone:
                raise
            if not gone <= had_served and not self.has_served:
                raise  # the host is starting: stop, rather than start workers again and again
            for pid in gone:  # gunicorn raised before it tidied up after the last one
                worker = before[pid]
                try:
                    worker.tmp.fileno()
                except ValueError:  # closed: tidied up
                    continue
                worker.tmp.close()
                self.cfg.child_exit(self, worker)
            if gone <= had_served:
                self.log.error(
                    "A worker that had been serving exited with code %s; replacing it",
                    exc.exit_status,
                )
            self._reap_workers(had_served)


def _write_kept_lines(worker: Any) -> None:
    """Write the log lines a worker that is gone had kept and not written (then free the page)."""
    kept = getattr(worker, "kept_lines", None)
    if not isinstance(kept, KeptLines):
        return
    lines = kept.take()
    kept.close()
    if lines:
        sys.stderr.write(lines.decode("utf-8", "replace"))
        sys.stderr.flush()
        logger.warning(kv(logName="keptLinesWritten", pid=worker.pid, lines=lines.count(b"\n")))


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """gunicorn settings for a server stack host.

    - ``workers``: ``--workers``, or one per CPU the process may use (its affinity and
      its container's CPU quota: :func:`~stack_runtime.server.cpus.usable_cpus`).
    - ``keepalive`` 301 s: idle connections outlive a load balancer's (nginx's
      upstream keep-alive is the shorter one), as in the reference.
    - ``graceful_timeout``: a drain waits for the longest call (``call_timeout``)
      plus a margin before workers are killed.
    - ``timeout``: a worker whose event loop is stuck past the call limit is replaced.
    - the control socket is off: several hosts on one machine would share it.
    - the worker class drains without losing calls (:mod:`stack_runtime.server.worker`).
    - ``--metrics-port`` adds a second listening address for ``GET /metrics``.
    """
    workers = settings.workers or usable_cpus()
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    bind = [f"{host}:{settings.port}"]
    if settings.metrics_port:
        bind.append(f"{host}:{settings.metrics_port}")
    return {
        "bind": bind,
        "workers": workers,
        "worker_class": "stack_runtime.server.worker.StackWorker",
        "keepalive": settings.keepalive,
        "graceful_timeout": settings.graceful_timeout,
        "timeout": settings.graceful_timeout,
        "preload_app": False,  # each worker imports the extensions (see this module's docstring)
        "control_socket_disable": True,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": settings.log_level,
        "proc_name": "stack-runtime",
        "pre_fork": _note_birth,
    }


class GunicornHost(BaseApplication):  # type: ignore[misc]
    """gunicorn embedded: options from :func:`gunicorn_options`; each worker builds the app.

    ``state`` is made in the master, before any worker forks, so that every worker
    of the host shares it. ``metrics_dir`` is the host's multiprocess metrics
    directory: gunicorn's hooks drop a dead worker's gauges from it and remove it
    when the host exits.
    """

    def __init__(
        self, settings: Settings, state: HostState, metrics_dir: Path | None = None
    ) -> None:
        self.settings = settings
        """Read by the workers (:class:`~stack_runtime.server.worker.StackWorker`)."""
        self.state = state
        self.metrics_dir = metrics_dir
        self.options = gunicorn_options(settings)
        if metrics_dir is not None:
            self.options.update(gunicorn_hooks(metrics_dir))
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> StackApp | MetricsPortGuard:
        """In a worker: build the app, the extensions imported as they are on disk now.

        Extensions that do not import end the worker with gunicorn's ``APP_LOAD_ERROR``
        after an ``extensionsNotLoaded`` line with the file and line (see
        :class:`StackArbiter` for what the master does then).
        """
        settings = self.settings
        try:
            app = build_app(settings, self.state, self.metrics_dir)
        except ExtensionLoadError as exc:
            logger.error(
                kv(
                    logName="extensionsNotLoaded",
                    pid=os.getpid(),
                    file=exc.file,
                    line=exc.line,
                    error=exc.detail,
                )
            )
            sys.exit(Arbiter.APP_LOAD_ERROR)
        tune_collector()  # the extensions too, out of the full collections' sight
        return MetricsPortGuard(app, settings.metrics_port) if settings.metrics_port else app

    def run(self) -> None:
        """Run gunicorn's master (:class:`StackArbiter`) until the host stops."""
        try:
            StackArbiter(self).run()
        except RuntimeError as exc:
            print(f"\nError: {exc}\n", file=sys.stderr)
            sys.exit(1)
