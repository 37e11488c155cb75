from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import FIXTURES
from .server import RunningServer, start

TOKEN = "test-token"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """``stack-runtime serve`` with two workers on the protocol fixture tree."""
    log = tmp_path_factory.mktemp("serve") / "server.log"
    running = start(
        "serve",
        FIXTURES / "protocol",
        log,
        token=TOKEN,
        extra=["--workers", "2", "--call-timeout", "3"],
        env={"INTEGRATOR_EXTENSION_SYSTEM_TOKEN_PREVIOUS": "old-token"},
    )
    yield running
    running.stop()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path
