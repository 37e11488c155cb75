"""``stack-runtime dev``: a made-up token, reloads on change, and checks before it serves."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

from ..conftest import FIXTURES, stop_process
from .commands import STACK_RUNTIME, clean_environment, stack_runtime
from .server import start


def wait_for(predicate: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_dev_makes_up_a_token_and_reloads(tmp_path: Path) -> None:
    extensions = tmp_path / "extensions"
    shutil.copytree(FIXTURES / "single_module", extensions)
    running = start("dev", extensions, tmp_path / "log", token=None, cwd=tmp_path)
    try:
        match = re.search(r"using this token:\s+(\S+)", running.output())
        assert match, running.output()
        token = match.group(1)

        def flat() -> requests.Response:
            return requests.post(
                running.url + "/function",
                json={"diy": True, "function": "flat", "options": {}},
                headers={"Authorization": f"Bearer {token}"},
                timeout=5,
            )

        assert flat().json() == "single"
        source = extensions / "diy.py"
        source.write_text(source.read_text().replace('return "single"', 'return "changed"'))

        def changed() -> bool:
            try:
                return bool(flat().json() == "changed")
            except requests.ConnectionError:
                return False

        wait_for(changed)
    finally:
        running.stop()


def test_dev_without_an_extensions_folder_says_so_and_serves_nothing(tmp_path: Path) -> None:
    """In a folder without ``extensions/``: one line saying so, exit 1, never "serving"."""
    result = stack_runtime("dev", "--port", "0", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert lines == [
        "stack-runtime dev: cannot load extensions: extensions: extensions folder not found "
        "(stack-runtime init makes one)"
    ], lines


def test_dev_on_a_port_in_use_says_so_and_serves_nothing(tmp_path: Path) -> None:
    """Another process listens on the port: one line naming it, exit 1, never "serving"."""
    shutil.copytree(FIXTURES / "single_module", tmp_path / "extensions")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = stack_runtime("dev", "--port", str(port), cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert lines == [
        f"stack-runtime dev: cannot listen on 127.0.0.1:{port}: address already in use "
        "(--port or PORT chooses another port)"
    ], lines


def test_dev_says_it_serves_once_it_listens(tmp_path: Path) -> None:
    """``--port 0``: the port is known only once bound, and the line gives the bound one."""
    shutil.copytree(FIXTURES / "single_module", tmp_path / "extensions")
    log = tmp_path / "log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(STACK_RUNTIME), "dev", "--port", "0"],
            cwd=tmp_path,
            env=clean_environment(INTEGRATOR_EXTENSION_SYSTEM_TOKEN="t"),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        pattern = r"stack-runtime dev: serving extensions on http://127\.0\.0\.1:(\d+)\n"
        wait_for(lambda: re.search(pattern, log.read_text()) or process.poll() is not None)
        match = re.search(pattern, log.read_text())
        assert match, log.read_text()
        port = int(match.group(1))
        assert port != 0
        health = requests.get(f"http://127.0.0.1:{port}/healthCheck", timeout=5)
        assert health.json() == {"success": True}
    finally:
        assert stop_process(process, signal.SIGINT, 30) == 0, log.read_text()
