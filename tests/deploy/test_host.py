"""One host on its own: the drain step by step, stuck threads, metrics, the image's command."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from ..conftest import ROOT
from ..e2e.server import free_port
from .stack import AUTH, EXTENSIONS, TOKEN, Host, records, wait_until


def _post(port: int, function: str, call_id: str, **options: object) -> requests.Response:
    return requests.post(
        f"http://127.0.0.1:{port}/function",
        json={"diy": True, "function": function, "options": {"id": call_id, **options}},
        headers={**AUTH, "Connection": "close"},
        timeout=60,
    )


def test_sigterm_drains_calls_and_kept_connections(tmp_path: Path) -> None:
    """1. an idle keep-alive connection is open, and a call runs (held by a gate);
    2. SIGTERM: new connections are refused at once;
    3. a request on the kept connection is answered, with Connection: close;
    4. the gate opens: the running call answers, with Connection: close;
    5. the host exits 0."""
    (tmp_path / "records").mkdir()
    host = Host("solo", tmp_path, workers=1)
    host.start()
    try:
        kept = http.client.HTTPConnection("127.0.0.1", host.port, timeout=30)
        kept.request("GET", "/healthCheck")
        assert kept.getresponse().read() == b'{"success":true}'

        running: dict[str, http.client.HTTPResponse | bytes] = {}

        def gated() -> None:
            connection = http.client.HTTPConnection("127.0.0.1", host.port, timeout=60)
            body = json.dumps({"diy": True, "function": "gated", "options": {"id": "held"}})
            connection.request(
                "POST", "/function", body, {**AUTH, "Content-Type": "application/json"}
            )
            answer = connection.getresponse()
            running["answer"], running["body"] = answer, answer.read()

        caller = threading.Thread(target=gated)
        caller.start()
        wait_until(lambda: len(records(tmp_path)) == 1, 30, "the gated call to start")

        host.terminate()
        wait_until(host.refuses_connections, 10, "the host to stop listening")
        assert host.process is not None and host.process.poll() is None

        kept.request("GET", "/readyz")
        late = kept.getresponse()
        assert late.status == 503 and late.getheader("connection") == "close"
        late.read()

        (tmp_path / "gate").write_text("open")
        caller.join(30)
        answer = running["answer"]
        assert isinstance(answer, http.client.HTTPResponse)
        assert answer.status == 200 and answer.getheader("connection") == "close"
        assert json.loads(running["body"])["id"] == "held"  # type: ignore[arg-type]
        assert host.wait(30) == 0
        log = host.log.read_text()
        assert "drainFinished" in log
        assert "Error while closing socket" not in log  # each listener is closed once
    finally:
        host.stop()


def test_a_stopped_host_stops_listening_even_while_a_child_holds_the_socket(
    tmp_path: Path,
) -> None:
    """1. a call forks a child process, which holds a copy of the listening socket;
    2. SIGTERM: the host drains and exits 0 while the child lives on;
    3. a new connection to the host's port is refused (the kernel queues it for
    nobody), although the child still holds the socket."""
    (tmp_path / "records").mkdir()
    host = Host("forker", tmp_path, workers=2)
    host.start()
    child = 0
    try:
        answer = _post(host.port, "fork_sleeper", "fork-1", seconds=60)
        assert answer.status_code == 200
        child = answer.json()["child"]
        host.terminate()
        assert host.wait(30) == 0
        assert os.path.exists(f"/proc/{child}")  # the child outlived the host
        with socket.socket() as probe:
            probe.settimeout(5)
            with pytest.raises(ConnectionRefusedError):
                probe.connect(("127.0.0.1", host.port))
    finally:
        if child:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        host.stop()


def test_stuck_threads_are_replaced_and_an_exhausted_worker_retires(tmp_path: Path) -> None:
    """1. a worker with a pool of 2 threads gets 2 calls that never return: both time out;
    2. a def call still answers (the stuck threads were replaced, not waited for);
    3. the worker, its pool exhausted, retires after its calls; gunicorn starts another;
    4. the host goes on answering, from the new worker."""
    (tmp_path / "records").mkdir()
    host = Host("pool", tmp_path, workers=1, extra=("--threads", "2", "--drain-idle-wait", "1"))
    host.start()
    try:
        first = host.worker_pids()
        hung = [
            threading.Thread(target=lambda n=n: _post(host.port, "hang", f"hang-{n}"))
            for n in range(2)
        ]
        for thread in hung:
            thread.start()
        for thread in hung:
            thread.join(30)
        assert _post(host.port, "hang", "hang-3").json()["errors"][0]["code"] == "function_timeout"
        answer = _post(host.port, "record", "after-hangs")
        assert answer.status_code == 200 and answer.json()["id"] == "after-hangs"

        wait_until(
            lambda: "threadPoolExhausted" in host.log.read_text(), 30, "the worker to retire"
        )
        wait_until(
            lambda: host.worker_pids() and not host.worker_pids() & first, 60, "a new worker"
        )
        answer = _post(host.port, "record", "new-worker")
        assert answer.status_code == 200 and answer.json()["pid"] not in first
    finally:
        host.stop()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_add_up_across_workers(tmp_path: Path) -> None:
    """1. calls of every outcome on a host with two workers;
    2. /metrics on either worker counts all of them; it needs the token on the main port,
       not on --metrics-port, where nothing else is served;
    3. a call in flight shows in the gauge, and leaves it when its worker is killed."""
    (tmp_path / "records").mkdir()
    dirs_before = _metrics_dirs()
    metrics_port = free_port()
    host = Host(
        "metrics",
        tmp_path,
        workers=2,
        extra=("--metrics-port", str(metrics_port), "--drain-idle-wait", "1"),
    )
    host.start()
    try:
        pids: set[int] = set()
        sent = 0
        with ThreadPoolExecutor(8) as pool:  # concurrent connections reach both workers
            while len(pids) < 2 and sent < 400:
                batch = [f"m-{sent + n}" for n in range(8)]
                sent += len(batch)
                for answer in pool.map(lambda i: _post(host.port, "record", i, sleep=0.05), batch):
                    assert answer.status_code == 200
                    pids.add(answer.json()["pid"])
        assert len(pids) == 2, "the calls should have reached both workers"
        assert _post(host.port, "recurse", "r").status_code == 422
        assert _post(host.port, "hang_async", "h").json()["errors"][0]["code"] == "function_timeout"
        assert _post(host.port, "noSuchFunction", "x").status_code == 422

        assert requests.get(host.url + "/metrics", timeout=10).status_code == 401

        def all_counted() -> bool:
            text = requests.get(host.url + "/metrics", headers=AUTH, timeout=10).text
            samples = _samples(text)
            return (
                _value(samples, "stack_runtime_calls_total", function="record", outcome="success")
                == sent
                and _value(samples, "stack_runtime_calls_total", function="", outcome="rejected")
                == 1
                and _value(
                    samples, "stack_runtime_calls_total", function="hang_async", outcome="timeout"
                )
                == 1
            )

        # Each worker adds its counts to the shared files on its next tick (0.1 s): the
        # worker that answers a scrape is current, the other may be a tick behind.
        wait_until(all_counted, 10, "every call's count")
        for _ in range(4):  # whichever worker answers, the sums are the same
            text = requests.get(host.url + "/metrics", headers=AUTH, timeout=10).text
            samples = _samples(text)
            assert (
                _value(samples, "stack_runtime_calls_total", function="record", outcome="success")
                == sent
            )
            assert (
                _value(
                    samples,
                    "stack_runtime_call_duration_seconds_count",
                    function="record",
                    outcome="success",
                )
                == sent
            )
            assert (
                _value(
                    samples, "stack_runtime_call_errors_total", function="recurse", outcome="error"
                )
                == 1
            )
            assert (
                _value(
                    samples, "stack_runtime_calls_total", function="hang_async", outcome="timeout"
                )
                == 1
            )
            assert (
                _value(samples, "stack_runtime_calls_total", function="", outcome="rejected") == 1
            )
            assert _value(samples, "stack_runtime_calls_in_flight", function="record") == 0

        apart = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)
        assert apart.status_code == 200 and "stack_runtime_calls_total" in apart.text
        assert _post(metrics_port, "record", "wrong-port").status_code == 404

        def held_call() -> None:
            with contextlib.suppress(requests.ConnectionError):  # its worker is killed below
                _post(host.port, "gated", "in-flight")

        held = threading.Thread(target=held_call)
        held.start()
        wait_until(
            lambda: any(r["id"] == "in-flight" for r in records(tmp_path)), 30, "the held call"
        )

        def in_flight() -> float:
            text = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
            return _value(_samples(text), "stack_runtime_calls_in_flight", function="gated")

        wait_until(lambda: in_flight() == 1, 10, "the held call in the gauge")
        pid = next(r["pid"] for r in records(tmp_path) if r["id"] == "in-flight")
        os.kill(pid, signal.SIGKILL)
        held.join(30)
        wait_until(lambda: in_flight() == 0, 30, "the dead worker's gauge to go")
    finally:
        host.stop()
    assert _metrics_dirs() == dirs_before, "the host left its metrics folder behind"


def _metrics_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("stack-runtime-metrics-*")}


def _dockerfile() -> dict[str, object]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    final = text[text.rindex("\nFROM ") :]
    env: dict[str, str] = {}
    for line in final.splitlines():
        if line.startswith("ENV "):
            env.update(dict(pair.split("=", 1) for pair in shlex.split(line[4:])))
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", final, flags=re.M).group(1))  # type: ignore[union-attr]
    health = json.loads(re.search(r"^HEALTHCHECK .*?CMD (\[.*\])$", final, flags=re.M).group(1))  # type: ignore[union-attr]
    user = re.search(r"^USER (\S+)$", final, flags=re.M).group(1)  # type: ignore[union-attr]
    return {"env": env, "cmd": cmd, "health": health, "user": user}


def test_the_image_command_and_healthcheck_work_when_run_directly(tmp_path: Path) -> None:
    """The Dockerfile's CMD and HEALTHCHECK, run here as they are (no container engine):
    the host serves, the health check passes, SIGTERM stops it cleanly."""
    image = _dockerfile()
    assert image["user"] not in ("root", "0")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STACK_", "INTEGRATOR_"))}
    env.update(image["env"])  # type: ignore[arg-type]
    env.update(
        PORT=str(port),
        STACK_EXTENSIONS_DIR=str(EXTENSIONS),  # stands for the mounted folder
        STACK_HOST="127.0.0.1",
        STACK_WORKERS="1",
        INTEGRATOR_EXTENSION_SYSTEM_TOKEN=TOKEN,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    log = (tmp_path / "image.log").open("w")
    process = subprocess.Popen(image["cmd"], env=env, stdout=log, stderr=subprocess.STDOUT)  # type: ignore[call-overload]
    try:

        def healthy() -> bool:
            assert process.poll() is None, (tmp_path / "image.log").read_text()
            return subprocess.run(image["health"], env=env, capture_output=True).returncode == 0  # type: ignore[call-overload]

        wait_until(healthy, 30, "the health check to pass")
        assert _post(port, "record", "image").json()["id"] == "image"
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        assert subprocess.run(image["health"], env=env, capture_output=True).returncode != 0  # type: ignore[call-overload]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_line_of_a_call_that_kills_its_worker_is_in_the_log(tmp_path: Path) -> None:
    """1. a function is called until it runs on the event loop's thread (its log lines then
    wait for one write at the end of the loop's turn);
    2. a call of it ends the worker process before that;
    3. the host's log still has that call's callFunctionInvoked line, written by the master
    from the page the worker kept it in, and a keptLinesWritten warning;
    4. the replacement worker answers."""
    (tmp_path / "records").mkdir()
    host = Host("solo", tmp_path, workers=1)
    host.start()
    try:
        for n in range(24):
            assert _post(host.port, "exit_when_told", f"quick-{n}").status_code == 200
        with pytest.raises(requests.ConnectionError):
            requests.post(
                f"http://127.0.0.1:{host.port}/function",
                json={"diy": True, "function": "exit_when_told", "options": {"exit": True}},
                headers={**AUTH, "traceid": "the-dying-call"},
                timeout=60,
            )
        wait_until(lambda: "logName=keptLinesWritten" in host.log.read_text(), 30, "the master")
        log = host.log.read_text()
        invoked = [
            line
            for line in log.splitlines()
            if "logName=callFunctionInvoked" in line and "traceId=the-dying-call" in line
        ]
        assert len(invoked) == 1, log[-3000:]
        assert "function=exit_when_told" in invoked[0]
        wait_until(
            lambda: _post(host.port, "exit_when_told", "after").status_code == 200,
            30,
            "the replacement worker",
        )
    finally:
        host.stop()


def test_a_worker_retired_alone_leaves_the_host_serving(tmp_path: Path) -> None:
    """1. a host with two workers and a 0.5 s drain delay;
    2. one worker gets SIGTERM, as gunicorn sends it to a worker it retires (after a
    reload, or with fewer workers asked for);
    3. that worker drains on its own (scope=worker) and gunicorn starts another;
    4. well after the drain delay the host still runs and every worker answers /readyz 200:
    one worker's drain is not the host's."""
    (tmp_path / "records").mkdir()
    host = Host("solo", tmp_path, workers=2, extra=("--drain-delay", "0.5"))
    host.start()
    try:
        wait_until(lambda: len(host.worker_pids()) == 2, 30, "both workers")
        first = host.worker_pids()
        retired = min(first)
        os.kill(retired, signal.SIGTERM)
        wait_until(
            lambda: len(host.worker_pids() - first) == 1 and retired not in host.worker_pids(),
            30,
            "a replacement worker",
        )
        assert re.search(rf"drainStarted, pid={retired}, scope=worker", host.log.read_text())
        time.sleep(1.5)
        assert host.process is not None and host.process.poll() is None
        for _ in range(8):  # new connections, so both workers answer some
            assert requests.get(host.url + "/readyz", headers=AUTH, timeout=5).status_code == 200
        assert "drainDue" not in host.log.read_text()
    finally:
        host.stop()
