"""The documentation site builds with ``mkdocs build --strict`` (as ``make docs`` and CI do),
and that build fails on a broken link, a missing anchor or a page the nav leaves out."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from ..conftest import ROOT
from .markdown import DOCS


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


def test_the_site_builds_strictly_with_every_page(tmp_path: Path) -> None:
    built = build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert built.returncode == 0, built.stderr
    assert "WARNING" not in built.stderr, built.stderr
    for page in DOCS.rglob("*.md"):
        relative = page.relative_to(DOCS).with_suffix("")
        html = "index.html" if relative.name == "index" else f"{relative.name}/index.html"
        assert (tmp_path / "site" / relative.parent / html).is_file(), page


def test_a_broken_link_or_a_page_left_out_fails_the_build(tmp_path: Path) -> None:
    """A copy of the site with 1. a link to a page that does not exist, 2. a link to a
    heading that does not exist, 3. a page the nav does not list: each is named, exit 1."""
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(DOCS, tmp_path / "docs")
    for hook in yaml.safe_load((ROOT / "mkdocs.yml").read_text()).get("hooks", []):
        (tmp_path / hook).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / hook, tmp_path / hook)  # mkdocs finds them beside the config
    index = tmp_path / "docs" / "index.md"
    index.write_text(index.read_text() + "\n[gone](gone.md) [nowhere](integrator-io.md#nowhere)\n")
    (tmp_path / "docs" / "stray.md").write_text("# Stray\n")
    built = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert built.returncode == 1, built.stderr
    assert "'gone.md'" in built.stderr, built.stderr
    assert "'#nowhere'" in built.stderr, built.stderr
    assert "stray.md" in built.stderr, built.stderr
