"""``make dist``: a wheel that installs into a fresh virtual environment, C modules included.

The package is not on PyPI; the README's install path is this wheel, with the
``test`` extra for the pytest that runs the tests ``stack-runtime init`` writes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from ..conftest import ROOT
from .commands import clean_environment

C_MODULES = ("_plain", "_lines", "_request")


def run(*args: str | Path, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=clean_environment(),
        timeout=timeout,
        check=False,
    )


def test_make_dist_builds_a_wheel_that_installs_into_a_fresh_venv(tmp_path: Path) -> None:
    """1. ``make dist`` (into a scratch folder): a wheel and an sdist, no setuptools warning;
    2. a fresh venv, ``pip install`` the wheel with the ``test`` extra;
    3. ``stack-runtime --help`` runs there and the C modules are the venv's;
    4. the author quick start there: ``stack-runtime init``, then ``pytest`` passes."""
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "stack_runtime-0.0.1-py3-none-any.whl").write_text("an older build")
    (dist / "stack-runtime-lambda.zip").write_text("not ours to remove")
    # The venv running these tests is the Makefile's: `-o` keeps make from reinstalling it.
    venv = Path(sys.prefix)
    built = run(
        "make", "--no-print-directory", "-o", f"{venv}/.installed", "dist",
        f"VENV={venv}", f"DIST={dist}", cwd=ROOT,
    )  # fmt: skip
    output = built.stdout + built.stderr
    assert built.returncode == 0, output
    assert "experimental" not in output and "BuildBackendWarning" not in output, output
    [wheel] = dist.glob("stack_runtime-*.whl")
    assert [p.name for p in dist.glob("stack_runtime-*.tar.gz")] == ["stack_runtime-0.1.0.tar.gz"]
    assert (dist / "stack-runtime-lambda.zip").read_text() == "not ours to remove"
    assert re.fullmatch(r"stack_runtime-0\.1\.0-cp3\d+-cp3\d+-\w+\.whl", wheel.name), wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    for module in C_MODULES:
        assert any(re.fullmatch(rf"stack_runtime/{module}\.[^/]+\.so", n) for n in names), names

    fresh = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", fresh, cwd=tmp_path).returncode == 0
    bin_dir = fresh / "bin"
    installed = run(bin_dir / "pip", "install", f"{wheel}[test]", cwd=tmp_path)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "experimental" not in installed.stdout + installed.stderr

    helped = run(bin_dir / "stack-runtime", "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "serve" in helped.stdout and "package-lambda" in helped.stdout
    where = run(
        bin_dir / "python",
        "-c",
        "import stack_runtime._plain as p, stack_runtime._lines as l, stack_runtime._request as r;"
        "print(p.__file__, l.__file__, r.__file__, sep='\\n')",
        cwd=tmp_path,
    )
    assert where.returncode == 0, where.stderr
    for path in where.stdout.split():
        assert Path(path).is_relative_to(fresh) and path.endswith(".so"), where.stdout

    runner = run(bin_dir / "python", "-c", "import pytest; print(pytest.__file__)", cwd=tmp_path)
    assert Path(runner.stdout.strip()).is_relative_to(fresh), runner  # the test extra's pytest
    assert run(bin_dir / "stack-runtime", "init", "my-integration", cwd=tmp_path).returncode == 0
    environment = clean_environment(PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    tested = subprocess.run(
        "pytest",  # as the README says, from the venv on PATH
        shell=True,
        cwd=tmp_path / "my-integration",
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert re.search(r"\b\d+ passed\b", tested.stdout), tested.stdout
