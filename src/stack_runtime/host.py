"""Build a ready host from settings: extensions loaded, dispatcher, ASGI app."""

from __future__ import annotations

from .app import StackApp
from .auth import TokenChecker
from .dispatcher import Dispatcher
from .loader import load_extensions
from .pool import CallPool
from .settings import Settings
from .state import HostState

__all__ = ["build_app"]


def build_app(settings: Settings, state: HostState | None = None) -> StackApp:
    """Import the extensions in ``settings.extensions_dir`` and build the ASGI app.

    Raises :class:`~stack_runtime.loader.ExtensionLoadError` when an extension
    cannot be imported. The thread pool for ``def`` functions starts empty and
    grows to ``settings.threads`` threads as calls arrive (after any fork).
    """
    extensions = load_extensions(settings.extensions_dir)
    executor = CallPool(max_workers=settings.threads, thread_name_prefix="extension")
    dispatcher = Dispatcher(extensions, executor=executor, call_timeout=settings.call_timeout)
    return StackApp(dispatcher, TokenChecker(settings.system_tokens), state)
