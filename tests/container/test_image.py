"""The Dockerfile, built with podman and run as a container (``make image-test``).

The image is built from this checkout's files, with one more extension folder beside the
bundled examples whose ``requirements.txt`` names a small package, on a local stand-in for
``python:3.11-slim`` (tests/container/podman.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from ..conftest import ROOT
from ..e2e.server import free_port
from .podman import SLIM, Podman, slim_stand_in
from .readme import first_call

TOKEN = "image-test-token"
# Each call on a connection of its own, closed after it: the drain waits for the call in
# flight only, not for this client's idle keep-alive connections (docs/deployment/container.md).
AUTH = {"Authorization": f"Bearer {TOKEN}", "Connection": "close"}
IMAGE = "localhost/stack-runtime-test/image:latest"
CONNECTOR = "0123456789abcdef01234567"
# The requirement the probe extension imports: small, pure Python, not one of
# stack-runtime's own dependencies.
REQUIREMENT = ("six", "1.17.0")
PROBE = '''"""Probe functions for the image test."""

import time

import six


def requirement(options):
    return {"version": six.__version__, "file": six.__file__}


def sleep(options):
    time.sleep(options["seconds"])
    return {"slept": options["seconds"]}
'''
README_CALL, README_ANSWER = first_call()


def build_context(into: Path) -> Path:
    """This checkout's files (all but the ignored ones), plus the probe connector and extensions/requirements.txt."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    probe = into / "extensions" / "connectors" / CONNECTOR
    probe.mkdir(parents=True)
    (probe / "__init__.py").write_text(PROBE)
    (into / "extensions" / "requirements.txt").write_text("==".join(REQUIREMENT) + "\n")
    return into


@pytest.fixture(scope="module")
def slim(podman: Podman, debian: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    return slim_stand_in(podman, debian, tmp_path_factory.mktemp("slim"))


@pytest.fixture(scope="module")
def image(podman: Podman, slim: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    context = build_context(tmp_path_factory.mktemp("context"))
    started = time.monotonic()
    output = podman.build(context, IMAGE)
    print(f"built {IMAGE} in {time.monotonic() - started:.0f} s")
    assert "Successfully tagged" in output, output[-3000:]
    return IMAGE


class Container:
    """A container of the image, started detached with its port on 127.0.0.1."""

    def __init__(self, podman: Podman, name: str, port: int) -> None:
        self.podman, self.name, self.port = podman, name, port
        self.url = f"http://127.0.0.1:{port}"

    def logs(self) -> str:
        done = self.podman("logs", self.name, check=False, quiet=True)
        return done.stdout + done.stderr

    def state(self, field: str) -> str:
        return self.podman(
            "inspect", "--format", "{{.State." + field + "}}", self.name
        ).stdout.strip()

    def post(self, envelope: dict[str, Any], **kwargs: Any) -> requests.Response:
        return requests.post(self.url + "/function", json=envelope, timeout=60, **kwargs)


@pytest.fixture
def container(podman: Podman, image: str) -> Iterator[Container]:
    port = free_port()
    name = f"stack-runtime-image-test-{port}"
    podman(
        "run", "--detach", "--name", name, "--publish", f"127.0.0.1:{port}:8080",
        "--cpus", "1", "--env", f"INTEGRATOR_EXTENSION_SYSTEM_TOKEN={TOKEN}", image,
    )  # fmt: skip
    running = Container(podman, name, port)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert running.state("Status") == "running", running.logs()
            try:
                livez = requests.get(running.url + "/livez", headers={"Connection": "close"})
                if livez.status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "no /livez in 60 s:\n" + running.logs()
            time.sleep(0.2)
        yield running
    finally:
        podman("rm", "--force", "--time", "0", name, check=False, quiet=True)


def test_the_image_serves_then_drains_on_sigterm_and_exits_0(
    container: Container, podman: Podman
) -> None:
    """/livez, the health check, a bundled function with the token (and not without it),
    a package from extensions/requirements.txt, one worker under --cpus 1; then
    ``podman stop`` (SIGTERM) during a call: the call is answered, the drain is logged,
    and the container exits 0."""
    assert podman("healthcheck", "run", container.name).returncode == 0
    answer = container.post(README_CALL, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.json() == README_ANSWER
    assert container.post(README_CALL, headers={"Connection": "close"}).status_code == 401

    probe = container.post(
        {"_connectorId": CONNECTOR, "function": "requirement", "options": {}}, headers=AUTH
    )
    assert probe.status_code == 200, probe.text + container.logs()
    assert probe.json()["version"] == REQUIREMENT[1]
    assert "/site-packages/" in probe.json()["file"]

    # The machine has more CPUs than the container may use: one worker, not one per CPU.
    assert container.logs().count("Booting worker with pid") == 1, container.logs()

    answers: list[requests.Response] = []
    call = threading.Thread(
        target=lambda: answers.append(
            container.post(
                {"_connectorId": CONNECTOR, "function": "sleep", "options": {"seconds": 2}},
                headers=AUTH,
            )
        )
    )
    call.start()
    time.sleep(0.5)  # the call is running
    started = time.monotonic()
    stopped = podman("stop", "--time", "330", container.name, timeout=400)
    took = time.monotonic() - started
    call.join(10)
    assert stopped.returncode == 0
    assert answers and answers[0].status_code == 200, container.logs()
    assert answers[0].json() == {"slept": 2}
    assert container.state("ExitCode") == "0", container.logs()
    logs = container.logs()
    assert "drainStarted" in logs and "calls=1" in logs, logs
    assert "drainFinished" in logs, logs
    print(f"stopped in {took:.1f} s (the call had 1.5 s to go)\n{logs}")


def test_the_image_runs_as_stack_with_no_build_leftovers(podman: Podman, image: str) -> None:
    """The process runs as ``stack``, which owns /app; the wheels were mounted, not copied
    in; the C modules are there; the health check and stop signal survive the build."""
    script = (
        "id -un; stat -c %U /app; stat -c %U /app/extensions; "
        "test ! -e /wheels && echo no-wheels; "
        "python -c 'import stack_runtime.core._plain, stack_runtime.core._lines, stack_runtime.server._request;"
        ' print("c-modules")\''
    )
    done = podman("run", "--rm", "--entrypoint", "sh", image, "-c", script)
    assert done.stdout.split() == ["stack", "stack", "root", "no-wheels", "c-modules"], done
    inspected = json.loads(podman("inspect", image).stdout)[0]
    assert inspected["Healthcheck"]["Test"][-1].startswith("import os, urllib.request")
    assert inspected["Config"]["StopSignal"] == "SIGTERM"
    history = podman("history", "--no-trunc", "--format", "{{.CreatedBy}}", image).stdout
    assert "--mount=type=bind,from=build,source=/wheels" in history, history
    assert "/wheels /wheels" not in history, history


def test_the_build_fails_when_the_c_modules_cannot_be_built(
    podman: Podman, slim: str, tmp_path: Path
) -> None:
    """A build stage without Python's headers: pip builds the wheel without the optional
    C modules, and the final stage's import check stops the build."""
    base = tmp_path / "no-headers"
    base.mkdir()
    (base / "Containerfile").write_text(
        f'FROM {SLIM}\nRUN rm -r "$(python -c \'import sysconfig; print(sysconfig.get_path("include"))\')"\n'
    )
    headless = "localhost/stack-runtime-test/no-headers:latest"
    podman.build(base, headless)
    context = build_context(tmp_path / "context")
    done = podman(
        "build", "--pull=never", "--format", "docker", "--from", headless,
        "-t", "localhost/stack-runtime-test/broken:latest", context,
        check=False, timeout=900,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode != 0, output[-3000:]
    assert "No module named 'stack_runtime.core._plain'" in output, output[-3000:]
