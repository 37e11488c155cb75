"""The reload's steps against a stand-in for gunicorn's master, and its extension check."""

from __future__ import annotations

import logging
import os
import re
import time
from itertools import count
from pathlib import Path

import pytest

from stack_runtime.exceptions import ExtensionLoadError
from stack_runtime.server.reload import ExtensionCheck, Reload


class _Tmp:
    def __init__(self) -> None:
        self.time = 0.0

    def last_update(self) -> float:
        return self.time


class _Worker:
    def __init__(self, served: bool) -> None:
        self.tmp = _Tmp()
        self.born = 0.0
        self.tmp.time = 1.0 if served else 0.0


class _Master:
    """What :class:`Reload` uses of gunicorn's master: its workers, and how to start and
    retire one."""

    def __init__(self, workers: int) -> None:
        self.pids = count(100)
        self.num_workers = workers
        self.timeout = 30.0
        self.WORKERS = {next(self.pids): _Worker(served=True) for _ in range(workers)}
        self.retiring: set[int] = set()

    def spawn_worker(self) -> int:
        pid = next(self.pids)
        self.WORKERS[pid] = _Worker(served=False)
        return pid

    def retire(self, pid: int) -> None:
        self.retiring.add(pid)


def _until_checked(reload: Reload) -> None:
    deadline = time.monotonic() + 30
    while reload.check is not None:
        assert time.monotonic() < deadline, "the check did not end"
        reload.step()
        time.sleep(0.01)


def test_a_reload_switches_workers_and_a_second_sighup_waits_its_turn(fixtures: Path) -> None:
    """1. SIGHUP: the check passes, two new workers start beside the two old ones;
    2. another SIGHUP meanwhile is kept for later;
    3. once both new workers serve, the old ones are retired; once they are gone, the
    reload has finished and the kept one begins (a new check)."""
    master = _Master(workers=2)
    old = set(master.WORKERS)
    reload = Reload(master, fixtures / "single_module")
    reload.request()
    _until_checked(reload)
    new = set(master.WORKERS) - old
    assert len(new) == 2 and reload.starting and master.retiring == set()

    reload.request()
    assert reload.check is None  # kept, not started
    reload.step()
    assert reload.starting and master.retiring == set()  # not until every new one serves
    for pid in new:
        master.WORKERS[pid].tmp.time = 1.0
    reload.step()
    assert master.retiring == old and not reload.starting and reload.busy

    for pid in old:
        del master.WORKERS[pid]
    reload.step()
    assert reload.check is not None  # the second reload
    reload.cancel()


def test_a_reload_onto_code_that_does_not_import_changes_nothing(
    fixtures: Path, caplog: pytest.LogCaptureFixture
) -> None:
    master = _Master(workers=2)
    before = dict(master.WORKERS)
    reload = Reload(master, fixtures / "syntax_error")
    with caplog.at_level(logging.ERROR, logger="stack_runtime"):
        reload.request()
        _until_checked(reload)
    assert before == master.WORKERS and master.retiring == set() and not reload.busy
    (line,) = [r.getMessage() for r in caplog.records if "reloadFailed" in r.getMessage()]
    assert re.search(r"file=\S*diy/hooks\.py, line=5, error=SyntaxError", line), line


def test_a_new_worker_that_exits_before_it_serves_ends_the_reload(fixtures: Path) -> None:
    master = _Master(workers=2)
    old = set(master.WORKERS)
    reload = Reload(master, fixtures / "single_module")
    reload.request()
    _until_checked(reload)
    first, second = sorted(set(master.WORKERS) - old)
    del master.WORKERS[first]  # it exited
    reload.step()
    assert master.retiring == {second} and not reload.busy


def test_the_check_reports_what_the_child_wrote(tmp_path: Path, fixtures: Path) -> None:
    """The outcome comes from the child's pipe: a clean import, an import error with its
    file and line, and a child that dies without a word (here, at import time)."""
    assert ExtensionCheck(fixtures / "single_module").outcome(timeout=None) is True
    failed = ExtensionCheck(fixtures / "import_error").outcome(timeout=None)
    assert isinstance(failed, ExtensionLoadError) and failed.line == 3
    (tmp_path / "diy.py").write_text("import os\nos._exit(9)\n")
    died = ExtensionCheck(tmp_path).outcome(timeout=None)
    assert isinstance(died, ExtensionLoadError) and "without a word" in died.detail


def test_a_check_does_not_hold_the_descriptors_of_the_process_that_forked_it(
    tmp_path: Path,
) -> None:
    """Extension code that starts a process at import time must not leave it holding the
    master's listening socket: the check's child closes every descriptor it does not need."""
    marker = tmp_path / "held-by-the-master"
    held = os.open(marker, os.O_RDONLY | os.O_CREAT)
    os.set_inheritable(held, True)
    try:
        seen = tmp_path / "open-in-the-check"
        (tmp_path / "diy.py").write_text(
            "import os\n"
            f"with open({str(seen)!r}, 'w') as out:\n"
            "    for fd in os.listdir('/proc/self/fd'):\n"
            "        try:\n"
            "            out.write(os.readlink(f'/proc/self/fd/{fd}') + '\\n')\n"
            "        except OSError:\n"
            "            pass\n"
        )
        assert ExtensionCheck(tmp_path).outcome(timeout=None) is True
        assert str(seen) in seen.read_text()  # the listing worked
        assert str(marker) not in seen.read_text()
    finally:
        os.close(held)


def test_a_reload_whose_old_workers_are_gone_before_the_switch_finishes(
    fixtures: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The old workers died while the new ones started: the switch retires nobody and the
    reload has finished (a SIGHUP after it starts a new one at once)."""
    master = _Master(workers=1)
    reload = Reload(master, fixtures / "single_module")
    reload.request()
    _until_checked(reload)
    (new,) = set(master.WORKERS) - {100}
    del master.WORKERS[100]
    master.WORKERS[new].tmp.time = 1.0
    with caplog.at_level(logging.INFO, logger="stack_runtime"):
        reload.step()
    assert master.retiring == set() and not reload.busy
    assert any("logName=reloadFinished" in r.getMessage() for r in caplog.records)
    reload.request()
    assert reload.check is not None
    reload.cancel()
