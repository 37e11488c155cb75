"""Every link in the README, CONTRIBUTING.md, CHANGELOG.md and the site's pages leads to a
file of the repository (a page of the site, for the site's pages), and to a heading there
when it names one: nothing points outside the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

from ..conftest import ROOT
from .markdown import DOCS, anchors, documents, links


def problems(document: Path, text: str | None = None) -> list[str]:
    """What is wrong with each link of ``document`` (whose text is ``text``, if given), one
    line each."""
    text = document.read_text() if text is None else text
    found = []
    for link in sorted(links(text), key=lambda link: link.line):
        where = f"{document.relative_to(ROOT)}:{link.line}: {link.target}"
        target, _, anchor = link.target.partition("#")
        if ":" in target.split("/", 1)[0] or target.startswith(("/", "//")):
            found.append(f"{where}: points outside the repository")
            continue
        path = (document.parent / unquote(target)).resolve() if target else document
        if not path.is_relative_to(ROOT.resolve()):
            found.append(f"{where}: points outside the repository")
        elif document.is_relative_to(DOCS) and not path.is_relative_to(DOCS.resolve()):
            found.append(f"{where}: the site has only docs/ (name the file in code instead)")
        elif not path.exists() and path != document:
            found.append(f"{where}: no such file")
        elif (
            anchor
            and path.suffix == ".md"
            and anchor not in anchors(path, text if path == document else None)
        ):
            found.append(f"{where}: {path.name} has no heading #{anchor}")
    return found


def test_the_published_documents_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in documents()}
    assert {"README.md", "docs/index.md", "docs/integrator-io.md"} <= names, names


@pytest.mark.parametrize("document", documents(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_link_resolves_inside_the_repository(document: Path) -> None:
    assert not problems(document), "\n".join(problems(document))


def test_a_broken_link_is_reported() -> None:
    """The check itself: each kind of bad link in a page is named, good ones pass."""
    bad = {
        "[a](https://example.com/)": "points outside the repository",
        "<https://example.com/>": "points outside the repository",
        "see https://example.com/ here": "points outside the repository",
        "[b](../../elsewhere.md)": "points outside the repository",
        "[c](missing.md)": "no such file",
        "[d](integrator-io.md#no-such-heading)": "has no heading #no-such-heading",
        "[e](../Makefile)": "the site has only docs/",
    }
    good = "# Probe\n[f](integrator-io.md#the-answers) `[g](in-code.md)` [h](#probe)\n"
    text = good + "\n".join(bad) + "\n```sh\n[i](https://in-a-block/)\n```\n"
    reported = problems(DOCS / "probe.md", text)  # as if it were a page of the site
    assert len(reported) == len(bad), reported
    for line, (link, reason) in zip(reported, bad.items(), strict=True):
        assert reason in line, (link, line)


def test_every_page_the_code_names_exists() -> None:
    """Comments and docstrings point readers at pages of the site (``docs/lambda.md``):
    each such page exists, so renaming a page means updating what points at it."""
    named = subprocess.run(
        ["git", "grep", "-n", "-o", "-E", r"docs/[A-Za-z0-9_/-]+\.md", "--", ".", ":!docs"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert named.returncode in (0, 1), named.stderr
    found = [line.rsplit(":", 1) for line in named.stdout.splitlines()]
    assert found, "no comment names a page of the site"
    missing = [f"{where}: {page}" for where, page in found if not (ROOT / page).is_file()]
    assert not missing, "\n".join(missing)


def test_every_module_the_architecture_page_names_exists() -> None:
    """The architecture page names modules by their paths in ``src/stack_runtime/``
    (``core/dispatcher.py``) or in the repository (``tests/...``): each exists."""
    text = (DOCS / "architecture.md").read_text()
    named = set(re.findall(r"`((?:[\w.]+/)*[\w.]+\.(?:py|c)|[\w]+/)`", text))
    assert len(named) > 20, named
    missing = [
        name
        for name in sorted(named)
        if not (ROOT / name).exists() and not (ROOT / "src" / "stack_runtime" / name).exists()
    ]
    assert not missing, f"docs/architecture.md names what is not there: {missing}"
