"""Which changes under the extensions folder reload ``stack-runtime dev``."""

from __future__ import annotations

import pytest
from watchfiles import Change

from stack_runtime.devtools.dev import SourceChanges

ROOT = "/home/ada/my-integration/extensions"

EDITORS_FILES = [
    "diy/.hooks.py.swp",  # vim
    "diy/.hooks.py.swx",
    "diy/.hooks.py.swpx",
    "diy/hooks.py~",  # vim and emacs backups
    "diy/.#hooks.py",  # emacs' lock
    "diy/#hooks.py#",  # emacs' auto-save
    "diy/4913",  # vim's test that it may write here
    "diy/5036",
    "diy/hooks.py.tmp",
    "diy/hooks.py.temp",
    "diy/hooks.py.tmp.4242.1733390000123",
    "diy/hooks.py.bak",
    "diy/hooks.py.kate-swp",
    "diy/.goutputstream-K3XZ81",
    "diy/.~lock.notes.odt#",
    "diy/hooks.py___jb_tmp___",  # JetBrains
    "diy/hooks.py___jb_old___",
    "diy/hooks.cpython-311.pyc",
    "diy/__pycache__/hooks.cpython-311.pyc",
    ".DS_Store",
]

SOURCES = [
    "diy/hooks.py",
    "diy/__init__.py",
    "diy.py",
    "diy/data/regions.json",
    "requirements.txt",
    "connectors/5f7a9c2e1b3d4f6a8c0e2b4d/hooks.py",
    "connectors/491300000000000000000000/__init__.py",
    "diy/templates.py",
    "diy/temporary.py",
]


@pytest.mark.parametrize("relative", EDITORS_FILES)
@pytest.mark.parametrize("change", [Change.added, Change.modified, Change.deleted])
def test_editors_files_do_not_count(relative: str, change: Change) -> None:
    assert not SourceChanges()(change, f"{ROOT}/{relative}")


@pytest.mark.parametrize("relative", SOURCES)
def test_the_extensions_own_files_count(relative: str) -> None:
    assert SourceChanges()(Change.modified, f"{ROOT}/{relative}")
