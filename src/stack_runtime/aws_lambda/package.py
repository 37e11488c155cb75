"""``stack-runtime package-lambda``: build the Lambda deployment zip.

The zip holds, at its root:

* ``stack_runtime/``, this project without what the Lambda stack never imports
  (:data:`NOT_PACKAGED`: the server stack, the author's tools and the modules
  built on them), its compiled modules (the result check and the log lines) only
  when they were built for the target's Python and machine;
* the dependencies the Lambda stack imports (``orjson``; ``awslambdaric``;
  ``starlette``, ``mangum`` and ``python-dotenv`` for HTTP events) and any
  listed in ``--requirement``, installed from Linux wheels for the chosen
  architecture and Python version. Nothing is built from source: a
  dependency without a fitting wheel stops the build, named;
* ``extensions/``, the extensions folder;
* ``stack-runtime-lambda``, the wrapper script that starts the runtime entry
  point on a managed Python runtime.

When the target Python is the one running the build, every module is
precompiled, since Lambda cannot write bytecode caches to the package and would
otherwise compile each imported module on every cold start.
"""

from __future__ import annotations

import compileall
import importlib.metadata
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..exceptions import PackageError
from .bootstrap import DEFAULT_HANDLER, WRAPPER_NAME
from .target import LambdaTarget

__all__ = [
    "LAMBDA_DISTRIBUTIONS",
    "NOT_PACKAGED",
    "PackageReport",
    "PackagedItem",
    "build_package",
    "format_report",
    "lambda_requirements",
    "runs_on",
]

#: What the Lambda stack imports, beyond the standard library.
LAMBDA_DISTRIBUTIONS = ("orjson", "awslambdaric", "starlette", "mangum", "python-dotenv")

#: What of ``stack_runtime/`` stays out of the zip: the server stack (gunicorn, uvicorn's
#: workers), the author's tools, and the command line, the test helpers and their pytest
#: plugin, which import those. Nothing left in the zip imports them
#: (tests/unit/test_imports.py holds the Lambda face to that).
NOT_PACKAGED = ("server", "devtools", "cli.py", "__main__.py", "testing.py", "pytest_plugin.py")

#: Lambda's limits: a zip uploaded directly, and the unzipped package.
DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024
UNZIPPED_LIMIT = 250 * 1024 * 1024

_SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".hg", ".svn", ".pytest_cache", ".mypy_cache"})
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_NO_WHEEL = re.compile(r"No matching distribution found for (\S+)")
_VERSIONS = re.compile(r"\(from versions: ([^)]*)\)")


@dataclass(frozen=True)
class PackagedItem:
    """One thing that went into the zip."""

    name: str
    version: str
    files: int
    size: int


@dataclass(frozen=True)
class PackageReport:
    """What :func:`build_package` wrote."""

    output: Path
    target: LambdaTarget
    items: tuple[PackagedItem, ...]
    zip_size: int
    unzipped_size: int
    file_count: int
    precompiled: bool
    notes: tuple[str, ...] = field(default=())


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lambda_requirements() -> list[str]:
    """Requirement strings for :data:`LAMBDA_DISTRIBUTIONS`, with this project's version ranges."""
    try:
        declared = importlib.metadata.requires("stack-runtime") or []
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a checkout
        declared = []
    ranges: dict[str, str] = {}
    for requirement in declared:
        match = re.match(
            r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;]*)", requirement
        )
        if match:
            ranges.setdefault(_normalize(match.group(1)), match.group(2).strip())
    return [name + ranges.get(_normalize(name), "") for name in LAMBDA_DISTRIBUTIONS]


def _check_extensions(root: Path) -> None:
    if not root.is_dir():
        raise PackageError(f"extensions folder not found: {root}")
    if not any((root / n).exists() for n in ("diy", "diy.py", "connectors")):
        raise PackageError(
            f"no extensions in {root}: expected diy/ (or diy.py) or connectors/<_connectorId>/"
        )
    for path in sorted(_files(root)):
        if path.suffix == ".py":
            try:
                compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
            except SyntaxError as exc:
                raise PackageError(
                    f"{exc.filename}, line {exc.lineno}: SyntaxError: {exc.msg}"
                ) from None


def _files(root: Path) -> Iterable[Path]:
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
        for name in sorted(names):
            if not name.endswith((".pyc", ".pyo")):
                yield Path(folder) / name


def _packaged(path: Path) -> bool:
    """False for a file of :data:`NOT_PACKAGED`; ``path`` is relative to ``stack_runtime/``."""
    return path.parts[0] not in NOT_PACKAGED


def runs_on(path: Path, target: LambdaTarget) -> bool:
    """False for a compiled module of this project built for another Python or machine.

    ``_plain.c`` and ``_lines.c`` are compiled for the Python and machine that
    installed the project; for another target they are left out (the result check
    and the log lines are then done in Python).
    """
    if path.suffix != ".so":
        return True
    wanted = f".cpython-{target.python.replace('.', '')}-{target.machine}-linux-gnu.so"
    return path.name.endswith(wanted)


def _copy_tree(
    source: Path, destination: Path, keep: Callable[[Path], bool] = lambda _: True
) -> tuple[int, int]:
    count = size = 0
    for path in _files(source):
        if not keep(path):
            continue
        target = destination / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        count += 1
        size += target.stat().st_size
    return count, size


def _install_wheels(
    target: LambdaTarget, requirements: Sequence[str], requirement_file: Path | None, into: Path
) -> None:
    command = [sys.executable, "-m", "pip", "install", "--target", str(into)]
    command += ["--only-binary=:all:", "--implementation", "cp", "--python-version", target.python]
    for tag in target.platform_tags():
        command += ["--platform", tag]
    command += ["--no-compile", "--no-warn-script-location", "--disable-pip-version-check"]
    command += list(requirements)
    if requirement_file is not None:
        command += ["--requirement", str(requirement_file)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode == 0:
        return
    output = result.stderr + result.stdout
    missing = _NO_WHEEL.search(output)
    if missing:
        versions = _VERSIONS.search(output)
        found = versions.group(1).strip() if versions else ""
        raise PackageError(
            f"no wheel of {missing.group(1)} fits {target.describe()}. "
            + (f"Versions with a fitting wheel: {found}. " if found and found != "none" else "")
            + "Every dependency must come as a wheel (Lambda cannot build from source): "
            "choose a version that has one, or build the wheel for this platform yourself."
        )
    tail = "\n".join(output.strip().splitlines()[-15:])
    raise PackageError(f"pip could not install the dependencies for {target.describe()}:\n{tail}")


def _distributions(staging: Path) -> list[PackagedItem]:
    items = []
    for info in sorted(staging.glob("*.dist-info")):
        name, version = info.name[: -len(".dist-info")].rsplit("-", 1)
        metadata = info / "METADATA"
        if metadata.is_file():
            for line in metadata.read_text(errors="replace").splitlines()[:10]:
                if line.startswith("Name:"):
                    name = line.split(":", 1)[1].strip()
        count = size = 0
        record = info / "RECORD"
        if record.is_file():
            for line in record.read_text().splitlines():
                path = staging / line.rsplit(",", 2)[0]
                if path.is_file():
                    count += 1
                    size += path.stat().st_size
        items.append(PackagedItem(name, version, count, size))
    return items


def _write_zip(staging: Path, output: Path, executables: set[str]) -> tuple[int, int]:
    count = size = 0
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for folder, dirs, names in os.walk(staging):
                dirs.sort()
                for name in sorted(names):
                    path = Path(folder) / name
                    relative = path.relative_to(staging).as_posix()
                    info = zipfile.ZipInfo(relative, _ZIP_DATE)
                    mode = 0o755 if relative in executables else 0o644
                    info.external_attr = (0o100000 | mode) << 16
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, path.read_bytes())
                    count += 1
                    size += path.stat().st_size
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    return count, size


def build_package(
    extensions: Path,
    output: Path,
    target: LambdaTarget,
    requirement_file: Path | None = None,
    progress: Callable[[str], object] | None = None,
) -> PackageReport:
    """Build the deployment zip at ``output``; raises :class:`PackageError` on any problem.

    ``progress`` is told what is going on before the slow steps.
    """
    _check_extensions(extensions)
    if requirement_file is not None and not requirement_file.is_file():
        raise PackageError(f"requirements file not found: {requirement_file}")
    import stack_runtime

    if progress is not None:
        progress(f"collecting wheels for {target.describe()} ...")
    with tempfile.TemporaryDirectory(prefix="stack-runtime-lambda-") as temp:
        staging = Path(temp) / "package"
        staging.mkdir()
        _install_wheels(target, lambda_requirements(), requirement_file, staging)
        shutil.rmtree(staging / "bin", ignore_errors=True)
        items = _distributions(staging)

        project = Path(stack_runtime.__file__).parent
        runtime_files, runtime_size = _copy_tree(
            project,
            staging / "stack_runtime",
            lambda path: _packaged(path.relative_to(project)) and runs_on(path, target),
        )
        items.insert(
            0, PackagedItem("stack_runtime", stack_runtime.__version__, runtime_files, runtime_size)
        )
        ext_files, ext_size = _copy_tree(extensions, staging / "extensions")
        items.append(PackagedItem(f"extensions/ (from {extensions})", "", ext_files, ext_size))
        wrapper = staging / WRAPPER_NAME
        shutil.copyfile(Path(__file__).with_name("exec-wrapper.sh"), wrapper)
        items.append(
            PackagedItem(f"{WRAPPER_NAME} (wrapper script)", "", 1, wrapper.stat().st_size)
        )

        here = f"{sys.version_info.major}.{sys.version_info.minor}"
        precompiled = here == target.python
        if precompiled:
            compileall.compile_dir(
                staging,
                quiet=2,
                invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
            )
        count, unzipped = _write_zip(staging, output, {WRAPPER_NAME})

    if unzipped > UNZIPPED_LIMIT:
        output.unlink()
        raise PackageError(
            f"the package is {_size(unzipped)} unzipped, over Lambda's {_size(UNZIPPED_LIMIT)}"
        )
    notes = []
    if not precompiled:
        notes.append(
            f"bytecode not precompiled: this build runs on Python {here}, not {target.python}; "
            f"run package-lambda with Python {target.python} for a faster cold start"
        )
    zip_size = output.stat().st_size
    if zip_size > DIRECT_UPLOAD_LIMIT:
        notes.append(
            f"over {_size(DIRECT_UPLOAD_LIMIT)}: upload the zip to S3 and point the function at it"
        )
    return PackageReport(
        output, target, tuple(items), zip_size, unzipped, count, precompiled, tuple(notes)
    )


def _size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):.1f} MiB"
    return f"{count / 1024:.1f} KiB"


def format_report(report: PackageReport) -> str:
    """What went in, the sizes, and how to configure the function."""
    width = max(len(item.name) for item in report.items)
    lines = [f"package for {report.target.describe()}:"]
    for item in report.items:
        lines.append(
            f"  {item.name:<{width}}  {item.version:<10} {item.files:>5} files  {_size(item.size):>10}"
        )
    if report.precompiled:
        lines.append(f"  bytecode precompiled for CPython {report.target.python}")
    lines += [f"note: {note}" for note in report.notes]
    lines += [
        f"wrote {report.output}: {_size(report.zip_size)} "
        f"({_size(report.unzipped_size)} unzipped, {report.file_count} files)",
        "",
        "configure the Lambda function:",
        f"  runtime        {report.target.runtime}",
        f"  architecture   {report.target.arch}",
        f"  handler        {DEFAULT_HANDLER}",
        f"  environment    AWS_LAMBDA_EXEC_WRAPPER=/var/task/{WRAPPER_NAME}",
    ]
    return "\n".join(lines)
