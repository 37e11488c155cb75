"""``stack-runtime serve``: gunicorn's master in this process, uvicorn workers.

The app (and with it every extension) is built before gunicorn starts, so an
extension that fails to import stops start-up with its file and line, and the
workers fork with the extensions already imported.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.errors import HaltServer

from .app import StackApp
from .cpus import usable_cpus
from .logs import KeptLines, kv, logger
from .metrics import MetricsPortGuard, gunicorn_hooks
from .settings import Settings
from .state import HostState

__all__ = ["GunicornHost", "StackArbiter", "gunicorn_options"]


def _note_birth(server: Any, worker: Any) -> None:
    """gunicorn's ``pre_fork`` hook: remember the heartbeat file's time at birth, and
    give the worker a page for the log lines it has not written yet (:class:`KeptLines`)."""
    worker.born = worker.tmp.last_update()
    worker.kept_lines = KeptLines()


class StackArbiter(Arbiter):  # type: ignore[misc]
    """gunicorn's master, minus one way for extension code to stop the whole host.

    When it stops the host (SIGTERM, SIGINT, SIGQUIT), it marks the host's state
    as stopping before it signals the workers: a worker that drains then stops
    the listening socket itself, for every process that holds it (see
    :mod:`stack_runtime.worker`).

    gunicorn halts when a worker exits with its boot-failure codes (3 or 4), to
    avoid a start-stop loop. A worker that has served (its heartbeat moved
    since birth) and then exits with one of those codes did not fail to boot:
    extension code called ``os._exit(3)``. That worker is replaced like any
    other that died.

    A worker that is gone may have left log lines it kept for a later write
    (:class:`~stack_runtime.logs.KeptLines`): the master writes them, then a
    ``keptLinesWritten`` warning with the worker's pid.
    """

    def stop(self, graceful: bool = True) -> None:
        """Stop the host: note it in the host's state first, for the workers' drain."""
        state = getattr(self.app.application, "state", None)
        if isinstance(state, HostState):
            state.mark_stopping()
        super().stop(graceful)

    def reap_workers(self) -> None:
        before = dict(self.WORKERS)
        try:
            self._reap_workers()
        finally:
            for pid, worker in before.items():
                if pid not in self.WORKERS:
                    _write_kept_lines(worker)

    def _reap_workers(self) -> None:
        served = {
            pid
            for pid, worker in self.WORKERS.items()
            if worker.tmp.last_update() != getattr(worker, "born", None)
        }
        try:
            super().reap_workers()
        except HaltServer as exc:
            gone = served - set(self.WORKERS)
            boot_codes = (self.WORKER_BOOT_ERROR, self.APP_LOAD_ERROR)
            if exc.exit_status not in boot_codes or not gone or not gone <= served:
                raise
            self.log.error(
                "A worker that had been serving exited with code %s; replacing it",
                exc.exit_status,
            )
            self._reap_workers()


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
      its container's CPU quota: :func:`~stack_runtime.cpus.usable_cpus`).
    - ``keepalive`` 301 s: idle connections outlive a load balancer's (nginx's
      upstream keep-alive is the shorter one), as in the reference.
    - ``graceful_timeout``: a drain waits for the longest call (``call_timeout``)
      plus a margin before workers are killed.
    - ``timeout``: a worker whose event loop is stuck past the call limit is replaced.
    - the control socket is off: several hosts on one machine would share it.
    - the worker class drains without losing calls (:mod:`stack_runtime.worker`).
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
        "worker_class": "stack_runtime.worker.StackWorker",
        "keepalive": settings.keepalive,
        "graceful_timeout": settings.graceful_timeout,
        "timeout": settings.graceful_timeout,
        "preload_app": True,
        "control_socket_disable": True,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": settings.log_level,
        "proc_name": "stack-runtime",
        "pre_fork": _note_birth,
    }


class GunicornHost(BaseApplication):  # type: ignore[misc]
    """gunicorn embedded: options from :func:`gunicorn_options`, the prebuilt app.

    ``metrics_dir`` is the host's multiprocess metrics directory: gunicorn's
    hooks drop a dead worker's gauges from it and remove it when the host exits.
    """

    def __init__(self, app: StackApp, settings: Settings, metrics_dir: Path | None = None) -> None:
        self.settings = settings
        """Read by the workers (:class:`~stack_runtime.worker.StackWorker`)."""
        self.application: StackApp | MetricsPortGuard = app
        if settings.metrics_port:
            self.application = MetricsPortGuard(app, settings.metrics_port)
        self.options = gunicorn_options(settings)
        if metrics_dir is not None:
            self.options.update(gunicorn_hooks(metrics_dir))
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> StackApp | MetricsPortGuard:
        return self.application

    def run(self) -> None:
        """Run gunicorn's master (:class:`StackArbiter`) until the host stops."""
        try:
            StackArbiter(self).run()
        except RuntimeError as exc:
            print(f"\nError: {exc}\n", file=sys.stderr)
            sys.exit(1)
