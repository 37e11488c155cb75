"""Run the installed ``stack-runtime`` command the way a user types it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["clean_environment", "stack_runtime", "STACK_RUNTIME"]

#: The console script pip installed next to this Python.
STACK_RUNTIME = Path(sys.executable).parent / "stack-runtime"


def clean_environment(**extra: str) -> dict[str, str]:
    """The environment without the host's own variables, plus ``extra``."""
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("STACK_", "INTEGRATOR_"))
    }
    environment.pop("PORT", None)
    environment.update(extra)
    return environment


def stack_runtime(
    *args: str,
    cwd: Path | None = None,
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[bytes]:
    """``stack-runtime ARGS...`` as a subprocess; its exit status, stdout and stderr."""
    assert STACK_RUNTIME.is_file(), f"the stack-runtime command is not installed: {STACK_RUNTIME}"
    return subprocess.run(
        [str(STACK_RUNTIME), *args],
        cwd=cwd,
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env=env if env is not None else clean_environment(),
        timeout=timeout,
        check=False,
    )
