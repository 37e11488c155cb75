"""``make dist``: a wheel that installs into a fresh virtual environment, C modules included.

The package is not on PyPI; the README's install path is this wheel, with the
``test`` extra for the pytest that runs the tests ``stack-runtime init`` writes: the README's
install block runs here as written.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from ..conftest import ROOT
from ..docs.markdown import code_blocks, section, shell_commands
from .commands import clean_environment

C_MODULES = ("core/_plain", "core/_lines", "server/_request")
#: After the install block, in the same shell: the author's quick start, with its pytest.
FIRST_STEPS = ["stack-runtime init my-integration", "cd my-integration", "pytest"]


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
    2. the rest of the README's install block as written: a fresh venv, ``pip install`` the
       wheel with the ``test`` extra, ``activate``; then, in that shell, the author quick
       start: ``stack-runtime init``, then ``pytest`` passes;
    3. ``stack-runtime --help`` runs there and the C modules and pytest are the venv's."""
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

    # The README's install block, as written, from the folder that holds dist/: its first
    # line is the make dist above; HOME is a scratch folder for its ~/.venvs/stack.
    block = code_blocks(section(ROOT / "README.md", "## Install"), "sh")[0]
    commands = [command for command, _ in shell_commands(block.text)]
    assert commands[0].split("#")[0].strip() == "make dist", commands
    home = tmp_path / "home"
    home.mkdir()
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    environment = clean_environment(HOME=str(home), PATH=path)
    script = "\n".join(["set -e", *commands[1:], *FIRST_STEPS])
    installed = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True,
        env=environment, timeout=600, check=False,
    )  # fmt: skip
    output = installed.stdout + installed.stderr
    assert installed.returncode == 0, output
    assert "experimental" not in output, output
    assert re.search(r"\b\d+ passed\b", installed.stdout), output  # init's tests, by its pytest

    fresh = home / ".venvs" / "stack"
    bin_dir = fresh / "bin"
    helped = run(bin_dir / "stack-runtime", "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "serve" in helped.stdout and "package-lambda" in helped.stdout
    where = run(
        bin_dir / "python",
        "-c",
        "import stack_runtime.core._plain as p, stack_runtime.core._lines as l,"
        " stack_runtime.server._request as r;"
        "print(p.__file__, l.__file__, r.__file__, sep='\\n')",
        cwd=tmp_path,
    )
    assert where.returncode == 0, where.stderr
    for path in where.stdout.split():
        assert Path(path).is_relative_to(fresh) and path.endswith(".so"), where.stdout

    runner = run(bin_dir / "python", "-c", "import pytest; print(pytest.__file__)", cwd=tmp_path)
    assert Path(runner.stdout.strip()).is_relative_to(fresh), runner  # the test extra's pytest
