"""The benchmark's parts answer correctly: the floor server and the bench extensions.

wrk is not needed here; each workload's envelope goes once over HTTP to the real
``stack-runtime serve`` on ``bench/extensions`` and to the floor under uvicorn,
and both must answer exactly the body the benchmark checks under load.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bench.workloads import WORKLOADS, Workload, expected_body, request_body

from ..conftest import ROOT
from .server import RunningServer, free_port, start

pytestmark = pytest.mark.bench

TOKEN = "bench-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("bench-host") / "server.log"
    running = start(
        "serve", ROOT / "bench" / "extensions", log, token=TOKEN, extra=["--workers", "1"]
    )
    yield running
    running.stop()


def _serve_floor(log_path: Path, **env: str) -> Iterator[str]:
    port = free_port()
    log = log_path.open("w")
    environment = dict(os.environ, INTEGRATOR_EXTENSION_SYSTEM_TOKEN=TOKEN, **env)
    command = [sys.executable, "-m", "uvicorn", "--app-dir", str(ROOT / "bench"), "floor:app"]
    command += ["--port", str(port), "--lifespan", "off", "--no-access-log"]
    process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/function"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "the floor server exited"
            try:
                requests.post(url, data=b"{}", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the floor server did not start"
                time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        log.close()


@pytest.fixture(scope="module")
def floor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _serve_floor(tmp_path_factory.mktemp("bench-floor") / "floor.log")


@pytest.mark.parametrize("workload", WORKLOADS, ids=[w.name for w in WORKLOADS])
def test_stack_runtime_answers_each_workload(host: RunningServer, workload: Workload) -> None:
    response = requests.post(
        host.url + "/function", data=request_body(workload), headers=HEADERS, timeout=60
    )
    assert response.status_code == 200, response.text[:300]
    assert response.content == expected_body(workload)


@pytest.mark.parametrize("workload", WORKLOADS, ids=[w.name for w in WORKLOADS])
def test_the_floor_answers_each_workload(floor: str, workload: Workload) -> None:
    response = requests.post(floor, data=request_body(workload), headers=HEADERS, timeout=60)
    assert response.status_code == 200
    assert response.content == expected_body(workload)


def test_the_floor_checks_the_token(floor: str) -> None:
    body = request_body(WORKLOADS[0])
    wrong = {**HEADERS, "Authorization": "Bearer nope"}
    assert requests.post(floor, data=body, headers=wrong, timeout=10).status_code == 401


def test_the_logged_floor_answers_and_writes_two_lines_per_call(tmp_path: Path) -> None:
    log = tmp_path / "floor-logged.log"
    served = _serve_floor(log, FLOOR_LOG_LINES="1")
    url = next(served)
    try:
        for workload in WORKLOADS[:2]:
            response = requests.post(url, data=request_body(workload), headers=HEADERS, timeout=60)
            assert response.content == expected_body(workload)
    finally:
        served.close()
    lines = [line for line in log.read_text().splitlines() if " INFO logName=" in line]
    names = [line.split("logName=")[1].split(",")[0] for line in lines]
    assert names == ["callFunctionInvoked", "reqFinished"] * 2


def test_workloads_have_the_advertised_sizes() -> None:
    sizes = {w.name: len(request_body(w)) for w in WORKLOADS}
    assert 2_000 < sizes["small"] < 4_000
    assert 200_000 < sizes["page"] < 300_000
    big = len(expected_body(WORKLOADS[-1]))
    assert 4_500_000 < big <= 5 * 1024 * 1024  # about 5 MB, within the default limit


def test_node_hooks_mirror_the_python_hooks() -> None:
    """The Node reference's hooks (bench/node/diy.js) name the same functions."""
    source = (ROOT / "bench" / "node" / "diy.js").read_text()
    for workload in WORKLOADS:
        assert f"  {workload.function} (options, callback)" in source


def test_bench_help_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0 and "--rounds" in done.stdout


def test_a_quick_run_side_by_side_measures_both_servers(tmp_path: Path) -> None:
    """1. ``python -m bench --quick --side-by-side`` on ``small`` with stack-runtime and
    the floor, under wrk; 2. it exits 0 (every answer right) and prints both tables;
    3. the side-by-side run measured calls and CPU on both sides."""
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--side-by-side",
            "--workloads",
            "small",
            "--contenders",
            "stack-runtime,floor",
            "--scratch",
            str(tmp_path / "scratch"),
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "| small | stack-runtime |" in done.stdout
    assert "CPU per call side by side" in done.stdout
    (side,) = json.loads(out.read_text())["side_by_side"]
    assert side["contender"] == "stack-runtime" and side["workload"] == "small"
    assert side["requests"] > 100 and side["floor_requests"] > 100 and side["bad"] == 0
    assert side["cpu_us"] > 0 and side["floor_cpu_us"] > 0


def test_a_baseline_revision_is_built_and_measured_beside_the_others(tmp_path: Path) -> None:
    """1. ``--baseline HEAD`` builds this checkout's last commit with pip into the scratch
    folder; 2. a quick run on ``small`` measures it beside the floor, every answer right;
    3. an unknown revision is refused with a message, before anything runs."""
    head = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    commit = head.stdout.strip()
    out = tmp_path / "bench.json"
    common = [sys.executable, "-m", "bench", "--quick", "--workloads", "small"]
    common += ["--contenders", "floor", "--scratch", str(tmp_path / "scratch")]
    done = subprocess.run(
        [*common, "--baseline", "HEAD", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"| small | stack-runtime@{commit} |" in done.stdout
    (measured,) = [
        m for m in json.loads(out.read_text())["measurements"] if m["contender"] != "floor"
    ]
    assert measured["contender"] == f"stack-runtime@{commit}"
    assert measured["requests"] > 100 and measured["bad"] == 0
    assert (tmp_path / "scratch" / "baseline" / commit / ".built").is_file()

    refused = subprocess.run(
        [*common, "--baseline", "no-such-revision"], cwd=ROOT, capture_output=True, text=True
    )
    assert refused.returncode == 2
    assert "--baseline: no commit 'no-such-revision'" in refused.stderr
