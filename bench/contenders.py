"""The servers the benchmark compares, and how to start, find and stop each one."""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .machine import children

__all__ = [
    "BENCH",
    "Contender",
    "Running",
    "baseline",
    "free_port",
    "node_reference",
    "python_contenders",
]

BENCH = Path(__file__).resolve().parent
NODE_SOURCES = ("package.json", "server.js", "diy.js")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Contender:
    """One server under test."""

    name: str
    about: str
    command: Callable[[int], list[str]]
    """The command line that serves on the given port."""
    cwd: Path = BENCH
    env: dict[str, str] = field(default_factory=dict)
    forks_worker: bool = False
    """True when the started process is a master whose one child does the serving."""


class Running:
    """A started contender: its processes, port and log."""

    def __init__(
        self, contender: Contender, process: subprocess.Popen[bytes], port: int, log: Path
    ):
        self.contender = contender
        self.process = process
        self.port = port
        self.log = log

    @property
    def worker(self) -> int:
        """The process that serves requests (whose memory the benchmark reports)."""
        if self.contender.forks_worker:
            kids = children(self.process.pid)
            if kids:
                return kids[0]
        return self.process.pid

    @property
    def pids(self) -> list[int]:
        """Every process of this server."""
        return [self.process.pid, *children(self.process.pid)]

    def post(self, body: bytes, token: str) -> tuple[int, bytes]:
        """One ``POST /function`` outside the load generator: status and body."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
            connection.request("POST", "/function", body, headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def wait_ready(self, body: bytes, token: str, timeout: float = 60) -> None:
        """Wait until the server answers a call; raise with its log if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.contender.name} exited:\n{self.log.read_text()[-3000:]}")
            try:
                self.post(body, token)
                if not self.contender.forks_worker or children(self.process.pid):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.contender.name} did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        """Stop the server and everything it started."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start(contender: Contender, core: int | None, token: str, logs: Path) -> Running:
    """Start ``contender`` on a free port, pinned to ``core`` when one is given."""
    port = free_port()
    command = contender.command(port)
    if core is not None:
        command = ["taskset", "-c", str(core), *command]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STACK_", "INTEGRATOR_"))}
    env.update(contender.env)
    env["INTEGRATOR_EXTENSION_SYSTEM_TOKEN"] = token
    env["PORT"] = str(port)
    log = logs / f"{contender.name}-{port}.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command,
            cwd=contender.cwd,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Running(contender, process, port, log)


def _on_loopback(module: str, port: int, *args: str) -> list[str]:
    """``python -m module args...`` listening on ``127.0.0.1:port``."""
    return [sys.executable, "-m", module, *args, "--host", "127.0.0.1", "--port", str(port)]


def floor_command(port: int) -> list[str]:
    """The floor (``bench/floor.py``) under uvicorn on ``port``."""
    options = ("--http", "httptools", "--loop", "uvloop", "--no-access-log", "--lifespan", "off")
    return _on_loopback(
        "uvicorn", port, "--app-dir", str(BENCH), "floor:app", *options, "--log-level", "warning"
    )


def serve_command(port: int) -> list[str]:
    """``stack-runtime serve`` with one worker on ``port``, on the benchmark's extensions."""
    return _on_loopback(
        "stack_runtime", port, "serve", "--workers", "1", "--extensions", str(BENCH / "extensions")
    )


def python_contenders() -> list[Contender]:
    """``stack-runtime serve`` with one worker, the floor under uvicorn, and the floor that
    logs (run only when asked for: ``--contenders ...,floor-logged``)."""
    return [
        Contender(
            "stack-runtime",
            "stack-runtime serve --workers 1 (gunicorn, one uvicorn worker, log level info)",
            serve_command,
            forks_worker=True,
        ),
        Contender(
            "floor",
            "bare ASGI callable under uvicorn (httptools, uvloop, no access log)",
            floor_command,
        ),
        Contender(
            "floor-logged",
            "the floor, writing the reference's two log lines per call (FLOOR_LOG_LINES=1)",
            floor_command,
            env={"FLOOR_LOG_LINES": "1"},
        ),
    ]


def _digest(folder: Path) -> str:
    sha = hashlib.sha256()
    for name in NODE_SOURCES:
        sha.update((folder / name).read_bytes())
    return sha.hexdigest()


def _failed(command: list[str], cwd: Path) -> str | None:
    """Run a setup step (an install, a build) in ``cwd``: why it failed, or None."""
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900)
    if done.returncode == 0:
        return None
    return f"{' '.join(command[:3])} ... failed: {done.stderr.strip()[-500:]}"


def node_reference(scratch: Path) -> Contender | str:
    """The Node reference installed into ``scratch``, or why it cannot run."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return "node and npm are not both installed"
    folder = scratch / "node-reference"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = folder / ".installed"
    wanted = _digest(BENCH / "node")
    if not stamp.is_file() or stamp.read_text() != wanted:
        for name in NODE_SOURCES:
            shutil.copyfile(BENCH / "node" / name, folder / name)
        print(f"installing the Node reference into {folder} (npm install) ...", flush=True)
        failed = _failed(
            [npm, "install", "--no-audit", "--no-fund", "--omit=dev", "--loglevel=error"], folder
        )
        if failed:
            return failed
        stamp.write_text(wanted)
    return Contender(
        "node",
        "integrator-extension 0.3.12 behind Express 4.21 (body-parser 50 MB, express-winston)",
        lambda port: [node, "server.js"],
        cwd=folder,
    )


def baseline(revision: str, scratch: Path) -> Contender | str:
    """``stack-runtime serve`` as it was at the git ``revision``, or why it cannot run.

    The revision's files (``git archive``) are built into a wheel by pip (C
    extensions too) and unpacked under ``scratch``, once per commit; the
    contender runs them ahead of the installed project on ``PYTHONPATH``, with
    this environment's dependencies.
    """
    root = BENCH.parent
    found = subprocess.run(
        ["git", "rev-parse", "--verify", "--short=12", f"{revision}^{{commit}}"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if found.returncode != 0:
        return f"no commit {revision!r} in {root}: {found.stderr.strip()}"
    commit = found.stdout.strip()
    folder = scratch / "baseline" / commit
    site = folder / "site"
    if not (folder / ".built").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        tree, wheels = folder / "tree", folder / "wheels"
        tree.mkdir(parents=True)
        print(f"building stack-runtime at {commit} into {folder} (pip wheel) ...", flush=True)
        archive = subprocess.run(["git", "archive", commit], cwd=root, capture_output=True)
        if archive.returncode != 0:
            return f"git archive {commit} failed: {archive.stderr.decode().strip()[-500:]}"
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        failed = _failed(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), "."],
            tree,
        )
        if failed:
            return failed
        for wheel in wheels.glob("*.whl"):
            shutil.unpack_archive(wheel, site, "zip")
        (folder / ".built").write_text(commit)
    env = {"PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import stack_runtime; print(stack_runtime.__file__)"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    if not where.stdout.strip().startswith(str(site)):
        return f"the build of {commit} is not the one Python imports: {where.stdout.strip()}"
    return Contender(
        f"stack-runtime@{commit}",
        f"stack-runtime serve --workers 1 as at commit {commit}",
        serve_command,
        env=env,
        forks_worker=True,
    )
