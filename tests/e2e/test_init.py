"""``stack-runtime init``: the scaffold is written, refuses to overwrite, and its tests pass."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path, PurePosixPath

from stack_runtime.scaffold import template_files

from .commands import clean_environment, stack_runtime

TEMPLATE_TESTS = template_files()[PurePosixPath("tests/test_extensions.py")]


def run_pytest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=clean_environment(),
        timeout=300,
        check=False,
    )


def test_init_writes_a_project_whose_tests_pass(tmp_path: Path) -> None:
    """1. init; 2. pytest in the project; 3. pytest from elsewhere; 4. invoke there."""
    result = stack_runtime("init", "proj", cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    project = tmp_path / "proj"
    for relative in template_files():
        assert (project / relative).is_file()
        assert f"created {Path('proj') / relative}" in result.stdout.decode()
    for kind in ("hooks", "wrappers", "settings", "installer", "uninstaller", "utilities"):
        assert (project / "extensions" / "diy" / f"{kind}.py").is_file()

    expected = len(re.findall(r"^def test_", TEMPLATE_TESTS, re.MULTILINE))
    assert expected >= 15
    inside = run_pytest(cwd=project)
    assert inside.returncode == 0, inside.stdout + inside.stderr
    assert re.search(rf"\b{expected} passed\b", inside.stdout), inside.stdout

    outside = run_pytest("proj/tests", cwd=tmp_path)
    assert outside.returncode == 0, outside.stdout + outside.stderr
    assert re.search(rf"\b{expected} passed\b", outside.stdout), outside.stdout

    called = stack_runtime(
        "invoke", "preMap", "--records", "-", cwd=project, stdin=b'[{"a": " b "}]'
    )
    assert (called.returncode, json.loads(called.stdout)) == (0, [{"data": {"a": "b"}}])


def test_the_scaffold_tests_catch_a_broken_function(tmp_path: Path) -> None:
    assert stack_runtime("init", str(tmp_path)).returncode == 0
    hooks = tmp_path / "extensions" / "diy" / "hooks.py"
    hooks.write_text(hooks.read_text().replace('"missing_id"', '"no_id_here"'))
    result = run_pytest(cwd=tmp_path)
    assert result.returncode == 1
    assert "1 failed" in result.stdout and "test_pre_save_page_reports_records_without_id" in (
        result.stdout
    )


def test_init_never_overwrites(tmp_path: Path) -> None:
    assert stack_runtime("init", cwd=tmp_path).returncode == 0
    hooks = tmp_path / "extensions" / "diy" / "hooks.py"
    hooks.write_text("# my own work\n")
    again = stack_runtime("init", cwd=tmp_path)
    assert again.returncode == 1
    assert "nothing was written" in again.stderr.decode()
    assert str(Path("extensions") / "diy" / "hooks.py") in again.stderr.decode()
    assert hooks.read_text() == "# my own work\n"


def test_one_existing_file_means_nothing_is_written(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_extensions.py").write_text("mine = True\n")
    result = stack_runtime("init", str(tmp_path))
    assert result.returncode == 1
    assert not (tmp_path / "extensions").exists()
    assert (tmp_path / "tests" / "test_extensions.py").read_text() == "mine = True\n"


def test_init_into_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "afile"
    target.write_text("x")
    result = stack_runtime("init", str(target))
    assert result.returncode == 2 and b"is not a folder" in result.stderr
