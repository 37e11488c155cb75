"""``stack-runtime dev``: one process, restarted whenever an extension file changes."""

from __future__ import annotations

import sys

import uvicorn
import watchfiles

from .host import build_app
from .loader import ExtensionLoadError
from .logs import configure_logging, logger
from .settings import Settings

__all__ = ["run_dev", "serve_once"]


def serve_once(settings: Settings) -> None:
    """Load the extensions and serve until stopped (the body of each restart)."""
    configure_logging(settings.log_level)
    try:
        app = build_app(settings)
    except ExtensionLoadError as exc:
        logger.error(f"logName=extensionLoadFailed, error={exc}")
        print(
            f"stack-runtime dev: {exc}\nWaiting for a change to the extensions...", file=sys.stderr
        )
        return
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=settings.keepalive,
    )


def run_dev(settings: Settings) -> None:
    """Serve and reload on every change under the extensions folder."""
    watchfiles.run_process(
        settings.extensions_dir,
        target=serve_once,
        args=(settings,),
        watch_filter=watchfiles.PythonFilter(),
        callback=lambda changes: logger.warning(
            "logName=reloading, changed=%s", " ".join(sorted({p for _, p in changes}))
        ),
    )
