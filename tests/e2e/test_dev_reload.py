"""``stack-runtime dev`` survives an author's mistakes and logs every call readably."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from .server import RunningServer, start

TOKEN = "dev-token"

GOOD = """\
def preMap(options):
    return [{"data": dict(r, version=VERSION)} for r in options["data"]]


def explode(options):
    raise LookupError("no such contact")


VERSION = {version}
"""


def good(version: int) -> str:
    return GOOD.replace("{version}", str(version))


def make_tree(root: Path, hooks: str) -> Path:
    diy = root / "extensions" / "diy"
    diy.mkdir(parents=True)
    (diy / "__init__.py").write_text("def flat(options):\n    return 'flat'\n")
    (diy / "hooks.py").write_text(hooks)
    return root / "extensions"


def call(server: RunningServer, function: str, type_: str | None = "hook") -> requests.Response:
    envelope: dict[str, Any] = {"diy": True, "function": function, "options": {"data": [{}]}}
    if type_:
        envelope["type"] = type_
    return requests.post(
        server.url + "/function",
        json=envelope,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )


def wait_until(check: Callable[[], bool], server: RunningServer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"condition not met; log:\n{server.output()}")


def first_error(response: requests.Response) -> dict[str, Any]:
    errors: list[dict[str, Any]] = response.json()["errors"]
    return errors[0]


def test_a_bad_save_keeps_the_server_up_until_the_next_good_one(tmp_path: Path) -> None:
    """1. serve good code; 2. a syntax error; 3. a failing import; 4. good code again.

    Between the saves the same process keeps the port: every call gets the 422
    ``extension_load_failed`` naming the file and line, which the log shows too.
    """
    extensions = make_tree(tmp_path, good(1))
    hooks = extensions / "diy" / "hooks.py"
    server = start("dev", extensions, tmp_path / "log", token=TOKEN, cwd=tmp_path)
    try:
        # 1. good code: results, and one readable log line per call
        assert call(server, "preMap").json() == [{"data": {"version": 1}}]

        # 2. a syntax error on line 3
        hooks.write_text("def preMap(options):\n    return 1\ndef broken(:\n")

        def load_failed() -> bool:
            response = call(server, "preMap")
            return response.status_code == 422 and (
                first_error(response)["code"] == "extension_load_failed"
            )

        wait_until(load_failed, server)
        for response in (call(server, "preMap"), call(server, "flat", None)):
            assert response.status_code == 422
            error = first_error(response)
            assert error["code"] == "extension_load_failed"
            assert re.search(r"hooks\.py, line 3: SyntaxError", error["message"]), error
        assert server.process.poll() is None

        # 3. a failing import on line 2
        hooks.write_text("import json\nimport not_a_module_anywhere\n")
        wait_until(lambda: "ModuleNotFoundError" in call(server, "preMap").text, server)
        message = first_error(call(server, "preMap"))["message"]
        assert re.search(r"hooks\.py, line 2: ModuleNotFoundError", message), message
        assert server.process.poll() is None

        # 4. good code again: served at once, by the same process
        hooks.write_text(good(2))
        wait_until(lambda: call(server, "preMap").status_code == 200, server)
        assert call(server, "preMap").json() == [{"data": {"version": 2}}]
        assert call(server, "flat", None).json() == "flat"
        assert server.process.poll() is None
    finally:
        server.stop()
    log = server.output()
    assert re.search(r"extensions failed to load: \S*hooks\.py, line 3: SyntaxError", log), log
    assert re.search(r"extensions failed to load: \S*hooks\.py, line 2: ModuleNot", log), log
    assert re.search(r"diy hook preMap -> 422 in [\d.]+ ms  extension_load_failed", log), log
    assert re.search(r"diy hook preMap -> 200 in [\d.]+ ms", log), log


def test_each_call_is_logged_with_its_traceback_on_error(tmp_path: Path) -> None:
    extensions = make_tree(tmp_path, good(1))
    server = start("dev", extensions, tmp_path / "log", token=TOKEN, cwd=tmp_path)
    try:
        failed = call(server, "explode")
        assert failed.status_code == 422
        assert failed.json() == {"errors": [{"message": "no such contact", "code": "LookupError"}]}
        assert call(server, "flat", None).status_code == 200
    finally:
        server.stop()
    log = server.output()
    lines = log.splitlines()
    traceback_at = lines.index("Traceback (most recent call last):")
    # The traceback starts at the author's own frame, not in the host.
    assert re.fullmatch(r'  File ".*hooks\.py", line 6, in explode', lines[traceback_at + 1])
    assert lines[traceback_at + 3] == "LookupError: no such contact"
    assert re.search(r"WARNING diy hook explode -> 422 in [\d.]+ ms  LookupError: no such", log)
    assert re.search(r"diy flat \(top level\) -> 200 in [\d.]+ ms", log)
    assert "logName=callFunctionInvoked" not in log


def test_dev_starts_even_when_the_extensions_do_not_import(tmp_path: Path) -> None:
    extensions = make_tree(tmp_path, "x = 1 +\n")
    server = start("dev", extensions, tmp_path / "log", token=TOKEN, cwd=tmp_path)
    try:
        response = call(server, "preMap")
        assert response.status_code == 422
        assert re.search(r"hooks\.py, line 1: SyntaxError", first_error(response)["message"])
        (extensions / "diy" / "hooks.py").write_text(good(3))
        wait_until(lambda: call(server, "preMap").status_code == 200, server)
        assert call(server, "preMap").json() == [{"data": {"version": 3}}]
    finally:
        server.stop()


EDITORS_FILES = (".hooks.py.swp", "hooks.py~", ".#hooks.py", "#hooks.py#", "4913", "hooks.py.tmp")


def test_editors_temporary_files_neither_reload_nor_show_in_the_log(tmp_path: Path) -> None:
    """1. serve; 2. what editors write beside a file they save (a swap file, a backup, a lock,
    vim's 4913 probe, a .tmp), then a pause; 3. the real save of hooks.py: the new code
    answers; 4. every reload line of the log names hooks.py alone."""
    extensions = make_tree(tmp_path, good(1))
    diy = extensions / "diy"
    server = start("dev", extensions, tmp_path / "log", token=TOKEN, cwd=tmp_path)
    try:
        assert call(server, "preMap").json() == [{"data": {"version": 1}}]
        for name in EDITORS_FILES:
            (diy / name).write_text("def preMap(options):\n    return 'not this'\n")
        (diy / "4913").unlink()
        time.sleep(1)  # were they changes that count, they would reload on their own now
        (diy / "hooks.py").write_text(good(2))
        wait_until(lambda: call(server, "preMap").json() == [{"data": {"version": 2}}], server)
    finally:
        server.stop()
    reloads = [line for line in server.output().splitlines() if " changed: " in line]
    assert reloads, server.output()
    for line in reloads:
        assert line.endswith(f" changed: {Path('diy', 'hooks.py')}; reloading"), reloads
