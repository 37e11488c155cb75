"""``stack-runtime dev``: a made-up token, and reloads on change."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import requests

from ..conftest import FIXTURES
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
