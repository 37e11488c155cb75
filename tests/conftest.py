"""Shared fixtures: a clean process state around every test, fixture extension trees."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

pytest_plugins = ["pytester"]

# Hypothesis (the envelope fuzz tests): "suite", the default, runs a few dozen examples the
# same way every time; "fuzz" (make fuzz, HYPOTHESIS_PROFILE=fuzz) runs FUZZ_EXAMPLES new ones
# and keeps what fails in .hypothesis/ to replay it first next time.
_SLOW_INPUTS = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile(
    "suite",
    max_examples=100,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=_SLOW_INPUTS,
)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "5000")),
    deadline=None,
    print_blob=True,
    suppress_health_check=_SLOW_INPUTS,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).parent.parent

#: The markers of the tiers that need more than Python (pyproject.toml registers them), by
#: folder: ``pytest -m "not e2e and not deploy and not lambda and not bench"`` runs the quick
#: tests alone. The modules that run the benchmark's code mark themselves ``bench``.
MARKERS_BY_FOLDER = {
    "e2e": "e2e",
    "deploy": "deploy",
    "container": "deploy",
    "aws_lambda": "lambda",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(tests):
            folder = item.path.relative_to(tests).parts[0]
            if folder in MARKERS_BY_FOLDER:
                item.add_marker(MARKERS_BY_FOLDER[folder])


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
