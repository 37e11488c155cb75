"""The Lambda stack's settings, read once from the function's environment.

Lambda functions are configured with environment variables only (no flags, no
``.env`` file): the settings of :data:`stack_runtime.settings.SETTINGS` that
Lambda reads, checked as the commands check them. The extensions folder is
``extensions/`` at the root of the deployment package (``$LAMBDA_TASK_ROOT``)
unless ``STACK_EXTENSIONS_DIR`` says otherwise; a relative
``STACK_EXTENSIONS_DIR`` is read from the package root too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..settings import read_settings, system_tokens

__all__ = ["LambdaConfig"]


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
        """Read the settings Lambda reads from ``environ`` (default: the process
        environment); raises :class:`~stack_runtime.settings.SettingsError` naming the
        variable whose value cannot be used."""
        env = os.environ if environ is None else environ
        values = read_settings("lambda", environ=env, dotenv_path=None)
        return cls(
            extensions_dir=Path(env.get("LAMBDA_TASK_ROOT") or ".") / values["extensions_dir"],
            system_tokens=system_tokens(values),
            log_level=values["log_level"],
            call_timeout=values["call_timeout"],
        )
