"""``stack-runtime package-lambda``: the zip alone, unzipped, serves under AWS's runtime client.

The wheels come from the package index through pip, as they do for a user.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack_runtime.aws_lambda.package import runs_on
from stack_runtime.aws_lambda.target import LambdaTarget

from ..conftest import FIXTURES
from .events import function_url_event
from .runtime import LambdaRuntime

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
ARCH = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]
TOKEN = "zip-token"
NOT_ON_LAMBDA = ("uvicorn", "gunicorn", "pydantic", "requests", "watchfiles", "httptools")


def package_lambda(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "stack_runtime", "package-lambda", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=cwd)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """The zip for this machine's architecture and Python, and what the command printed."""
    work = tmp_path_factory.mktemp("package")
    output = work / "out" / "function.zip"
    result = package_lambda(
        "--extensions",
        FIXTURES / "lambda_probe",
        "--output",
        output,
        "--arch",
        ARCH,
        "--python-version",
        PYTHON,
        cwd=work,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    yield output, result.stdout


def unzip(archive: Path, into: Path) -> None:
    """Extract as Lambda does, keeping each file's mode (the wrapper is executable)."""
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            path = Path(zipped.extract(info, into))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                path.chmod(mode)


def test_report_says_what_went_in_and_how_to_configure(built: tuple[Path, str]) -> None:
    output, report = built
    for name in ("stack_runtime", "orjson", "awslambdaric", "simplejson", "starlette", "mangum"):
        assert f"\n  {name} " in report, report
    assert "extensions/ (from " in report
    assert "handler        stack_runtime.aws_lambda.handler" in report
    assert f"runtime        python{PYTHON}" in report
    assert f"architecture   {ARCH}" in report
    assert "AWS_LAMBDA_EXEC_WRAPPER=/var/task/stack-runtime-lambda" in report
    size_mib = output.stat().st_size / (1024 * 1024)
    assert f"wrote {output}: {size_mib:.1f} MiB" in report


def test_zip_holds_what_the_lambda_path_needs_and_stays_small(built: tuple[Path, str]) -> None:
    output, _ = built
    assert output.stat().st_size < 15 * 1024 * 1024
    with zipfile.ZipFile(output) as zipped:
        names = set(zipped.namelist())
        wrapper = zipped.getinfo("stack-runtime-lambda")
    assert (wrapper.external_attr >> 16) & 0o777 == 0o755
    assert {
        "stack_runtime/aws_lambda/lambda_handler.py",
        "stack_runtime/aws_lambda/bootstrap.py",
        "extensions/diy/__init__.py",
        "awslambdaric/bootstrap.py",
        "mangum/adapter.py",
    } <= names
    assert any(n.startswith("orjson/") and n.endswith(".so") for n in names)
    assert any(n.startswith("runtime_client.") and n.endswith(".so") for n in names)
    for module in ("_plain", "_lines"):
        assert any(
            n.startswith(f"stack_runtime/core/{module}.") and n.endswith(".so") for n in names
        )
    tag = sys.implementation.cache_tag
    assert f"stack_runtime/aws_lambda/__pycache__/lambda_handler.{tag}.pyc" in names
    # The server stack and the author's tools stay out, with what imports them.
    ours = {
        n.removeprefix("stack_runtime/").split("/")[0]
        for n in names
        if n.startswith("stack_runtime/")
    }
    assert not ours & {
        "server",
        "devtools",
        "cli.py",
        "__main__.py",
        "testing.py",
        "pytest_plugin.py",
    }
    assert {"core", "asgi", "aws_lambda", "tracing", "settings.py", "types.py"} <= ours, ours
    tops = {n.split("/")[0] for n in names}
    assert not [t for t in tops if t.startswith(NOT_ON_LAMBDA)], sorted(tops)
    assert "bin" not in tops


def test_the_unzipped_folder_alone_serves_under_the_runtime_client(
    built: tuple[Path, str], tmp_path: Path
) -> None:
    """1. Unzip into an empty folder.
    2. Start it as a managed runtime does with AWS_LAMBDA_EXEC_WRAPPER set: the wrapper
       script gets the interpreter and the runtime's arguments; the interpreter here
       runs with -S, so no installed package is visible, only the folder.
    3. Invoke with integrator.io's client context, then over HTTP: the handler answers
       without the server stack and the author's tools, which the zip leaves out.
    4. Import every module left in the zip: none needs a part that is not there.
    """
    task = tmp_path / "task"
    task.mkdir()
    unzip(built[0], task)
    interpreter = tmp_path / "python-without-site"
    interpreter.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "$@"\n')
    interpreter.chmod(0o755)
    command = [str(task / "stack-runtime-lambda"), str(interpreter), "/var/runtime/bootstrap.py"]
    env = {"LAMBDA_TASK_ROOT": str(task), "INTEGRATOR_EXTENSION_SYSTEM_TOKEN": TOKEN}
    with LambdaRuntime(tmp_path / "log", command=command, env=env, cwd=task) as runtime:
        answer = runtime.invoke({"name": "zip"}, {"diy": True, "function": "hello"})
        assert answer.kind == "response", runtime.output()
        assert answer.json() == {"hello": "zip", "python": sys.version_info[:2] == (3, 11)}

        origins = runtime.invoke({}, {"diy": True, "function": "origins"}).json()
        assert set(origins) >= {"stack_runtime", "orjson", "awslambdaric", "simplejson"}
        for name, file in origins.items():
            assert Path(file).resolve().is_relative_to(task.resolve()), (name, file)
        assert runtime.invoke({}, {"diy": True, "function": "loadedModules"}).json() == []

        probe = {"diy": True, "function": "origins", "options": {}}
        good = function_url_event(
            "/function", body=probe, headers={"authorization": f"Bearer {TOKEN}"}
        )
        response = runtime.invoke(good).json()
        assert response["statusCode"] == 200, response
        for name in ("starlette", "mangum"):
            assert Path(json.loads(response["body"])[name]).resolve().is_relative_to(task.resolve())
        bad = function_url_event("/function", body=probe, headers={"authorization": "Bearer nope"})
        assert runtime.invoke(bad).json()["statusCode"] == 401

        # Last, as it imports everything: no module the zip holds needs a part it leaves out.
        parts = runtime.invoke({}, {"diy": True, "function": "missingParts"}).json()
        assert parts["missing"] == {}, parts
        assert "stack_runtime.aws_lambda.lambda_handler" in parts["checked"], parts
        assert "stack_runtime.core.dispatcher" in parts["checked"], parts


def test_a_dependency_without_a_fitting_wheel_is_refused_by_name(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("PyYAML==5.3.1\n")  # published before manylinux wheels of PyYAML
    output = tmp_path / "function.zip"
    result = package_lambda(
        "--extensions", FIXTURES / "lambda_probe", "-o", output, "-r", requirements,
        "--arch", "x86_64", "--python-version", "3.11", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert "no wheel of PyYAML==5.3.1 fits python3.11 on x86_64 (glibc 2.26)" in result.stderr
    assert "Lambda cannot build from source" in result.stderr
    assert not output.exists()
    assert not list(tmp_path.glob("*.partial"))


def test_extensions_that_do_not_compile_are_refused_before_anything_is_fetched(
    tmp_path: Path,
) -> None:
    result = package_lambda("--extensions", FIXTURES / "syntax_error", "-o", "f.zip", cwd=tmp_path)
    assert result.returncode == 1
    assert "hooks.py, line 5: SyntaxError" in result.stderr
    assert "collecting wheels" not in result.stderr
    assert not (tmp_path / "f.zip").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--python-version", "3.9"], "Python 3.9 is not a supported Lambda runtime"),
        (["--extensions", "missing"], "extensions folder not found"),
    ],
)
def test_bad_targets_are_refused(tmp_path: Path, flags: list[str], message: str) -> None:
    args = ["--extensions", str(FIXTURES / "lambda_probe"), "-o", "f.zip", *flags]
    result = package_lambda(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert message in result.stderr


def test_the_compiled_check_goes_only_to_the_python_and_machine_it_was_built_for() -> None:
    built_here = Path(
        f"_plain.cpython-311-{'aarch64' if ARCH == 'arm64' else 'x86_64'}-linux-gnu.so"
    )
    other_arch = "x86_64" if ARCH == "arm64" else "arm64"
    assert runs_on(built_here, LambdaTarget(ARCH, "3.11"))
    assert not runs_on(built_here, LambdaTarget(other_arch, "3.11"))
    assert not runs_on(built_here, LambdaTarget(ARCH, "3.12"))
    assert runs_on(Path("handler.py"), LambdaTarget(other_arch, "3.12"))
