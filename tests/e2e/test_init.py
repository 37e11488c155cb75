"""``stack-runtime init``: the scaffold is written, refuses to overwrite, and its tests pass."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path, PurePosixPath

import requests

from stack_runtime.devtools.scaffold import template_files

from ..conftest import stop_process
from ..docs.markdown import DOCS
from .commands import clean_environment, stack_runtime
from .server import free_port

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


def printed_steps(output: str) -> list[str]:
    """The commands of init's "Next:" block, in order (each after its ``# comment`` line)."""
    block = output.split("\nNext:\n", 1)[1]
    lines = [line.strip() for line in block.splitlines() if line.strip()]
    assert all(line.startswith("# ") for line in lines[0::2]), block
    return lines[1::2]


def test_every_printed_next_step_runs_as_written(tmp_path: Path) -> None:
    """1. init a project in a fresh folder; 2. run each command of its printed next steps, as
    printed, in a shell, in order: each succeeds (``dev`` serves a call, then stops on Ctrl-C).
    The port of ``dev`` comes from ``PORT``, so the test takes no well-known port."""
    created = stack_runtime("init", "my-integration", cwd=tmp_path)
    assert created.returncode == 0, created.stderr.decode()
    steps = printed_steps(created.stdout.decode())
    assert [s.split()[:2] for s in steps] == [
        ["cd", "my-integration"],
        ["pytest"],
        ["stack-runtime", "invoke"],
        ["stack-runtime", "package-lambda"],
        ["stack-runtime", "dev"],
    ]
    port = free_port()
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    environment = clean_environment(PATH=path, PORT=str(port))
    where = tmp_path
    for step in steps:
        if step.startswith("cd "):
            where = where / shlex.split(step)[1]
            assert where.is_dir(), step
        elif step == "stack-runtime dev":
            served = serve_one_call(step, where, environment, port)
            assert served == [{"data": {"id": 1, "name": "Ada"}}], served
        else:
            ran = subprocess.run(
                step, shell=True, cwd=where, env=environment, capture_output=True, timeout=300
            )
            assert ran.returncode == 0, (step, ran.stdout.decode(), ran.stderr.decode())
            if step.startswith("stack-runtime invoke"):
                page = json.loads((where / "records.json").read_text())
                assert len(page) >= 2 and len(json.loads(ran.stdout)) == len(page)
    assert zipfile.is_zipfile(where / "dist" / "stack-runtime-lambda.zip")


def serve_one_call(command: str, cwd: Path, env: dict[str, str], port: int) -> object:
    """Run ``command`` (``stack-runtime dev``), call preMap through it, stop it with Ctrl-C."""
    log = cwd / "dev.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            shlex.split(command), cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while not (token := re.search(r"using this token:\s+(\S+)", log.read_text())):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        while True:
            try:
                response = requests.post(
                    f"http://127.0.0.1:{port}/function",
                    json={"diy": True, "type": "hook", "function": "preMap",
                          "options": {"data": [{"id": 1, "name": " Ada "}]}},
                    headers={"Authorization": f"Bearer {token.group(1)}"},
                    timeout=10,
                )  # fmt: skip
                break
            except requests.ConnectionError:
                assert process.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        assert response.status_code == 200, response.text
        return response.json()
    finally:
        stopped = stop_process(process, signal.SIGINT, 30)  # Ctrl-C
        assert stopped == 0, (stopped, log.read_text())


def test_the_docs_plugin_example_passes_in_a_new_project(tmp_path: Path) -> None:
    """The testing page's example of the plugin's imports (``stack_runtime.testing``) runs
    as shown against the project ``init`` writes."""
    page = (DOCS / "testing.md").read_text()
    after = page.split("The fixture's type and the exceptions come from `stack_runtime.testing`:")
    example = after[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert "from stack_runtime.testing import" in example
    assert stack_runtime("init", cwd=tmp_path).returncode == 0
    (tmp_path / "tests" / "test_readme.py").write_text(example)
    result = run_pytest("tests/test_readme.py", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout, result.stdout
