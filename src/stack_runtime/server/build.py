"""Build a ready host from settings: extensions loaded, dispatcher, ASGI app."""

from __future__ import annotations

from pathlib import Path

from ..asgi.app import StackApp
from ..asgi.auth import TokenChecker
from ..asgi.metrics import CallMetrics, metrics_endpoint
from ..asgi.state import HostState
from ..core.dispatcher import Dispatcher
from ..core.loader import load_extensions
from ..core.pool import CallPool
from ..core.watchdog import LoopWatchdog
from ..settings import Settings
from ..tracing import call_tracing

__all__ = ["build_app"]


def build_app(
    settings: Settings, state: HostState | None = None, metrics_dir: Path | None = None
) -> StackApp:
    """Import the extensions in ``settings.extensions_dir`` and build the ASGI app.

    Raises :class:`~stack_runtime.core.loader.ExtensionLoadError` when an extension
    cannot be imported. The thread pool for ``def`` functions starts empty and
    grows to ``settings.threads`` threads as calls arrive (after any fork); see
    :class:`~stack_runtime.core.pool.CallPool`. ``metrics_dir`` is the
    per-host directory of prometheus-client's multiprocess mode (``None``: the
    metrics of this process only). When ``OTEL_*`` asks for traces, the dispatcher
    and the app are the traced ones of :mod:`stack_runtime.tracing.otel`.
    """
    extensions = load_extensions(settings.extensions_dir)
    executor = CallPool(settings.threads, stuck_after=settings.call_timeout)
    metrics = CallMetrics(metrics_dir)
    if state is None:
        state = HostState(settings.drain_delay, settings.drain_idle_wait)
    tokens = TokenChecker(settings.system_tokens)
    tracing = call_tracing()
    if tracing is None:  # the usual host: nothing of tracing on the call path
        dispatcher = Dispatcher(
            extensions, executor=executor, call_timeout=settings.call_timeout, metrics=metrics
        )
        app = StackApp(dispatcher, tokens, state)
    else:
        from ..tracing.otel import TracedDispatcher, TracedStackApp

        traced = TracedDispatcher(
            extensions,
            executor=executor,
            call_timeout=settings.call_timeout,
            metrics=metrics,
            tracing=tracing,
        )
        app = TracedStackApp(traced, tokens, state)
    app.watchdog = LoopWatchdog(settings.blocked_loop, metrics.loop_blocked)
    open_port = settings.metrics_port or None
    app.router.add_route("/metrics", metrics_endpoint(metrics, tokens, open_port), ["GET"])
    return app
