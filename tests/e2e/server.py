"""Start the real ``stack-runtime`` command in a subprocess, on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import requests

from ..conftest import stop_process

__all__ = ["RunningServer", "free_port", "start"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RunningServer:
    """A ``stack-runtime`` process and where it listens."""

    def __init__(self, process: subprocess.Popen[str], port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log

    def output(self) -> str:
        return self.log.read_text()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        return stop_process(self.process, sig, timeout)


def start(
    command: str,
    extensions: Path,
    log: Path,
    *,
    token: str | None = "test-token",
    extra: Sequence[str] = (),
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    wait: bool = True,
) -> RunningServer:
    """Run ``stack-runtime <command>`` and wait until ``/healthCheck`` answers."""
    port = free_port()
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("STACK_", "INTEGRATOR_"))
    }
    environment.pop("PORT", None)
    if token is not None:
        environment["INTEGRATOR_EXTENSION_SYSTEM_TOKEN"] = token
    # the test's own idle keep-alive connections need not be waited for when a host stops
    environment["STACK_DRAIN_IDLE_WAIT"] = "0.5"
    environment.update(env or {})
    args = [sys.executable, "-m", "stack_runtime", command, "--extensions", str(extensions)]
    args += ["--port", str(port), "--host", "127.0.0.1", *extra]
    handle = log.open("w")
    process = subprocess.Popen(
        args, stdout=handle, stderr=subprocess.STDOUT, text=True, env=environment, cwd=cwd
    )
    server = RunningServer(process, port, log)
    if wait:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}:\n{server.output()}")
            try:
                if requests.get(server.url + "/healthCheck", timeout=1).status_code == 200:
                    return server
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        server.stop(signal.SIGKILL)
        raise RuntimeError(f"server did not start:\n{server.output()}")
    return server
