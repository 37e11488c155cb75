"""Import every submodule of ``stack_runtime`` first, as a process that uses the whole package.

``python every_module.py`` imports them all, then prints the type of
``stack_runtime.aws_lambda.handler`` and whether it is callable.
``python every_module.py -m MODULE ARGS...`` imports them all, then runs MODULE
as ``python -m MODULE ARGS...`` would: a Lambda runtime that resolves the
configured handler only after everything else was imported.
"""

from __future__ import annotations

import importlib
import pkgutil
import runpy
import sys

__all__ = ["import_every_module"]


def _fail(name: str) -> None:
    raise ImportError(f"cannot import {name}")


def import_every_module() -> list[str]:
    """Import every module and package under ``stack_runtime`` but ``__main__``; their names."""
    import stack_runtime

    names = [
        info.name
        for info in pkgutil.walk_packages(stack_runtime.__path__, "stack_runtime.", onerror=_fail)
        if info.name.rpartition(".")[2] != "__main__"
    ]
    for name in names:
        importlib.import_module(name)
    return names


if __name__ == "__main__":
    imported = import_every_module()
    if sys.argv[1:2] == ["-m"]:
        module = sys.argv[2]
        sys.argv = [module, *sys.argv[3:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    else:
        import stack_runtime.aws_lambda

        handler = stack_runtime.aws_lambda.handler
        print("imported:", " ".join(imported))
        kind = f"{type(handler).__module__}.{type(handler).__qualname__}"
        print(f"handler: {kind} callable={callable(handler)}")
