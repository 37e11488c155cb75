"""New extension code on running hosts: SIGHUP, and a restart behind nginx, under load.

The extension files are edited in place, between reloads. Each new version of
a file differs in length from the one before: Python's bytecode cache tells a
changed source file by its size and its modification time to the second, and
these edits can come within the second the file was first written.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

import requests

from .stack import (
    AUTH,
    EXTENSIONS,
    Host,
    Stream,
    explain,
    report,
    running_stack,
    wait_until,
)

_TREE = '''\
"""Answers with VERSION; each process that imports this file notes its pid."""

import os

with open(os.environ["STACK_TEST_IMPORTS"], "a") as _log:
    _log.write(f"{{os.getpid()}}\\n")

VERSION = {version}


def version(options):
    return {{"version": VERSION, "pid": os.getpid()}}


async def version_async(options):
    return {{"version": VERSION, "pid": os.getpid()}}
'''


class Calls:
    """``clients`` threads calling a host directly over kept-alive connections, until
    stopped; ``seen`` holds (when sent, HTTP status or the error, version answered)."""

    def __init__(self, port: int, clients: int = 4) -> None:
        self.url = f"http://127.0.0.1:{port}/function"
        self.seen: list[tuple[float, int | str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,)) for n in range(clients)]

    def __enter__(self) -> Calls:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def count(self) -> int:
        with self._lock:
            return len(self.seen)

    def wait_for_more(self, n: int) -> None:
        target = self.count() + n
        wait_until(lambda: self.count() >= target, 60, f"{n} more calls")

    def _run(self, client: int) -> None:
        with requests.Session() as session:
            session.trust_env = False
            n = 0
            while not self._stop.is_set():
                n += 1
                function = "version" if n % 2 else "version_async"
                envelope = {"diy": True, "function": function, "options": {"n": n}}
                sent = time.monotonic()
                try:
                    answer = session.post(self.url, json=envelope, headers=AUTH, timeout=60)
                    seen: tuple[float, int | str, Any] = (
                        sent,
                        answer.status_code,
                        answer.json().get("version") if answer.status_code == 200 else None,
                    )
                except (requests.RequestException, ValueError) as exc:
                    seen = (sent, f"{type(exc).__name__}: {exc}", None)
                with self._lock:
                    self.seen.append(seen)
                time.sleep(0.002)


def _hup(host: Host, logname: str) -> float:
    """SIGHUP to the host's master; when its log says ``logname`` once more."""
    assert host.process is not None
    before = host.log.read_text().count(f"logName={logname}")
    os.kill(host.process.pid, signal.SIGHUP)
    wait_until(lambda: host.log.read_text().count(f"logName={logname}") > before, 60, logname)
    return time.monotonic()


def test_sighup_serves_the_extensions_on_disk_now_and_fails_no_call(tmp_path: Path) -> None:
    """1. a host of two workers serves VERSION 1 to four clients on kept-alive connections;
    2. the file says VERSION 22 and the master gets SIGHUP: new workers start, the old
    ones retire after their calls (reloadFinished); every call sent after that answers 22;
    3. the file gets a syntax error and SIGHUP: reloadFailed names the file and the line,
    the same workers go on answering 22;
    4. the file says VERSION 333 and SIGHUP: every call sent after reloadFinished answers 333;
    5. every call of all that answered 200; the master never imported the extensions."""
    tree = tmp_path / "extensions"
    (tree / "diy").mkdir(parents=True)
    source = tree / "diy" / "__init__.py"
    imports = tmp_path / "imports"
    source.write_text(_TREE.format(version=1))
    (tmp_path / "records").mkdir()
    host = Host("reload", tmp_path, workers=2, extensions=tree)
    host.start(env={"STACK_TEST_IMPORTS": str(imports)})
    assert host.process is not None
    try:
        with Calls(host.port) as calls:
            calls.wait_for_more(100)
            source.write_text(_TREE.format(version=22))
            first_hup = time.monotonic()
            reloaded = _hup(host, "reloadFinished")
            calls.wait_for_more(100)

            workers = host.worker_pids()
            broken = _TREE.format(version=22) + "\ndef broken(:\n"
            broken_line = broken.splitlines().index("def broken(:") + 1
            source.write_text(broken)
            broken_hup = time.monotonic()
            _hup(host, "reloadFailed")
            calls.wait_for_more(100)
            assert host.worker_pids() == workers  # the reload stopped before any worker

            source.write_text(_TREE.format(version=333))
            third_hup = time.monotonic()
            fixed = _hup(host, "reloadFinished")
            calls.wait_for_more(100)
        seen = calls.seen
        ready = requests.get(host.url + "/readyz", timeout=5).status_code
        host.terminate()
        assert host.wait(60) == 0
    finally:
        host.stop()

    log = host.log.read_text()
    failed = [s for s in seen if s[1] != 200]
    assert failed == [], failed[:5]
    assert {v for t, _, v in seen if t < first_hup} == {1}
    assert {v for t, _, v in seen if reloaded < t < third_hup} == {22}
    assert {v for t, _, v in seen if broken_hup < t < third_hup} == {22}
    assert {v for t, _, v in seen if t > fixed} == {333}
    line = next(x for x in log.splitlines() if "logName=reloadFailed" in x)
    assert re.search(rf"file=\S*diy/__init__\.py, line={broken_line}, error=SyntaxError", line)
    assert ready == 200  # a reload does not mark the host as draining
    importers = {int(pid) for pid in imports.read_text().split()}
    assert host.process.pid not in importers
    assert workers <= importers
    assert "Error while closing socket" not in log
    reload_seconds = re.findall(r"logName=reloadFinished, seconds=(\S+)", log)
    print(f"[sighup] calls={len(seen)} failed={len(failed)} reloads_s={reload_seconds}")


def test_new_code_reaches_every_host_behind_nginx_without_losing_a_call(tmp_path: Path) -> None:
    """1. nginx in front of hosts a and b, both serving VERSION 1, under a steady stream;
    2. the extensions (shared by both hosts) now say VERSION 22;
    3. host a gets SIGHUP; every call it answers after its reloadFinished says 22;
    4. host b is restarted (SIGTERM, start again): every call sent after that says 22;
    5. every call answered once, with its own body."""
    tree = tmp_path / "extensions"
    shutil.copytree(EXTENSIONS, tree)
    source = tree / "diy" / "__init__.py"
    with running_stack(tmp_path, ["a", "b"], extensions=tree) as stack:
        a, b = stack.hosts
        with Stream(stack.nginx, clients=6) as stream:
            stream.wait_for_calls("a", "b")
            text = source.read_text()
            assert "\nVERSION = 1\n" in text
            source.write_text(text.replace("\nVERSION = 1\n", "\nVERSION = 22\n"))
            edited = time.monotonic()
            a_reloaded = _hup(a, "reloadFinished")
            stream.wait_for_calls("a", more=50)

            b.terminate()
            assert b.wait(60) == 0
            b.start()
            b_restarted = time.monotonic()
            stream.wait_for_calls("a", "b", more=50)
        tally = stream.stop()

    duplicated = report(
        "new code behind nginx",
        tally,
        stack.folder,
        reload_a_s=re.findall(r"logName=reloadFinished, seconds=(\S+)", a.log.read_text()),
    )
    assert tally.failures == [] and tally.wrong == [], explain(tally, stack.nginx)
    assert duplicated == [] and tally.answered == tally.sent
    versions = tally.versions
    assert {v for t, _, v in versions if t < edited} == {1}
    assert {v for t, h, v in versions if h == "a" and t > a_reloaded} == {22}
    assert {v for t, _, v in versions if t > b_restarted} == {22}


_ONCE = """
if os.path.exists(os.environ["STACK_TEST_ONCE"]):  # the check imported it: a worker fails
    raise RuntimeError("this version imports only once")
open(os.environ["STACK_TEST_ONCE"], "w").close()
"""


def _env(folder: Path) -> dict[str, str]:
    return {"STACK_TEST_IMPORTS": str(folder / "imports"), "STACK_TEST_ONCE": str(folder / "once")}


def _answer(host: Host) -> Any:
    answer = requests.post(
        host.url + "/function",
        json={"diy": True, "function": "version", "options": {}},
        headers={**AUTH, "Connection": "close"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["version"]


def _tree(folder: Path, version: int) -> Path:
    (folder / "diy").mkdir(parents=True, exist_ok=True)
    source = folder / "diy" / "__init__.py"
    source.write_text(_TREE.format(version=version))
    return source


def _started(folder: Path, name: str) -> tuple[Host, Path]:
    """A host of two workers on ``folder/extensions`` (VERSION 1), both serving; its file."""
    source = _tree(folder / "extensions", 1)
    (folder / "records").mkdir()
    host = Host(name, folder, workers=2, extensions=folder / "extensions")
    host.start(env=_env(folder))
    try:
        wait_until(lambda: len(host.worker_pids()) == 2, 30, "both workers")
    except AssertionError:
        host.stop()
        raise
    return host, source


def test_a_reload_whose_new_workers_cannot_start_keeps_the_old_ones(tmp_path: Path) -> None:
    """1. a host serves VERSION 1;
    2. the extensions now import once only (so the check passes, the workers fail); SIGHUP;
    3. the new workers exit before they serve: reloadFailed, the host does not stop,
    the old workers go on answering 1;
    4. the extensions are mended (VERSION 22) and SIGHUP: the host answers 22."""
    host, source = _started(tmp_path, "reload")
    try:
        workers = host.worker_pids()
        source.write_text(_TREE.format(version=1) + _ONCE)
        _hup(host, "reloadFailed")
        log = host.log.read_text()
        assert "a new worker exited before it served" in log
        assert "logName=extensionsNotLoaded" in log
        assert "this version imports only once" in log
        assert host.process is not None and host.process.poll() is None
        wait_until(lambda: host.worker_pids() == workers, 30, "the new workers to go")
        assert {_answer(host) for _ in range(6)} == {1}

        source.write_text(_TREE.format(version=22))
        _hup(host, "reloadFinished")
        assert {_answer(host) for _ in range(6)} == {22}
    finally:
        host.stop()


def test_a_worker_that_cannot_start_is_tried_again_while_the_host_serves(tmp_path: Path) -> None:
    """1. a host of two workers serves VERSION 1;
    2. the extensions on disk stop importing (no SIGHUP), and one worker dies;
    3. its replacement cannot import them: workerNotStarted, and the other worker goes on
    answering 1 while the master waits before trying again;
    4. the extensions are mended (VERSION 22): the next try starts a worker that answers 22."""
    host, source = _started(tmp_path, "respawn")
    try:
        survivor, victim = sorted(host.worker_pids())
        source.write_text(_TREE.format(version=1) + "\ndef broken(:\n")
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: "logName=workerNotStarted" in host.log.read_text(), 30, "a failed try")
        assert host.process is not None and host.process.poll() is None
        assert host.worker_pids() == {survivor}
        assert {_answer(host) for _ in range(6)} == {1}

        source.write_text(_TREE.format(version=22))
        wait_until(lambda: len(host.worker_pids()) == 2, 30, "a new worker")
        (new,) = host.worker_pids() - {survivor}
        wait_until(lambda: str(new) in (tmp_path / "imports").read_text(), 30, "its import")
        versions = set()
        deadline = time.monotonic() + 30
        while versions != {1, 22} and time.monotonic() < deadline:
            versions.add(_answer(host))  # new connections: either worker may answer
        assert versions == {1, 22}
    finally:
        host.stop()


def test_start_up_stops_when_the_workers_cannot_import_the_extensions(tmp_path: Path) -> None:
    """The extensions import once only, so they pass the check but fail in the worker:
    serve stops (exit 4,
    gunicorn's "App failed to load") and the log says where the import failed."""
    source = _tree(tmp_path / "extensions", 1)
    source.write_text(_TREE.format(version=1) + _ONCE)
    (tmp_path / "records").mkdir()
    host = Host("start", tmp_path, workers=1, extensions=tmp_path / "extensions")
    try:
        try:
            host.start(env=_env(tmp_path))
        except AssertionError as exc:
            assert "exited" in str(exc), exc
        else:
            raise AssertionError("the host started")
        assert host.wait(30) == 4
        log = host.log.read_text()
        assert re.search(r"logName=extensionsNotLoaded, pid=\d+, file=\S*diy/__init__\.py", log)
        assert "this version imports only once" in log
    finally:
        host.stop()
