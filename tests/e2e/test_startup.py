"""Start-up: what ``stack-runtime serve`` refuses, and how it says so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from ..conftest import FIXTURES, ROOT
from .server import free_port, start


def run_serve(
    extensions: Path, *, token: str | None = "t", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STACK_", "INTEGRATOR_"))}
    if token:
        env["INTEGRATOR_EXTENSION_SYSTEM_TOKEN"] = token
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "stack_runtime",
            "serve",
            "--extensions",
            str(extensions),
            "--port",
            str(free_port()),
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=cwd,
    )


def test_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    result = run_serve(FIXTURES / "protocol", token=None, cwd=tmp_path)
    assert result.returncode != 0
    assert "INTEGRATOR_EXTENSION_SYSTEM_TOKEN" in result.stderr


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    result = run_serve(FIXTURES / "syntax_error", cwd=tmp_path)
    assert result.returncode != 0
    assert "hooks.py, line 5" in result.stderr and "SyntaxError" in result.stderr


def test_import_error_names_file_and_line(tmp_path: Path) -> None:
    result = run_serve(FIXTURES / "import_error", cwd=tmp_path)
    assert result.returncode != 0
    assert "__init__.py, line 3" in result.stderr
    assert "RuntimeError: cannot reach the CRM at import time" in result.stderr


def test_empty_extensions_folder(tmp_path: Path) -> None:
    result = run_serve(FIXTURES / "empty", cwd=tmp_path)
    assert result.returncode != 0 and "no extensions found" in result.stderr


def test_missing_extensions_folder(tmp_path: Path) -> None:
    result = run_serve(tmp_path / "nowhere", cwd=tmp_path)
    assert result.returncode != 0 and "extensions folder not found" in result.stderr


@pytest.mark.parametrize("typed", ["/nonexistent/extensions", "nowhere", "../nowhere/ext"])
def test_a_missing_extensions_folder_is_named_as_typed(tmp_path: Path, typed: str) -> None:
    """The message names the folder as the user gave it, never a relative path they did not
    type (``/nonexistent`` used to read ``../../nonexistent``)."""
    (tmp_path / "deep" / "er").mkdir(parents=True)
    result = run_serve(Path(typed), cwd=tmp_path / "deep" / "er")
    assert result.returncode == 1
    assert result.stderr == (
        f"stack-runtime serve: cannot load extensions: {typed}: extensions folder not found\n"
    )


def test_a_file_outside_the_working_directory_is_named_by_its_whole_path(
    tmp_path: Path,
) -> None:
    (tmp_path / "here").mkdir()
    result = run_serve(FIXTURES / "syntax_error", cwd=tmp_path / "here")
    assert result.returncode == 1
    hooks = FIXTURES / "syntax_error" / "diy" / "hooks.py"
    assert f"{hooks}, line 5: SyntaxError" in result.stderr, result.stderr
    assert "../" not in result.stderr


def test_token_and_extensions_from_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"INTEGRATOR_EXTENSION_SYSTEM_TOKEN=from-dotenv\nSTACK_EXTENSIONS_DIR={FIXTURES / 'single_module'}\n"
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STACK_", "INTEGRATOR_"))}
    env["PORT"] = str(port)
    process = subprocess.Popen(
        [sys.executable, "-m", "stack_runtime", "serve", "--workers", "1", "--host", "127.0.0.1"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import time

        for _ in range(100):
            try:
                response = requests.post(
                    f"http://127.0.0.1:{port}/function",
                    json={
                        "diy": True,
                        "type": "hook",
                        "function": "preMap",
                        "options": {"data": [1]},
                    },
                    headers={"Authorization": "Bearer from-dotenv"},
                    timeout=5,
                )
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert response.status_code == 200 and response.json() == [{"data": 1}]
    finally:
        process.terminate()
        process.wait(30)


def test_bundled_examples_serve(tmp_path: Path) -> None:
    running = start("serve", ROOT / "extensions", tmp_path / "log", extra=["--workers", "1"])
    try:
        response = requests.post(
            running.url + "/function",
            json={
                "diy": True,
                "type": "hook",
                "function": "preSavePage",
                "options": {"data": [{"id": 1, "email": "A@Example.com", "firstName": "Ada"}]},
            },
            headers={"Authorization": "Bearer test-token"},
            timeout=10,
        )
        assert response.status_code == 200
        assert response.json()["data"][0]["email"] == "a@example.com"
    finally:
        running.stop()
