"""Run the benchmark: every contender, every workload, several alternating rounds.

Each round starts each contender in turn (the order rotates from round to round),
pinned to one core, and drives it with wrk pinned to another. Before and after
each workload one call is checked outside wrk; under load, wrk's script checks
that every answer is a 200 with exactly the expected body. The report gives the
median of the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .contenders import (
    BENCH,
    Contender,
    Running,
    baseline,
    node_reference,
    python_contenders,
    start,
)
from .machine import Busy, Sampler, cpu_seconds, load_average, rss_bytes
from .report import FLOOR, OURS, Report
from .stalls import run as run_stalls
from .workloads import WORKLOADS, Workload, write_files

__all__ = ["Measurement", "SideBySide", "main"]


@dataclass(frozen=True)
class Measurement:
    """One wrk run of one workload against one contender."""

    contender: str
    workload: str
    round: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad: int
    errors: int
    first_bad: str
    busy: Busy

    @property
    def cpu_us_per_request(self) -> float:
        """Server CPU time per answered request, in microseconds (steadier than req/s)."""
        return self.busy.server_seconds / max(self.requests, 1) * 1e6


@dataclass(frozen=True)
class SideBySide:
    """One workload on a contender and on the floor at the same time, from the same core."""

    contender: str
    workload: str
    round: int
    cpu_us: float
    """The contender's CPU per call, in microseconds."""
    floor_cpu_us: float
    """The floor's CPU per call in the same run."""
    requests: int
    floor_requests: int
    bad: int
    """Wrong answers and errors of both servers."""

    @property
    def ratio(self) -> float:
        """The contender's CPU per call over the floor's."""
        return self.cpu_us / self.floor_cpu_us


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark stack-runtime against the floor of a Python host (a bare ASGI "
        "callable under uvicorn) and the Node reference (when node and npm are installed).",
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument(
        "--duration", type=float, default=10, help="seconds of load per measurement (default 10)"
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=2,
        help="seconds of load before each measurement (default 2)",
    )
    parser.add_argument(
        "--workloads",
        default=",".join(w.name for w in WORKLOADS),
        help="comma-separated workloads (default: all)",
    )
    parser.add_argument(
        "--contenders",
        default="stack-runtime,floor,node",
        help="comma-separated contenders (default: stack-runtime,floor,node; also: floor-logged, "
        "the floor writing the reference's two log lines per call)",
    )
    parser.add_argument(
        "--scratch",
        type=Path,
        default=Path(tempfile.gettempdir()) / "stack-runtime-bench",
        help="folder for workload files, logs and the Node reference's npm install",
    )
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also run stack-runtime as it was at this git revision (built with pip wheel "
        "into the scratch folder, once per commit), to compare a change with the code before it",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    parser.add_argument(
        "--quick", action="store_true", help="one round of 3 s: to check the setup, not to quote"
    )
    parser.add_argument(
        "--side-by-side",
        action="store_true",
        help="after the usual rounds, as many rounds that serve each contender and the floor "
        "from the same core at the same time, each under its own wrk, and compare their CPU "
        "per call: both sides of a ratio see the same noise of a shared machine",
    )
    return parser


def _cores() -> tuple[int | None, int | None]:
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2 or shutil.which("taskset") is None:
        return None, None
    return available[0], available[1]


def _wrk_command(
    running: Running,
    workload: Workload,
    files: tuple[Path, Path],
    token: str,
    seconds: float,
    core: int | None,
) -> list[str]:
    request, expected = files
    command = [
        "wrk",
        "-t1",
        f"-c{workload.connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "60s",
        "-s",
        str(BENCH / "wrk.lua"),
        f"http://127.0.0.1:{running.port}/function",
        "--",
        str(request),
        str(expected),
        token,
    ]
    return ["taskset", "-c", str(core), *command] if core is not None else command


def _wrk_result(stdout: str, stderr: str) -> dict[str, Any]:
    for line in stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            return json.loads(line.removeprefix("BENCH_RESULT "))  # type: ignore[no-any-return]
    raise RuntimeError(f"wrk printed no result:\n{stdout}\n{stderr}")


def _wrk(
    runnings: list[Running],
    workload: Workload,
    files: tuple[Path, Path],
    token: str,
    seconds: float,
    core: int | None,
) -> list[dict[str, Any]]:
    """One wrk per server in ``runnings``, all started at once; their results in that order."""
    started = [
        subprocess.Popen(
            _wrk_command(running, workload, files, token, seconds, core),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for running in runnings
    ]
    return [_wrk_result(*process.communicate(timeout=seconds + 300)) for process in started]


def _errors(raw: dict[str, Any]) -> int:
    """The connection errors, non-2xx answers and timeouts wrk counted."""
    keys = ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    return sum(int(raw[k]) for k in keys)


def _check(running: Running, files: tuple[Path, Path], token: str, when: str) -> None:
    request, expected = files
    status, body = running.post(request.read_bytes(), token)
    if status != 200 or body != expected.read_bytes():
        raise RuntimeError(
            f"{running.contender.name} answered {request.name} wrongly {when} the load: "
            f"status {status}, {len(body)} bytes: {body[:300]!r}"
        )


@dataclass(frozen=True)
class _Plan:
    """What every round runs: the workloads, their files, the options, where to report."""

    workloads: list[Workload]
    files: dict[str, tuple[Path, Path]]
    args: argparse.Namespace
    report: Report


def _measure_contender(contender: Contender, plan: _Plan, round_no: int) -> list[Measurement]:
    workloads, files, args, report = plan.workloads, plan.files, plan.args, plan.report
    server_core, load_core = _cores()
    token = secrets.token_urlsafe(24)
    running = start(contender, server_core, token, args.scratch / "logs")
    results = []
    try:
        running.wait_ready(files[workloads[0].name][0].read_bytes(), token)
        time.sleep(1)
        report.memory(contender.name, "idle", rss_bytes(running.worker))
        for workload in workloads:
            pair = files[workload.name]
            _check(running, pair, token, "before")
            _wrk([running], workload, pair, token, args.warmup, load_core)
            cores = [c for c in (server_core, load_core) if c is not None] or sorted(
                os.sched_getaffinity(0)
            )
            sampler = Sampler(cores, running.pids)
            (raw,) = _wrk([running], workload, pair, token, args.duration, load_core)
            busy = sampler.stop()
            _check(running, pair, token, "after")
            errors = _errors(raw)
            measurement = Measurement(
                contender.name,
                workload.name,
                round_no,
                raw["requests"] / (raw["duration_us"] / 1e6),
                raw["p50_us"] / 1000,
                raw["p99_us"] / 1000,
                raw["requests"],
                raw["bad"],
                errors,
                raw["first_bad"],
                busy,
            )
            results.append(measurement)
            report.progress(measurement)
        report.memory(contender.name, "after", rss_bytes(running.worker))
    finally:
        running.stop()
    return results


def _side_by_side(
    contender: Contender, floor: Contender, plan: _Plan, round_no: int
) -> list[SideBySide]:
    """Serve ``contender`` and ``floor`` from the same core at once; CPU per call of each."""
    workloads, files, args, report = plan.workloads, plan.files, plan.args, plan.report
    server_core, load_core = _cores()
    token = secrets.token_urlsafe(24)
    runnings: list[Running] = []
    results = []
    try:
        for started in (contender, floor):
            runnings.append(start(started, server_core, token, args.scratch / "logs"))
            runnings[-1].wait_ready(files[workloads[0].name][0].read_bytes(), token)
        for workload in workloads:
            pair = files[workload.name]
            for running in runnings:
                _check(running, pair, token, "before")
            _wrk(runnings, workload, pair, token, args.warmup, load_core)
            before = [cpu_seconds(running.pids) for running in runnings]
            raws = _wrk(runnings, workload, pair, token, args.duration, load_core)
            used = [cpu_seconds(r.pids) - b for r, b in zip(runnings, before, strict=True)]
            for running in runnings:
                _check(running, pair, token, "after")
            requests = [max(int(raw["requests"]), 1) for raw in raws]
            result = SideBySide(
                contender.name,
                workload.name,
                round_no,
                used[0] / requests[0] * 1e6,
                used[1] / requests[1] * 1e6,
                requests[0],
                requests[1],
                sum(int(raw["bad"]) + _errors(raw) for raw in raws),
            )
            results.append(result)
            report.side_progress(result)
    finally:
        for running in runnings:
            running.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the report; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.warmup = 1, 3, 1
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk (or run: make bench)", file=sys.stderr)
        return 2
    chosen = {w.strip() for w in args.workloads.split(",") if w.strip()}
    workloads = [w for w in WORKLOADS if w.name in chosen]
    wanted = [c.strip() for c in args.contenders.split(",") if c.strip()]
    contenders = [c for c in python_contenders() if c.name in wanted]
    skipped: dict[str, str] = {}
    if "node" in wanted:
        node = node_reference(args.scratch)
        if isinstance(node, str):
            skipped["node"] = node
        else:
            contenders.append(node)
    if args.baseline:
        before = baseline(args.baseline, args.scratch)
        if isinstance(before, str):
            print(f"--baseline: {before}", file=sys.stderr)
            return 2
        contenders.append(before)
    if not workloads or not contenders:
        print("nothing to run: check --workloads and --contenders", file=sys.stderr)
        return 2

    (args.scratch / "logs").mkdir(parents=True, exist_ok=True)
    files = write_files(args.scratch / "workloads")
    server_core, load_core = _cores()
    report = Report(workloads, [c.name for c in contenders], skipped)
    report.header(args, server_core, load_core, load_average())
    plan = _Plan(workloads, files, args, report)

    measurements: list[Measurement] = []
    for round_no in range(args.rounds):
        shift = round_no % len(contenders)
        for contender in contenders[shift:] + contenders[:shift]:
            measurements += _measure_contender(contender, plan, round_no + 1)
    report.summary(measurements, load_average())

    side: list[SideBySide] = []
    if args.side_by_side:
        floor = next(c for c in python_contenders() if c.name == FLOOR)
        partners = [c for c in contenders if c.name != FLOOR]
        for round_no in range(args.rounds):
            for contender in partners:
                side += _side_by_side(contender, floor, plan, round_no + 1)
        report.side_by_side(side)
    stalls = None
    if any(c.name == OURS for c in contenders):
        stalls = run_stalls(max(args.duration, 3.0), args.scratch / "logs", server_core)
        report.stalls(stalls)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "measurements": [asdict(m) for m in measurements],
                    "memory": report.rss,
                    "skipped": skipped,
                    "side_by_side": [asdict(s) for s in side],
                    "stalls": asdict(stalls) if stalls is not None else None,
                },
                indent=2,
            )
        )
    failed = any(m.bad or m.errors for m in measurements) or any(s.bad for s in side)
    failed = failed or (stalls is not None and stalls.wrong > 0)
    return 1 if failed else 0
