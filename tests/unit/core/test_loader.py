from __future__ import annotations

import sys
from pathlib import Path

import pytest

from stack_runtime.core.loader import load_extensions
from stack_runtime.exceptions import ExtensionLoadError


def test_loads_diy_and_connectors(fixtures: Path) -> None:
    before = list(sys.path)
    loaded = load_extensions(fixtures / "protocol")
    assert loaded.diy is not None
    assert set(loaded.connectors) == {"conn-1", "abc123def456abc123def456"}
    assert sys.path == before


def test_two_loads_do_not_collide(fixtures: Path) -> None:
    first = load_extensions(fixtures / "protocol")
    second = load_extensions(fixtures / "protocol")
    assert first.diy is not None and second.diy is not None
    assert first.diy.module is not second.diy.module
    assert first.diy.module.__name__ != second.diy.module.__name__


def test_namespace_shapes(fixtures: Path) -> None:
    diy = load_extensions(fixtures / "protocol").diy
    assert diy is not None
    hooks = diy.namespace("hooks")
    assert diy.function(hooks, "echo") is not None
    assert diy.function(hooks, "os") is None
    assert diy.function(hooks, "shared_json") is None
    assert diy.function(diy.namespace("wrappers"), "ping") is not None
    assert diy.function(diy.namespace("settings"), "persistSettings") is not None
    assert diy.function(diy.namespace("utilities"), "sum") is not None
    assert diy.namespace("os") is None and diy.namespace("json") is None
    assert "echo" in diy.function_names(hooks) and "os" not in diy.function_names(hooks)


def test_single_module(fixtures: Path) -> None:
    diy = load_extensions(fixtures / "single_module").diy
    assert diy is not None
    assert diy.function(diy.module, "flat") is not None
    assert diy.function(diy.namespace("hooks"), "preMap") is not None


def test_syntax_error(fixtures: Path) -> None:
    with pytest.raises(ExtensionLoadError) as caught:
        load_extensions(fixtures / "syntax_error")
    assert caught.value.file.endswith("hooks.py") and caught.value.line == 5
    assert "SyntaxError" in str(caught.value)


def test_runtime_error_at_import(fixtures: Path) -> None:
    before = set(sys.modules)  # other tests' loaded extensions may be there already
    with pytest.raises(ExtensionLoadError) as caught:
        load_extensions(fixtures / "import_error")
    assert caught.value.file.endswith("__init__.py") and caught.value.line == 3
    assert not any(
        "diy" in name and "_stack_extensions" in name
        for name in set(sys.modules) - before
        if name.endswith(".diy")
    )


def test_folder_without_init_is_reported(tmp_path: Path) -> None:
    (tmp_path / "diy").mkdir()
    (tmp_path / "diy" / "hooks.py").write_text("def x(o): return 1\n")
    with pytest.raises(ExtensionLoadError, match=r"without __init__\.py"):
        load_extensions(tmp_path)
