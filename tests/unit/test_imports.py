"""Imports point one way: every module of ``stack_runtime`` imports only the parts below it.

The parts, bottom up (a part is a subpackage or a top-level module):

-1. ``exceptions``, which every part may import and which imports no part;
0. ``settings``, ``types``, ``client`` and the package itself (``__version__``);
1. ``core``: the dispatcher and what it needs, knowing nothing of HTTP, Lambda or gunicorn;
2. ``asgi`` (the HTTP face), ``samples`` and ``shapes``;
3. ``tracing``, which wraps the dispatcher and the app;
4. ``server`` and ``aws_lambda``, side by side: the Lambda zip leaves ``server`` out;
5. ``devtools``;
6. ``cli`` and ``testing``;
7. ``__main__`` and ``pytest_plugin``.

A module may import its own part and any part on a lower level, nothing on its own level or
above. The imports are read with :mod:`ast` from the source (those under ``TYPE_CHECKING``
and inside functions included), so the test sees what the code says, not what one run
happens to import. ``devtools/_scaffold`` is left out: it is the project ``init`` writes,
an author's code that imports the package from outside.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import stack_runtime

PACKAGE = Path(stack_runtime.__file__).parent

LEVELS: dict[str, int] = {
    "": 0,  # stack_runtime/__init__.py
    "settings": 0,
    "exceptions": -1,  # below everything: it imports nothing of the package
    "types": 0,
    "client": 0,
    "core": 1,
    "asgi": 2,
    "samples": 2,
    "shapes": 2,
    "tracing": 3,
    "server": 4,
    "aws_lambda": 4,
    "devtools": 5,
    "cli": 6,
    "testing": 6,
    "__main__": 7,
    "pytest_plugin": 7,
}

#: What the parts below must never import, whatever the levels above say.
NEVER: dict[str, set[str]] = {
    "core": {"asgi", "server", "aws_lambda", "devtools", "tracing", "cli"},
    "asgi": {"server", "devtools", "aws_lambda"},
    "aws_lambda": {"server", "devtools"},
}


def module_name(path: Path) -> str:
    """``stack_runtime.core.loader`` for ``core/loader.py``; packages by their own name."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(("stack_runtime", *parts))


def sources() -> dict[str, Path]:
    """Every module of the package, by name, but the scaffold's templates."""
    return {
        module_name(path): path
        for path in sorted(PACKAGE.rglob("*.py"))
        if "_scaffold" not in path.relative_to(PACKAGE).parts
    }


def part(module: str) -> str:
    """The part a module belongs to: its subpackage, or itself when it is top-level."""
    return module.split(".")[1] if module.count(".") else ""


def imported(name: str, path: Path, modules: set[str]) -> Iterator[tuple[int, str]]:
    """(line, module of this package) of every import in the file, relative ones resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "stack_runtime":
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "stack_runtime":
                continue
            for alias in node.names:  # `from . import errors` imports a module
                sub = f"{target}.{alias.name}"
                yield node.lineno, sub if sub in modules else target


def import_edges() -> list[tuple[str, int, str]]:
    """(importing module, line, imported module) for every import within the package."""
    found = sources()
    modules = set(found) | {module_name(p.with_suffix(".py")) for p in PACKAGE.rglob("*.pyi")}
    return [
        (name, line, target)
        for name, path in found.items()
        for line, target in imported(name, path, modules)
    ]


def test_every_part_has_a_level() -> None:
    unplaced = sorted({part(name) for name in sources()} - set(LEVELS))
    assert not unplaced, f"place these parts in LEVELS of {__file__}: {unplaced}"


def test_the_edges_are_read() -> None:
    """The reader sees the imports it must judge, relative and absolute."""
    edges = {(name, target) for name, _, target in import_edges()}
    assert ("stack_runtime.asgi.app", "stack_runtime.core.dispatcher") in edges
    assert ("stack_runtime.core.results", "stack_runtime.core.errors") in edges  # from . import
    assert ("stack_runtime.cli", "stack_runtime") in edges  # from . import __version__
    assert ("stack_runtime.aws_lambda.lambda_handler", "stack_runtime.tracing") in edges


def upward(edges: list[tuple[str, int, str]]) -> list[str]:
    """The imports of a part on its own level or above, each said in words."""
    return [
        f"{name} (line {line}) imports {target}: "
        f"{part(name) or 'stack_runtime'} is on level {LEVELS[part(name)]}, "
        f"{part(target) or 'stack_runtime'} on {LEVELS[part(target)]}"
        for name, line, target in edges
        if part(name) != part(target) and LEVELS[part(target)] >= LEVELS[part(name)]
    ]


def cycles(edges: list[tuple[str, int, str]]) -> set[str]:
    """Every cycle in the graph of parts, each once, as ``a -> b -> a``."""
    graph: dict[str, set[str]] = {}
    for name, _, target in edges:
        if part(name) != part(target):
            graph.setdefault(part(name), set()).add(part(target))
    found: set[str] = set()

    def visit(path: list[str]) -> None:
        for nxt in sorted(graph.get(path[-1], ())):
            if nxt == path[0]:
                found.add(" -> ".join(p or "stack_runtime" for p in [*path, nxt]))
            elif nxt > path[0] and nxt not in path:  # each cycle from its smallest part
                visit([*path, nxt])

    for start in sorted(graph):
        visit([start])
    return found


def test_no_module_imports_upward() -> None:
    wrong = upward(import_edges())
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("below", sorted(NEVER))
def test_the_lower_parts_never_import_the_faces(below: str) -> None:
    wrong = [
        f"{name} (line {line}) imports {target}"
        for name, line, target in import_edges()
        if part(name) == below and part(target) in NEVER[below]
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle_between_parts() -> None:
    found = cycles(import_edges())
    assert not found, sorted(found)


def test_an_upward_import_and_a_cycle_are_seen() -> None:
    """The checks above, on imports the package does not have: core importing the HTTP
    face is upward, and with the face importing core, a cycle; a part importing itself
    or one below is neither."""
    edges = [
        ("stack_runtime.core.dispatcher", 3, "stack_runtime.asgi.app"),
        ("stack_runtime.asgi.app", 9, "stack_runtime.core.dispatcher"),
        ("stack_runtime.server.worker", 1, "stack_runtime.server.httptools"),
        ("stack_runtime.aws_lambda.lambda_handler", 2, "stack_runtime.server.build"),
    ]
    assert upward(edges) == [
        "stack_runtime.core.dispatcher (line 3) imports stack_runtime.asgi.app: "
        "core is on level 1, asgi on 2",
        "stack_runtime.aws_lambda.lambda_handler (line 2) imports stack_runtime.server.build: "
        "aws_lambda is on level 4, server on 4",
    ]
    assert cycles(edges) == {"asgi -> core -> asgi"}
