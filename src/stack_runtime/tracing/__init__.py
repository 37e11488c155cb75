"""Optional OpenTelemetry tracing of extension calls (the ``otel`` extra).

This package's top imports nothing from OpenTelemetry: :func:`call_tracing` looks
at the environment and imports :mod:`stack_runtime.tracing.otel` only when traces
are asked for, so a host without them pays nothing, not even the import.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..core.logs import kv, logger

if TYPE_CHECKING:
    from .otel import CallTracing

__all__ = ["call_tracing", "tracing_requested"]


def tracing_requested(environ: Mapping[str, str] | None = None) -> bool:
    """Whether OpenTelemetry's own variables ask for traces.

    Yes when ``OTEL_TRACES_EXPORTER`` names an exporter other than ``none``, or, with it
    unset, when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is
    set; never when ``OTEL_SDK_DISABLED`` is ``true``. Read from the real environment only
    (not ``.env``), where OpenTelemetry reads the rest of its settings.
    """
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = {name.strip().lower() for name in env.get("OTEL_TRACES_EXPORTER", "").split(",")}
    exporters.discard("")
    if exporters:
        return exporters != {"none"}
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def call_tracing(*, export_at_once: bool = False) -> CallTracing | None:
    """The tracing asked for by ``OTEL_*`` (:func:`tracing_requested`),
    or ``None``: not asked for, or asked for without the ``otel`` extra installed (then a
    warning says so, and the host serves untraced).

    Raises :class:`~stack_runtime.settings.SettingsError` for an exporter setting that
    cannot be used.
    """
    if not tracing_requested():
        return None
    try:
        from .otel import CallTracing
    except ImportError as exc:
        logger.warning(
            kv(
                logName="tracingUnavailable",
                message="OTEL_* asks for traces, but OpenTelemetry is not installed: "
                "pip install 'stack-runtime[otel]'",
                error=str(exc),
            )
        )
        return None
    return CallTracing(export_at_once=export_at_once)
