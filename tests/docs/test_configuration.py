"""The tables of settings on the configuration page and the Lambda page are made from the
code's table at build time (the mkdocs hook scripts/mkdocs_hooks.py), so they list exactly
what the commands and the Lambda face read."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from stack_runtime.settings import SETTINGS

from .conftest import Built
from .site import build, copy_site


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


@pytest.fixture
def site(built_site: Built) -> Path:
    """The repository's site, built (once) without an error."""
    assert built_site.result.returncode == 0, built_site.result.stderr
    return built_site.site


def test_the_built_page_lists_every_setting_with_its_flag(site: Path) -> None:
    page = (site / "configuration" / "index.html").read_text()
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


def test_the_built_lambda_page_lists_what_the_lambda_face_reads(site: Path) -> None:
    page = (site / "lambda" / "index.html").read_text()
    assert "settings-reference" not in page
    rows = _rows(page)
    for spec in SETTINGS:
        if "lambda" not in spec.read_by:
            assert spec.env not in rows, f"{spec.env} is on the Lambda page; Lambda never reads it"
            continue
        assert spec.env in rows, f"{spec.env} is not on the Lambda page"
        meaning = rows[spec.env][-1]
        assert spec.help[1:] in meaning, (spec.env, meaning)
        assert spec.notes.get("lambda", "") in meaning, (spec.env, meaning)


@pytest.mark.parametrize(
    ("name", "marker"),
    [
        ("configuration.md", "<!-- settings-reference -->"),
        ("lambda.md", "<!-- settings-reference lambda -->"),
    ],
)
def test_a_page_without_its_marker_fails_the_build(tmp_path: Path, name: str, marker: str) -> None:
    config = copy_site(tmp_path)
    page = tmp_path / "docs" / name
    assert marker in page.read_text()
    page.write_text(page.read_text().replace(marker, ""))
    built = build(config, tmp_path / "site")
    assert built.returncode == 1, built.stderr
    assert f"{name} has no line {marker}" in built.stderr
