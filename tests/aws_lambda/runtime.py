"""Run a real Lambda runtime process (AWS's runtime client) against the emulator."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..conftest import stop_process
from .emulator import Answer, RuntimeApiEmulator

__all__ = ["ENTRY", "PLAIN_RIC", "LambdaRuntime", "lambda_environment"]

HANDLER = "stack_runtime.aws_lambda.handler"
#: stack-runtime's entry point: AWS's runtime client that keeps the client context.
ENTRY = (sys.executable, "-m", "stack_runtime.aws_lambda", HANDLER)
#: AWS's runtime client alone, as a managed runtime starts it.
PLAIN_RIC = (sys.executable, "-m", "awslambdaric", HANDLER)


def lambda_environment(emulator: RuntimeApiEmulator, **extra: str) -> dict[str, str]:
    """The process environment of a runtime inside Lambda, pointed at ``emulator``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STACK_", "INTEGRATOR_", "AWS_", "LAMBDA_", "_HANDLER", "PYTHON"))
    }
    env.update(
        AWS_LAMBDA_RUNTIME_API=emulator.address,
        AWS_LAMBDA_FUNCTION_NAME="stack-runtime-test",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="512",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_REGION="us-east-1",
        _HANDLER=HANDLER,
    )
    env.update(extra)
    return env


class LambdaRuntime:
    """An emulator and one runtime process polling it; use as a context manager."""

    def __init__(
        self,
        log: Path,
        *,
        extensions: Path | None = None,
        command: Sequence[str] = ENTRY,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.emulator = RuntimeApiEmulator().__enter__()
        extra = dict(env or {})
        if extensions is not None:
            extra.setdefault("STACK_EXTENSIONS_DIR", str(extensions))
        self.log = log
        self._log_file = log.open("w")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            list(command),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=lambda_environment(self.emulator, **extra),
            cwd=cwd,
        )

    def __enter__(self) -> LambdaRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")

    def _wait(self, ready: Any, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = ready()
            if value is not None:
                return value
            if self.process.poll() is not None:
                value = ready()
                if value is not None:
                    return value
                raise RuntimeError(
                    f"runtime exited with {self.process.returncode}:\n{self.output()}"
                )
            time.sleep(0.01)
        raise TimeoutError(f"runtime did not answer within {timeout} s:\n{self.output()}")

    def invoke(
        self,
        event: Any = None,
        client_context: Mapping[str, Any] | None = None,
        *,
        raw_event: bytes | None = None,
        raw_client_context: str | None = None,
        timeout: float = 60,
    ) -> Answer:
        """Invoke the function as Lambda's Invoke API would, and return the runtime's answer."""
        request_id = self.emulator.submit(
            event, client_context, raw_event=raw_event, raw_client_context=raw_client_context
        )
        return self._wait(lambda: self.emulator.answer(request_id), timeout)  # type: ignore[no-any-return]

    def init_error(self, timeout: float = 60) -> Answer:
        """The init error the runtime posted before exiting."""

        def posted() -> Answer | None:
            return None if self.emulator.init_errors.empty() else self.emulator.init_errors.get()

        return self._wait(posted, timeout)  # type: ignore[no-any-return]

    def exit_code(self, timeout: float = 30) -> int:
        return self.process.wait(timeout)

    def stop(self) -> None:
        stop_process(self.process, signal.SIGTERM, 10)
        self._log_file.close()
        self.emulator.close()
