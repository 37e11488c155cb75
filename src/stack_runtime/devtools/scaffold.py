"""``stack-runtime init [DIR]``: start a project of extension functions.

Writes ``DIR/extensions/diy/`` with one commented example of every kind of
function (hooks, wrappers, settings, installer, uninstaller, utilities, a
top-level function), ``DIR/tests/test_extensions.py``, which tests each of
them with the pytest plugin, ``DIR/extensions/requirements.txt`` for the
packages they import and ``DIR/records.json``, a page of records to call a
hook with. Then prints the next steps, each a command that runs as printed.
Existing files are never overwritten: when any of the files is already there,
nothing is written.
"""

from __future__ import annotations

import shlex
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath

from ..exceptions import ScaffoldExists, UsageError

__all__ = [
    "NEXT_STEPS",
    "next_steps",
    "run_init",
    "scaffold",
    "template_files",
]

_TEMPLATES = "_scaffold"


def _walk(node: Traversable, prefix: PurePosixPath) -> dict[PurePosixPath, str]:
    files: dict[PurePosixPath, str] = {}
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name == "__pycache__" or child.name.endswith((".pyc", ".pyo")):
            continue
        if child.is_dir():
            files.update(_walk(child, prefix / child.name))
        else:
            files[prefix / child.name] = child.read_text(encoding="utf-8")
    return files


def template_files() -> dict[PurePosixPath, str]:
    """The scaffold: relative path to file text."""
    return _walk(
        resources.files(__package__ or "stack_runtime.devtools") / _TEMPLATES, PurePosixPath()
    )


def scaffold(target: Path) -> list[Path]:
    """Write the scaffold under ``target``; the paths written, in order.

    Raises :class:`ScaffoldExists` (having written nothing) when any file exists.
    """
    files = {target / Path(*relative.parts): text for relative, text in template_files().items()}
    existing = [path for path in files if path.exists()]
    if existing:
        raise ScaffoldExists(existing)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
    return list(files)


#: What to run next, in a new project's folder: (command, what it does).
NEXT_STEPS = (
    ("pytest", "run the example tests"),
    ("stack-runtime invoke preMap --records records.json", "call one hook with records.json"),
    (
        "stack-runtime package-lambda -r extensions/requirements.txt",
        "build the zip of an AWS Lambda stack",
    ),
    ("stack-runtime dev", "serve the functions on 127.0.0.1:8080, reloading on every save"),
)


def next_steps(target: Path) -> str:
    """The next steps after writing the scaffold into ``target``, as lines of a shell script:
    each command after a comment that says what it does."""
    steps = list(NEXT_STEPS)
    if target.resolve() != Path.cwd().resolve():
        steps.insert(0, (f"cd {shlex.quote(str(target))}", "the new project's folder"))
    return "Next:\n" + "\n".join(f"  # {what}\n  {command}" for command, what in steps)


def run_init(directory: str) -> int:
    """Run ``stack-runtime init directory``; 0 when written. Raises
    :class:`~stack_runtime.exceptions.ScaffoldExists` when files exist (exit status 1) and
    :class:`~stack_runtime.exceptions.UsageError` when ``directory`` is a file (2)."""
    target = Path(directory)
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} is not a folder")
    written = scaffold(target)
    for path in written:
        print(f"created {path}")
    print(f"\n{next_steps(target)}")
    return 0
