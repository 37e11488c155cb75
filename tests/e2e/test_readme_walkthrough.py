"""The README's commands run as written: its ``make run`` and first call, and its first hook
(``init`` -> ``pytest`` -> the edit -> ``pytest`` -> ``invoke`` -> ``dev`` -> ``curl``), the
same on the site's first page.

Each ``sh`` block of a section runs line by line in ``bash``, in the folder its ``cd`` lines
lead to; a ``# {...}`` line under a command, or a ``json`` block right after the block, is the
output that command must print. A command that starts a server (``make run``, ``stack-runtime
dev``) runs in the background until the section is done, on a free port: ``PORT`` tells it
which, and the ``curl`` lines' ``127.0.0.1:8080`` becomes that port (the only change made to a
command). A ``python`` block that starts with ``def test_`` goes at the end of the project's
``tests/test_extensions.py``; one that shows a function with ``...`` around new lines puts
those lines after the line they follow in that function. ``make test`` is this suite itself
(``make fresh-test`` runs it on a fresh machine), and the install block's ``make dist`` and
``pip install`` run in ``test_dist.py``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from ..conftest import ROOT
from ..docs.markdown import DOCS, code_blocks, section, shell_commands
from .commands import clean_environment
from .server import free_port

#: Commands that start a server, which the next commands call.
SERVERS = re.compile(r"^(?:\S+=\S+ )*(?:make run|stack-runtime dev)\b")
SKIPPED = {"make test"}


def edit_function(project: Path, block: str) -> None:
    """Put the new lines of ``block`` (a function shown with ``...`` around them) into the
    function of that name in the project's ``extensions/diy``, after the line they follow."""
    lines = block.splitlines()
    name = re.match(r"def (\w+)\(", lines[0])
    assert name, block
    shown = [line for line in lines[1:] if line.strip() != "..."]
    anchor, new = shown[0], shown[1:]
    [source] = [
        path
        for path in (project / "extensions" / "diy").glob("*.py")
        if f"def {name.group(1)}(" in path.read_text()
    ]
    text = source.read_text().splitlines()
    start = next(i for i, line in enumerate(text) if line.startswith(f"def {name.group(1)}("))
    at = text.index(anchor, start)  # ValueError: the README's line is not in the function
    source.write_text("\n".join([*text[: at + 1], *new, *text[at + 1 :]]) + "\n")


class Server:
    """A command that serves, in a session of its own, stopped with Ctrl-C (SIGINT)."""

    def __init__(self, command: str, cwd: Path, env: dict[str, str], port: int) -> None:
        self.log = Path(env["HOME"]) / f"server-{port}.log"
        with self.log.open("w") as output:
            self.process = subprocess.Popen(
                ["bash", "-c", command],
                cwd=cwd,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 120
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/healthCheck", timeout=5)
                return
            except requests.ConnectionError:
                assert self.process.poll() is None, self.log.read_text()
                assert time.monotonic() < deadline, self.log.read_text()
                time.sleep(0.2)

    def stop(self) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode


def walk(document: Path, heading: str, cwd: Path, home: Path) -> list[str]:
    """Run the section ``heading`` of ``document`` as described above; the commands run."""
    text = section(document, heading)
    blocks = code_blocks(text)
    port = free_port()
    venv = Path(sys.executable).parent
    home.mkdir(exist_ok=True)
    env = clean_environment(
        PATH=f"{venv}{os.pathsep}{os.environ.get('PATH', '')}", HOME=str(home), PORT=str(port)
    )
    # make's own .venv is the one running these tests: -o keeps make from installing it anew
    make = f"make --no-print-directory -o {sys.prefix}/.installed VENV={sys.prefix} PORT={port}"
    ran: list[str] = []
    servers: list[Server] = []
    try:
        for number, block in enumerate(blocks):
            if block.info == "python":
                if block.text.startswith("def test_"):
                    with (cwd / "tests" / "test_extensions.py").open("a") as tests:
                        tests.write("\n\n" + block.text)
                else:
                    edit_function(cwd, block.text)
                continue
            if block.info != "sh":
                continue
            following = blocks[number + 1] if number + 1 < len(blocks) else None
            commands = shell_commands(block.text)
            if following and following.info == "json":
                commands[-1] = (commands[-1][0], following.text)
            for command, expected in commands:
                ran.append(command)
                if command.startswith("cd "):
                    cwd = cwd / shlex.split(command)[1]
                    assert cwd.is_dir(), command
                elif command.split("#")[0].strip() in SKIPPED:
                    continue
                elif SERVERS.match(command):
                    as_run = re.sub(r"^make run\b", f"{make} run", command)
                    servers.append(Server(as_run, cwd, env, port))
                else:
                    as_run = command.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
                    result = subprocess.run(
                        ["bash", "-c", as_run], cwd=cwd, env=env, capture_output=True,
                        text=True, timeout=300, check=False,
                    )  # fmt: skip
                    assert result.returncode == 0, (command, result.stdout, result.stderr)
                    if expected is not None:
                        assert json.loads(result.stdout) == json.loads(expected), command
    finally:
        for server in servers:
            server.stop()
    return ran


def heads(commands: list[str]) -> list[str]:
    """Each command's program, and its subcommand for ``stack-runtime`` and ``make``."""
    out = []
    for command in commands:
        words = [w for w in shlex.split(command, comments=True) if "=" not in w]
        out.append(" ".join(words[:2]) if words[0] in ("stack-runtime", "make") else words[0])
    return out


def test_the_readmes_two_commands_serve_its_first_call(tmp_path: Path) -> None:
    """``make run`` serves the bundled extensions, and the README's ``curl`` gets the
    answer the README shows."""
    ran = walk(ROOT / "README.md", "## Two commands", ROOT, tmp_path / "home")
    assert heads(ran) == ["make run", "make test", "curl"], ran


@pytest.mark.parametrize(
    "document", [ROOT / "README.md", DOCS / "index.md"], ids=["README", "docs-index"]
)
def test_the_first_hook_runs_as_written(document: Path, tmp_path: Path) -> None:
    """1. ``init`` and ``pytest``; 2. the edit and its test; 3. ``pytest``, ``invoke`` with the
    answer shown; 4. ``dev``, and ``curl`` with the answer shown."""
    ran = walk(document, "## Write your first hook", tmp_path, tmp_path / "home")
    assert heads(ran) == [
        "stack-runtime init",
        "cd",
        "pytest",
        "pytest",
        "echo",
        "stack-runtime invoke",
        "stack-runtime dev",
        "curl",
    ], ran
    tests = (tmp_path / "my-integration" / "tests" / "test_extensions.py").read_text()
    assert "def test_pre_save_page_drops_inactive_contacts(stack):" in tests
