"""Build the documentation site as ``make docs`` does: the repository's, or a copy of it that
a test may break."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from ..conftest import ROOT
from .markdown import DOCS

__all__ = ["build", "copy_site"]


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of ``config`` into ``site``: its exit status and log."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
        check=False,
    )


def copy_site(into: Path) -> Path:
    """Copy mkdocs.yml, ``docs/`` and the hooks mkdocs.yml names into ``into``; the copy's
    mkdocs.yml (mkdocs finds the hooks beside it)."""
    config = into / "mkdocs.yml"
    shutil.copy(ROOT / "mkdocs.yml", config)
    shutil.copytree(DOCS, into / "docs")
    for hook in yaml.safe_load(config.read_text()).get("hooks", []):
        (into / hook).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / hook, into / hook)
    return config
