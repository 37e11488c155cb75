"""Configuration: read once at start-up, validated, then frozen.

Precedence, highest first: command-line flags, the real environment, a ``.env``
file in the working directory, defaults. Nothing here writes to ``os.environ``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

__all__ = ["Settings", "SettingsError", "load_settings", "ENV", "MAX_BODY_BYTES"]

#: Largest request body accepted, as the reference's ``bodyParser.json({limit: '50mb'})``.
MAX_BODY_BYTES = 50 * 1024 * 1024

#: Environment variable for each setting that has one.
ENV: Mapping[str, str] = {
    "system_token": "INTEGRATOR_EXTENSION_SYSTEM_TOKEN",
    "previous_system_token": "INTEGRATOR_EXTENSION_SYSTEM_TOKEN_PREVIOUS",
    "extensions_dir": "STACK_EXTENSIONS_DIR",
    "port": "PORT",
    "host": "STACK_HOST",
    "workers": "STACK_WORKERS",
    "threads": "STACK_THREADS",
    "direct_path": "STACK_DIRECT_PATH",
    "call_timeout": "STACK_CALL_TIMEOUT",
    "blocked_loop": "STACK_BLOCKED_LOOP",
    "log_level": "STACK_LOG_LEVEL",
    "metrics_port": "STACK_METRICS_PORT",
    "drain_delay": "STACK_DRAIN_DELAY",
    "drain_idle_wait": "STACK_DRAIN_IDLE_WAIT",
}

_LOG_LEVELS = ("debug", "info", "warning", "error")


class SettingsError(ValueError):
    """A setting is missing or has a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    """Every setting the host runs with. Build it with :func:`load_settings`."""

    extensions_dir: Path = Path("extensions")
    host: str = "0.0.0.0"
    port: int = 8080
    workers: int = 0
    """gunicorn worker processes; 0 means one per CPU."""
    threads: int = 64
    """Threads per worker for ``def`` functions: calls that wait on I/O hold one each."""
    direct_path: bool = True
    """Answer ``POST /function`` in the HTTP protocol itself (protocol.py); false: uvicorn's."""
    call_timeout: float = 300.0
    """Seconds a call may run before it is answered with ``function_timeout``."""
    blocked_loop: float = 0.1
    """Seconds the event loop may go without turning before ``eventLoopBlocked`` is logged."""
    system_tokens: tuple[str, ...] = ()
    """Accepted system tokens: the current one, then the previous one during a rotation."""
    log_level: str = "info"
    metrics_port: int = 0
    """A second port that answers ``GET /metrics`` without the token; 0: none."""
    drain_delay: float = 30.0
    """Seconds a host told to drain by ``/openConnections?terminate=true`` keeps listening."""
    drain_idle_wait: float = 20.0
    """Seconds after its last call a draining worker leaves idle keep-alive connections for
    the balancer to close, before it closes them itself."""

    @property
    def keepalive(self) -> int:
        """Idle keep-alive seconds: longer than a load balancer's, as the reference's 301 s."""
        return 301

    @property
    def graceful_timeout(self) -> int:
        """Whole seconds a draining worker may take: the longest call plus a margin."""
        return math.ceil(self.call_timeout) + 15

    def with_tokens(self, *tokens: str) -> Settings:
        """A copy with ``tokens`` as the accepted system tokens."""
        return replace(self, system_tokens=tuple(t for t in tokens if t))


def _number(name: str, raw: Any, kind: type[int] | type[float], minimum: float) -> Any:
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _flag(name: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def load_settings(
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    dotenv_path: str | os.PathLike[str] | None = ".env",
    defaults: Settings | None = None,
) -> Settings:
    """Merge flags > environment > ``.env`` > defaults into one :class:`Settings`.

    ``flags`` maps setting names (``port``, ``extensions_dir``, ...) to values;
    ``None`` values count as not given. ``defaults`` replaces the built-in
    defaults (the dev server listens on loopback by default, say).
    """
    env = os.environ if environ is None else environ
    dotenv: Mapping[str, str | None] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        dotenv = dotenv_values(dotenv_path)
    given = {k: v for k, v in (flags or {}).items() if v is not None}

    def pick(name: str) -> Any:
        if name in given:
            return given[name]
        var = ENV.get(name)
        if var is not None:
            if env.get(var):
                return env[var]
            if dotenv.get(var):
                return dotenv[var]
        return None

    defaults = defaults or Settings()
    values: dict[str, Any] = {}
    if (raw := pick("extensions_dir")) is not None:
        values["extensions_dir"] = Path(raw)
    if (raw := pick("host")) is not None:
        values["host"] = str(raw)
    if (raw := pick("port")) is not None:
        port = _number("port (--port or PORT)", raw, int, 0)
        if port > 65535:
            raise SettingsError(f"port (--port or PORT) must be at most 65535, got {raw!r}")
        values["port"] = port
    if (raw := pick("workers")) is not None:
        values["workers"] = _number("workers (--workers or STACK_WORKERS)", raw, int, 0)
    if (raw := pick("threads")) is not None:
        values["threads"] = _number("threads (--threads or STACK_THREADS)", raw, int, 1)
    if (raw := pick("direct_path")) is not None:
        values["direct_path"] = _flag("direct path (--direct-path or STACK_DIRECT_PATH)", raw)
    if (raw := pick("call_timeout")) is not None:
        values["call_timeout"] = _number(
            "call timeout (--call-timeout or STACK_CALL_TIMEOUT)", raw, float, 0.001
        )
    if (raw := pick("blocked_loop")) is not None:
        values["blocked_loop"] = _number(
            "blocked loop (--blocked-loop or STACK_BLOCKED_LOOP)", raw, float, 0.01
        )
    if (raw := pick("metrics_port")) is not None:
        metrics_port = _number("metrics port (--metrics-port or STACK_METRICS_PORT)", raw, int, 0)
        if metrics_port > 65535:
            raise SettingsError(f"metrics port must be at most 65535, got {raw!r}")
        values["metrics_port"] = metrics_port
    for name, flag in (("drain_delay", "--drain-delay"), ("drain_idle_wait", "--drain-idle-wait")):
        if (raw := pick(name)) is not None:
            values[name] = _number(f"{flag} or {ENV[name]}", raw, float, 0)
    if (raw := pick("log_level")) is not None:
        level = str(raw).lower()
        if level not in _LOG_LEVELS:
            raise SettingsError(f"log level must be one of {', '.join(_LOG_LEVELS)}, got {raw!r}")
        values["log_level"] = level
    tokens = tuple(t for t in (pick("system_token"), pick("previous_system_token")) if t)
    values["system_tokens"] = tokens
    settings = replace(defaults, **values)
    if settings.metrics_port and settings.metrics_port == settings.port:
        raise SettingsError(f"the metrics port must differ from the port, both are {settings.port}")
    return settings
