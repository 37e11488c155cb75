"""Load the extensions folder: the DIY module and one module per connector.

Everything is imported once, when :func:`load_extensions` runs. User packages are
imported under synthetic module names (``_stack_extensions_<id>.diy``,
``..connectors.c_<n>``) so their relative imports work, two loads never collide
and nothing is added to ``sys.path``.

What a namespace exposes is decided here: only public functions that the
extension itself defines (or lists in ``__all__``) can ever be resolved, so a
call can never reach ``os.system``, ``json.loads``, a class or a ``_private``
helper.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import re
import sys
import traceback
import types
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import ExtensionLoadError

__all__ = [
    "ExtensionModule",
    "Extensions",
    "NAMESPACE_ATTRIBUTES",
    "load_extensions",
    "namespace_attribute",
]

#: Envelope ``type`` values that name a differently spelled namespace.
NAMESPACE_ATTRIBUTES: Mapping[str, str] = types.MappingProxyType(
    {"hook": "hooks", "wrapper": "wrappers", "setting": "settings", "utility": "utilities"}
)

#: Submodules imported at start-up when the package has them as files.
NAMESPACE_FILES = ("hooks", "wrappers", "settings", "installer", "uninstaller", "utilities")

ExtensionFunction = Callable[[Any], Any]


def namespace_attribute(type_value: str) -> str:
    """The attribute that holds the namespace for an envelope ``type``."""
    return NAMESPACE_ATTRIBUTES.get(type_value, type_value)


def _display_path(path: Path | str) -> str:
    """``path`` relative to the working directory when it lies inside it, else absolute:
    never a ``../..`` path the user did not type."""
    absolute = Path(os.path.abspath(path))
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:  # outside the working directory
        return str(absolute)


def _is_routine(value: Any) -> bool:
    return inspect.isroutine(value) and not inspect.isclass(value)


@dataclass(frozen=True)
class ExtensionModule:
    """One loaded module (the DIY one or a connector's) and what it exposes."""

    label: str
    module: types.ModuleType
    package: str = field(repr=False)

    def _ours(self, module_name: Any) -> bool:
        return isinstance(module_name, str) and (
            module_name == self.package or module_name.startswith(self.package + ".")
        )

    def namespace(self, attribute: str) -> Any | None:
        """The namespace object for ``attribute``, or ``None`` when it does not exist.

        A namespace is a submodule or an attribute of the package: a dict, a class
        or an instance defined by the extension. Private names and anything the
        extension merely imported (``os``, ``json``, a library class) are not
        namespaces.
        """
        if not attribute or attribute.startswith("_"):
            return None
        value = getattr(self.module, attribute, None)
        if value is None:
            return None
        if isinstance(value, types.ModuleType):
            return value if self._ours(value.__name__) else None
        if isinstance(value, dict):
            return value
        if inspect.isclass(value):
            return value if self._ours(value.__module__) else None
        if _is_routine(value):
            # The extension's own function used as a namespace exists, but exposes nothing.
            return value if self._ours(getattr(value, "__module__", None)) else None
        return value if self._ours(type(value).__module__) else None

    def function(self, namespace: Any, name: str) -> ExtensionFunction | None:
        """The public function ``name`` of ``namespace``, or ``None``."""
        if not name or name.startswith("_"):
            return None
        if isinstance(namespace, types.ModuleType):
            value = namespace.__dict__.get(name)
            if not _is_routine(value):
                return None
            exported = getattr(namespace, "__all__", ())
            if name in exported or getattr(value, "__module__", None) == namespace.__name__:
                return value
            return None
        if isinstance(namespace, dict):
            value = namespace.get(name)
            return value if _is_routine(value) else None
        if _is_routine(namespace):
            return None
        klass = namespace if inspect.isclass(namespace) else type(namespace)
        defined = any(
            name in vars(k) for k in klass.__mro__ if self._ours(getattr(k, "__module__", None))
        )
        if not defined and not (
            not inspect.isclass(namespace) and name in getattr(namespace, "__dict__", {})
        ):
            return None
        value = getattr(namespace, name, None)
        return value if _is_routine(value) else None

    def function_names(self, namespace: Any) -> list[str]:
        """Every name :meth:`function` resolves in ``namespace`` (for helpful log lines)."""
        if isinstance(namespace, dict):
            candidates = [k for k in namespace if isinstance(k, str)]
        else:
            candidates = dir(namespace)
        return sorted(n for n in candidates if self.function(namespace, n) is not None)


@dataclass(frozen=True)
class Extensions:
    """What was loaded from an extensions folder."""

    root: Path
    diy: ExtensionModule | None
    connectors: Mapping[str, ExtensionModule]


def _location_of(exc: BaseException, root: Path, fallback: Path) -> tuple[str, int | None]:
    if isinstance(exc, SyntaxError) and exc.filename:
        return _display_path(exc.filename), exc.lineno
    root_text = str(root.resolve())
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if os.path.abspath(frame.filename).startswith(root_text):
            return _display_path(frame.filename), frame.lineno
    return _display_path(fallback), None


def _exec(name: str, path: Path, package_dir: Path | None, root: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(
        name,
        path,
        submodule_search_locations=[str(package_dir)] if package_dir is not None else None,
    )
    if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has one
        raise ExtensionLoadError(_display_path(path), None, "cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        if package_dir is not None:
            for sub in NAMESPACE_FILES:
                has_file = (package_dir / f"{sub}.py").is_file() or (
                    package_dir / sub / "__init__.py"
                ).is_file()
                current = getattr(module, sub, None)
                if has_file and (current is None or isinstance(current, types.ModuleType)):
                    importlib.import_module(f"{name}.{sub}")
    except Exception as exc:
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]
        file, line = _location_of(exc, root, path)
        detail = f"{type(exc).__name__}: {exc.msg if isinstance(exc, SyntaxError) else exc}"
        raise ExtensionLoadError(file, line, detail) from exc
    return module


def _load_one(name: str, base: Path, root: Path) -> types.ModuleType | None:
    """Import ``base/`` as a package or ``base.py`` as a module, if either exists."""
    if (base / "__init__.py").is_file():
        return _exec(name, base / "__init__.py", base, root)
    single = base.with_name(base.name + ".py")
    if single.is_file():
        return _exec(name, single, None, root)
    if base.is_dir():
        raise ExtensionLoadError(
            _display_path(base), None, "is a folder without __init__.py, so it is not a package"
        )
    return None


def _namespace_package(name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__path__ = []
    sys.modules[name] = module
    return module


def load_extensions(root: Path | str) -> Extensions:
    """Import the DIY module and every connector under ``root``.

    Raises :class:`ExtensionLoadError` naming the file and line when any of them
    fails to import, or when ``root`` holds no extension at all.
    """
    root = Path(root)
    if not root.is_dir():
        # the folder as the user gave it (flag, environment, .env or the default)
        raise ExtensionLoadError(str(root), None, "extensions folder not found")
    package = f"_stack_extensions_{uuid.uuid4().hex[:12]}"
    _namespace_package(package)

    diy = None
    diy_module = _load_one(f"{package}.diy", root / "diy", root)
    if diy_module is not None:
        diy = ExtensionModule("diy", diy_module, f"{package}.diy")

    connectors: dict[str, ExtensionModule] = {}
    connectors_dir = root / "connectors"
    if connectors_dir.is_dir():
        _namespace_package(f"{package}.connectors")
        entries = sorted(connectors_dir.iterdir())
        for index, entry in enumerate(entries):
            connector_id = entry.name[:-3] if entry.suffix == ".py" else entry.name
            if connector_id.startswith((".", "_")) or (entry.is_file() and entry.suffix != ".py"):
                continue
            safe = re.sub(r"\W", "_", connector_id)
            name = f"{package}.connectors.c{index}_{safe}"
            module = _load_one(name, connectors_dir / connector_id, root)
            if module is not None and connector_id not in connectors:
                connectors[connector_id] = ExtensionModule(
                    f"connector {connector_id}", module, name
                )

    if diy is None and not connectors:
        raise ExtensionLoadError(
            _display_path(root),
            None,
            "no extensions found: expected diy/ (or diy.py) or connectors/<_connectorId>/",
        )
    return Extensions(root=root, diy=diy, connectors=types.MappingProxyType(connectors))
