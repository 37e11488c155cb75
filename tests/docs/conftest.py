"""The repository's documentation site, built once for the tests that read it."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

from ..conftest import ROOT
from .site import build


class Built(NamedTuple):
    """A strict build of the repository's site: mkdocs' result, and where the site is."""

    result: subprocess.CompletedProcess[str]
    site: Path


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Built:
    site = tmp_path_factory.mktemp("built") / "site"
    return Built(build(ROOT / "mkdocs.yml", site), site)
