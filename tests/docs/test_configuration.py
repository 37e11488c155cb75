"""The configuration page's table of settings is made from the code's table at build time
(the mkdocs hook scripts/mkdocs_hooks.py), so it lists exactly what the commands read."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

from stack_runtime.settings import SETTINGS

from ..conftest import ROOT
from .markdown import DOCS
from .test_site import build


def _rows(page: str) -> dict[str, list[str]]:
    """The table rows of a built page whose first cell is code: that code, to the cells."""
    rows: dict[str, list[str]] = {}
    for row in re.findall(r"<tr>(.*?)</tr>", page, re.S):
        cells = [
            html.unescape(re.sub(r"<[^>]+>", "", c))
            for c in re.findall(r"<td>(.*?)</td>", row, re.S)
        ]
        if cells and re.match(r"\s*<td><code>", row):
            rows[cells[0]] = cells
    return rows


def test_the_built_page_lists_every_setting_with_its_flag(tmp_path: Path) -> None:
    built = build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert built.returncode == 0, built.stderr
    page = (tmp_path / "site" / "configuration" / "index.html").read_text()
    assert "settings-reference" not in page  # the marker was replaced
    rows = _rows(page)
    for spec in SETTINGS:
        assert spec.env in rows, f"{spec.env} is not in the configuration page"
        flag_cell = rows[spec.env][1]
        if spec.flag is None:
            assert "--" not in flag_cell, (spec.env, flag_cell)
        else:
            assert re.search(rf"(?<![\w-]){spec.flag}(?![\w-])", flag_cell), (spec.env, flag_cell)
        assert spec.help[1:] in rows[spec.env][-1], (spec.env, rows[spec.env])


def test_a_configuration_page_without_the_marker_fails_the_build(tmp_path: Path) -> None:
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(DOCS, tmp_path / "docs")
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "mkdocs_hooks.py", tmp_path / "scripts")
    page = tmp_path / "docs" / "configuration.md"
    page.write_text(page.read_text().replace("<!-- settings-reference -->", ""))
    built = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert built.returncode == 1, built.stderr
    assert "configuration.md has no line <!-- settings-reference -->" in built.stderr
