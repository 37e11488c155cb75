"""Shared fixtures: a clean process state around every test, fixture extension trees."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytester"]

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).parent.parent


def stop_process(process: subprocess.Popen[Any], sig: int, timeout: float) -> int:
    """Send ``sig`` to a running ``process``, kill it after ``timeout`` s; its exit code."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@pytest.fixture(autouse=True)
def _restore_process_state() -> Iterator[None]:
    """Loading user code touches os.environ, sys.modules and sys.path: put them back."""
    environ = dict(os.environ)
    modules = dict(sys.modules)
    path = list(sys.path)
    yield
    os.environ.clear()
    os.environ.update(environ)
    for name in [n for n in sys.modules if n not in modules]:
        del sys.modules[name]
    sys.path[:] = path


@pytest.fixture
def fixtures() -> Path:
    """The folder of fixture extension trees, one per scenario."""
    return FIXTURES
