"""The pytest plugin for extension authors (registered as ``stack_runtime`` in ``pytest11``).

Installing stack-runtime makes it available to every pytest run: a test asks
for the ``stack`` fixture and calls its functions the way integrator.io does
(see :mod:`stack_runtime.testing`)::

    def test_pre_map_tags(stack):
        assert stack.call("preMap", records=[{"tags": [" A "]}]) == [{"data": {"tags": ["a"]}}]

Which extensions folder, first that is set:

1. ``--stack-extensions DIR`` on the command line (relative to where pytest runs);
2. ``stack_extensions = DIR`` in the pytest configuration (relative to that file);
3. the ``STACK_EXTENSIONS_DIR`` environment variable (relative to where pytest runs);
4. the nearest ``extensions`` folder beside the test file or above it (so a
   project made by ``stack-runtime init`` finds its own from anywhere), else
   ``./extensions``.

The module imports nothing heavy: the host is imported when a test asks for
the fixture.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .settings import ENV

if TYPE_CHECKING:
    from .testing import Stack

__all__ = ["pytest_addoption", "stack_extensions_dir", "stack"]

_INI = "stack_extensions"
_ENV = ENV["extensions_dir"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--stack-extensions`` and the ``stack_extensions`` ini option."""
    group = parser.getgroup("stack-runtime", "stack-runtime extension functions")
    group.addoption(
        "--stack-extensions",
        metavar="DIR",
        dest="stack_extensions",
        default=None,
        help="extensions folder the 'stack' fixture loads (default: ./extensions)",
    )
    parser.addini(
        _INI,
        "extensions folder the 'stack' fixture loads, relative to this file (default: extensions)",
        default=None,
    )


def _extensions_dir(config: pytest.Config, test_file: Path) -> Path:
    invoked = Path(config.invocation_params.dir)
    option = config.getoption("stack_extensions")
    if option:
        return invoked / str(option)
    ini = config.getini(_INI)
    if ini:
        base = config.inipath.parent if config.inipath is not None else config.rootpath
        return Path(base) / str(ini)
    env = os.environ.get(_ENV)
    if env:
        return invoked / env
    for folder in test_file.parents:
        if (folder / "extensions").is_dir():
            return folder / "extensions"
    return invoked / "extensions"


@pytest.fixture
def stack_extensions_dir(request: pytest.FixtureRequest) -> Path:
    """The extensions folder the ``stack`` fixture loads; override it in a conftest.py."""
    return _extensions_dir(request.config, Path(request.path))


@pytest.fixture
def stack(stack_extensions_dir: Path) -> Iterator[Stack]:
    """The extensions, freshly imported for this test, ready to call as integrator.io does."""
    from .exceptions import ExtensionLoadError
    from .testing import Stack

    try:
        loaded = Stack.load(stack_extensions_dir)
    except ExtensionLoadError as exc:
        pytest.fail(
            f"cannot load the extensions: {exc}\n(the folder comes from --stack-extensions, "
            f"the {_INI} ini option or {_ENV}; see stack_runtime.pytest_plugin)",
            pytrace=False,
        )
    try:
        yield loaded
    finally:
        loaded.close()
