"""The documentation site builds with ``mkdocs build --strict`` (as ``make docs`` and CI do),
and that build fails on a broken link, a missing anchor or a page the nav leaves out."""

from __future__ import annotations

from pathlib import Path

from .conftest import Built
from .markdown import DOCS
from .site import build, copy_site


def test_the_site_builds_strictly_with_every_page(built_site: Built) -> None:
    built = built_site.result
    assert built.returncode == 0, built.stderr
    assert "WARNING" not in built.stderr, built.stderr
    for page in DOCS.rglob("*.md"):
        relative = page.relative_to(DOCS).with_suffix("")
        html = "index.html" if relative.name == "index" else f"{relative.name}/index.html"
        assert (built_site.site / relative.parent / html).is_file(), page


def test_a_broken_link_or_a_page_left_out_fails_the_build(tmp_path: Path) -> None:
    """A copy of the site with 1. a link to a page that does not exist, 2. a link to a
    heading that does not exist, 3. a page the nav does not list: each is named, exit 1."""
    config = copy_site(tmp_path)
    index = tmp_path / "docs" / "index.md"
    index.write_text(index.read_text() + "\n[gone](gone.md) [nowhere](integrator-io.md#nowhere)\n")
    (tmp_path / "docs" / "stray.md").write_text("# Stray\n")
    built = build(config, tmp_path / "site")
    assert built.returncode == 1, built.stderr
    assert "'gone.md'" in built.stderr, built.stderr
    assert "'#nowhere'" in built.stderr, built.stderr
    assert "stray.md" in built.stderr, built.stderr
