"""How the runtime starts: the entry point, AWS's runtime client alone, init errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import FIXTURES
from .conftest import function_error
from .emulator import RuntimeApiEmulator
from .runtime import ENTRY, PLAIN_RIC, LambdaRuntime, lambda_environment

INTEGRATOR_CONTEXT = {"diy": True, "type": "hook", "function": "echo"}
#: Imports every submodule of stack_runtime, then runs a module as ``python -m``.
EVERY_MODULE = Path(__file__).with_name("every_module.py")


def task_root(tmp_path: Path, fixture: str) -> Path:
    """A deployment-package root with ``fixture`` as its ``extensions/`` folder."""
    root = tmp_path / "task"
    shutil.copytree(FIXTURES / fixture, root / "extensions")
    return root


def test_plain_runtime_client_drops_the_envelope_and_says_so(tmp_path: Path) -> None:
    """AWS's runtime client alone keeps only client/custom/env of the client context:
    the handler cannot see integrator.io's envelope and answers with how to fix it."""
    with LambdaRuntime(tmp_path / "log", extensions=FIXTURES / "protocol", command=PLAIN_RIC) as rt:
        message = function_error(rt.invoke({"data": [1]}, INTEGRATOR_CONTEXT))
        assert message["statusCode"] == 500
        [error] = message["errors"]
        assert error["code"] == "runtime_not_configured"
        assert "AWS_LAMBDA_EXEC_WRAPPER=/var/task/stack-runtime-lambda" in error["message"]
        assert "logName=envelopeDropped" in rt.output()

        # The whole envelope as the event needs no client context, so it works here too.
        envelope = {**INTEGRATOR_CONTEXT, "options": {"data": [1]}}
        answer = rt.invoke(envelope)
        assert answer.kind == "response" and answer.json() == {"data": [1]}


def test_the_entry_point_sees_the_same_invocation_whole(runtime: LambdaRuntime) -> None:
    answer = runtime.invoke({"data": [1]}, {**INTEGRATOR_CONTEXT, "custom": {"k": "v"}})
    assert answer.kind == "response" and answer.json() == {"data": [1]}


@pytest.mark.parametrize(
    ("fixture", "error_type", "message"),
    [
        (
            "import_error",
            "ExtensionLoadError",
            "extensions/diy/__init__.py, line 3: RuntimeError: cannot reach the CRM at import time",
        ),
        ("syntax_error", "ExtensionLoadError", "extensions/diy/hooks.py, line 5: SyntaxError"),
        ("empty", "ExtensionLoadError", "extensions: no extensions found"),
    ],
)
@pytest.mark.parametrize("command", [ENTRY, PLAIN_RIC], ids=["entry", "plain"])
def test_an_extension_that_fails_to_load_is_an_init_error(
    tmp_path: Path, fixture: str, error_type: str, message: str, command: tuple[str, ...]
) -> None:
    root = task_root(tmp_path, fixture)
    env = {"LAMBDA_TASK_ROOT": str(root)}
    with LambdaRuntime(tmp_path / "log", command=command, env=env, cwd=root) as runtime:
        error = runtime.init_error()
        assert runtime.exit_code() == 1
        body = error.json()
        assert set(body) >= {"errorMessage", "errorType", "stackTrace"}
        assert error.headers["lambda-runtime-function-error-type"] == error_type
        assert body["errorType"] == error_type
        assert body["errorMessage"].startswith(message), body
        assert message in runtime.output()


def test_the_default_extensions_folder_is_in_the_task_root(tmp_path: Path) -> None:
    root = task_root(tmp_path, "protocol")
    env = {"LAMBDA_TASK_ROOT": str(root)}
    with LambdaRuntime(tmp_path / "log", env=env, cwd=root) as runtime:
        answer = runtime.invoke(
            {"numbers": [2, 3]}, {"diy": True, "type": "utility", "function": "sum"}
        )
        assert answer.json() == 5


def test_a_bad_setting_is_an_init_error(tmp_path: Path) -> None:
    env = {"STACK_LOG_LEVEL": "chatty"}
    with LambdaRuntime(tmp_path / "log", extensions=FIXTURES / "protocol", env=env) as runtime:
        body = runtime.init_error().json()
        assert body["errorType"] == "SettingsError"
        assert "STACK_LOG_LEVEL must be one of" in body["errorMessage"]


def entry_without_lambda(**env: str) -> subprocess.CompletedProcess[str]:
    with RuntimeApiEmulator() as emulator:
        environment = lambda_environment(emulator, **env)
    if not env.get("AWS_LAMBDA_RUNTIME_API", True):
        del environment["AWS_LAMBDA_RUNTIME_API"]
    return subprocess.run(ENTRY, env=environment, capture_output=True, text=True, timeout=60)


def test_entry_point_outside_lambda_says_what_is_missing() -> None:
    result = entry_without_lambda(AWS_LAMBDA_RUNTIME_API="")
    assert result.returncode == 2
    assert "AWS_LAMBDA_RUNTIME_API is not set" in result.stderr


def test_entry_point_refuses_multi_concurrency() -> None:
    result = entry_without_lambda(AWS_LAMBDA_MAX_CONCURRENCY="4")
    assert result.returncode == 2
    assert "Lambda Managed Instances" in result.stderr


def test_entry_point_help() -> None:
    result = subprocess.run([*ENTRY[:3], "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "usage: python -m stack_runtime.aws_lambda [HANDLER]" in result.stdout
    assert "AWS_LAMBDA_EXEC_WRAPPER=/var/task/stack-runtime-lambda" in result.stdout


def test_importing_every_module_first_leaves_the_handler_callable(tmp_path: Path) -> None:
    """1. Import every module of stack_runtime (pkgutil.walk_packages), the Lambda face's
    own included; 2. only then look up ``stack_runtime.aws_lambda.handler``: it is the
    built handler, not a submodule that took its name."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STACK_", "AWS_", "LAMBDA_"))}
    env["STACK_EXTENSIONS_DIR"] = str(FIXTURES / "protocol")
    result = subprocess.run(
        [sys.executable, str(EVERY_MODULE)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    import stack_runtime

    package = Path(stack_runtime.__file__).parent
    modules = {
        ".".join(("stack_runtime", *path.relative_to(package).with_suffix("").parts)).removesuffix(
            ".__init__"
        )
        for path in package.rglob("*.py")
        if "_scaffold" not in path.parts and path.stem != "__main__"
    }
    assert "stack_runtime.aws_lambda.lambda_handler" in modules
    assert modules - {"stack_runtime"} <= set(lines["imported"].split())
    assert lines["handler"] == "stack_runtime.aws_lambda.lambda_handler.LambdaHandler callable=True"


@pytest.mark.parametrize("command", [ENTRY, PLAIN_RIC], ids=["entry", "plain"])
def test_the_configured_handler_serves_after_every_module_is_imported(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    """AWS's runtime client resolves the configured handler in a process that imported
    every module of stack_runtime first, and the invocation is answered."""
    first = (sys.executable, str(EVERY_MODULE), "-m", *command[2:])
    with LambdaRuntime(tmp_path / "log", extensions=FIXTURES / "protocol", command=first) as rt:
        envelope = {**INTEGRATOR_CONTEXT, "options": {"data": [1]}}
        answer = rt.invoke(envelope)
        assert answer.kind == "response" and answer.json() == {"data": [1]}, rt.output()
        if command == ENTRY:
            answer = rt.invoke({"data": [2]}, INTEGRATOR_CONTEXT)
            assert answer.kind == "response" and answer.json() == {"data": [2]}, rt.output()
