"""The container tests: run by ``make image-test`` and ``make fresh-test``, not ``make test``.

They need root, podman, runc and debootstrap (``scripts/install-system-deps container``)
and the network to Debian's and Python's package registries; without them they fail.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from .podman import Podman, debian_image


@pytest.fixture(scope="session")
def podman() -> Podman:
    default = Path(tempfile.gettempdir()) / "stack-runtime-containers"
    return Podman(Path(os.environ.get("STACK_CONTAINER_CACHE", default)))


@pytest.fixture(scope="session")
def debian(podman: Podman) -> str:
    """The bare Debian bookworm image (made at most once a day)."""
    return debian_image(podman)
