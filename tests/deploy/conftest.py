"""Fixtures for the deployment tests, and the counts they print at the end of a run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .stack import COUNTS, Stack, running_stack


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Calls sent, answered, failed and duplicated in each deployment test."""
    if COUNTS:
        terminalreporter.section("deployment counts")
        for line in COUNTS:
            terminalreporter.write_line(line)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """nginx (deploy/nginx.conf) in front of two hosts of two workers each."""
    with running_stack(tmp_path, ["a", "b"]) as running:
        yield running
