"""A build of ``_request.c`` with AddressSanitizer and UBSan, and how to run Python on it.

The interpreter itself is not built with the sanitizers, so AddressSanitizer's runtime
is preloaded (``LD_PRELOAD``) into the process that imports the sanitized module, whose
objects all come from ``malloc`` (``PYTHONMALLOC``) so that each is guarded; UBSan
stops the process at the first finding (``-fno-sanitize-recover=all``). gcc brings both
runtimes (Debian's libasan and libubsan, which scripts/install-system-deps checks for).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sysconfig
from pathlib import Path
from types import ModuleType

__all__ = ["FLAGS", "SOURCE", "build", "environment", "load"]

SOURCE = Path(__file__).resolve().parents[2] / "src" / "stack_runtime" / "server" / "_request.c"
FLAGS = (
    "-O1",
    "-g",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
)


def build(directory: Path, source: Path = SOURCE, name: str = "_request") -> Path:
    """Compile ``source`` with the sanitizers into ``directory``: the module's path."""
    target = directory / f"{name}{sysconfig.get_config_var('EXT_SUFFIX')}"
    include = sysconfig.get_path("include")
    command = ["gcc", "-shared", "-fPIC", *FLAGS, "-Wall", "-Werror", f"-I{include}"]
    subprocess.run([*command, str(source), "-o", str(target)], check=True)
    return target


def environment() -> dict[str, str]:
    """The environment of a Python process that may import a sanitized module."""
    runtime = subprocess.run(
        ["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if not os.path.isabs(runtime):
        raise RuntimeError("gcc has no AddressSanitizer runtime (libasan): see install-system-deps")
    env = dict(os.environ)
    env["LD_PRELOAD"] = runtime
    # Every object from malloc, each with AddressSanitizer's red zones around it: pymalloc's
    # arenas would hide a read past the end of a small bytes object.
    env["PYTHONMALLOC"] = "malloc"
    # The interpreter's own allocations are not tracked, so leaks cannot be told apart.
    env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1:halt_on_error=1"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    return env


def load(path: Path, name: str = "_request") -> ModuleType:
    """Import the extension module at ``path`` (without adding it to ``sys.modules``)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
