"""constraints.txt, the versions the container image installs, keeps up with pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from ..conftest import ROOT


def pins() -> dict[str, Version]:
    pinned: dict[str, Version] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)", line).groups()  # type: ignore[union-attr]
            pinned[canonicalize_name(name)] = Version(version)
    return pinned


def dependencies() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["dependencies"]]


def test_every_dependency_is_pinned_within_what_pyproject_allows() -> None:
    pinned = pins()
    for requirement in dependencies():
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not in constraints.txt: run make constraints"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"constraints.txt pins {name}=={pinned[name]}, pyproject.toml asks {requirement}:"
            " run make constraints"
        )


def test_what_the_dependencies_bring_in_is_pinned_too() -> None:
    """The packages installed here for stack-runtime's own dependencies (and their extras),
    on this platform: each has a pin, or the image would take whatever is newest."""
    pinned = pins()
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(requirement, set(requirement.extras)) for requirement in dependencies()]
    while todo:
        requirement, extras = todo.pop()
        name = canonicalize_name(requirement.name)
        if (name, frozenset(extras)) in seen:
            continue
        seen.add((name, frozenset(extras)))
        assert name in pinned, f"{name} is not in constraints.txt: run make constraints"
        for text in metadata.requires(name) or []:
            needed = Requirement(text)
            environments = [{"extra": extra} for extra in extras or {""}]
            if needed.marker is None or any(needed.marker.evaluate(e) for e in environments):
                todo.append((needed, set(needed.extras)))
    assert len({name for name, _ in seen}) > len(dependencies())
