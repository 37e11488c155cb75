"""The Lambda stack's settings, read once from the function's environment.

Lambda functions are configured with environment variables only (no flags, no
``.env`` file). The extensions folder is ``extensions/`` at the root of the
deployment package (``$LAMBDA_TASK_ROOT``) unless ``STACK_EXTENSIONS_DIR``
says otherwise; a relative ``STACK_EXTENSIONS_DIR`` is read from the package
root too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LambdaConfig", "LambdaConfigError"]

_LOG_LEVELS = ("debug", "info", "warning", "error")


class LambdaConfigError(ValueError):
    """An environment variable of the function has a value that cannot be used."""


@dataclass(frozen=True)
class LambdaConfig:
    """Everything the Lambda handler runs with. Build it with :meth:`from_environ`."""

    extensions_dir: Path
    system_tokens: tuple[str, ...] = ()
    """Tokens accepted on HTTP events; direct invokes are guarded by IAM instead."""
    log_level: str = "info"
    call_timeout: float | None = None
    """Seconds an ``async`` call may run; ``None`` leaves it to the function's timeout."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> LambdaConfig:
        """Read ``STACK_EXTENSIONS_DIR``, the system tokens, ``STACK_LOG_LEVEL`` and
        ``STACK_CALL_TIMEOUT`` from ``environ`` (default: the process environment)."""
        env = os.environ if environ is None else environ
        root = Path(env.get("LAMBDA_TASK_ROOT") or ".")
        extensions = root / (env.get("STACK_EXTENSIONS_DIR") or "extensions")
        tokens = tuple(
            t
            for t in (
                env.get("INTEGRATOR_EXTENSION_SYSTEM_TOKEN"),
                env.get("INTEGRATOR_EXTENSION_SYSTEM_TOKEN_PREVIOUS"),
            )
            if t
        )
        level = (env.get("STACK_LOG_LEVEL") or "info").lower()
        if level not in _LOG_LEVELS:
            raise LambdaConfigError(
                f"STACK_LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}, got {level!r}"
            )
        timeout: float | None = None
        if raw := env.get("STACK_CALL_TIMEOUT"):
            try:
                timeout = float(raw)
            except ValueError:
                raise LambdaConfigError(
                    f"STACK_CALL_TIMEOUT must be a number, got {raw!r}"
                ) from None
            if not timeout > 0:
                raise LambdaConfigError(f"STACK_CALL_TIMEOUT must be above 0, got {raw!r}")
        return cls(extensions, tokens, level, timeout)
