"""Cold start and warm invocation time of the Lambda stack against a do-nothing handler.

Both run under AWS's runtime client (``awslambdaric``) against the same Lambda
Runtime API emulator the tests use:

* the do-nothing handler: ``python -m awslambdaric noop.handler``, a handler that
  returns ``None``;
* stack-runtime: ``python -m stack_runtime.aws_lambda`` (the entry point a
  deployment uses) on a small extensions folder, answering a DIY hook call
  with integrator.io's client context.

Cold start is the time from starting the runtime process to the emulator
receiving the first response (process start, imports, loading the extensions,
the first call). Warm invocation is the time from queueing an invocation to
receiving its response, on a process that already answered. Each round starts
both runtimes, alternating which goes first; the medians are compared as a
difference and a ratio.

    .venv/bin/python bench/lambda_coldstart.py [--rounds 15] [--warm 300]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.aws_lambda.emulator import RuntimeApiEmulator  # noqa: E402
from tests.aws_lambda.runtime import ENTRY, lambda_environment  # noqa: E402

NOOP_SOURCE = "def handler(event, context):\n    return None\n"
CALL = ({"name": "bench"}, {"diy": True, "function": "hello"})
TARGET_SECONDS = 0.15


def run_once(
    command: list[str], env: dict[str, str], cwd: Path, warm: int
) -> tuple[float, list[float]]:
    """Start one runtime; its cold start and ``warm`` warm invocation times, in seconds."""
    with RuntimeApiEmulator() as emulator:
        environment = lambda_environment(emulator, **env)
        started = time.perf_counter()
        process = subprocess.Popen(
            command, env=environment, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            first = emulator.invoke(*CALL, timeout=60)
            if first.kind != "response":
                raise RuntimeError(f"{command}: {first.body!r}")
            cold = first.received_at - started
            times = []
            for _ in range(warm):
                queued = time.perf_counter()
                answer = emulator.invoke(*CALL, timeout=60)
                times.append(answer.received_at - queued)
            return cold, times
        finally:
            process.kill()
            process.wait()


def import_time(module: str) -> float:
    """Cumulative import time of ``module`` in a fresh interpreter, from ``-X importtime``."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
    )
    for line in reversed(result.stderr.splitlines()):
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1]) / 1e6
    raise RuntimeError(f"no import time for {module}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="cold starts per runtime")
    parser.add_argument("--warm", type=int, default=300, help="warm invocations per round")
    parser.add_argument(
        "--extensions",
        type=Path,
        default=ROOT / "tests" / "fixtures" / "lambda_probe",
        help="extensions folder for stack-runtime (default: a small probe tree)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temp:
        noop_dir = Path(temp)
        (noop_dir / "noop.py").write_text(NOOP_SOURCE)
        runtimes = {
            "do-nothing handler": (
                [sys.executable, "-m", "awslambdaric", "noop.handler"],
                {"_HANDLER": "noop.handler"},
                noop_dir,
            ),
            "stack-runtime": (list(ENTRY), {"STACK_EXTENSIONS_DIR": str(args.extensions)}, ROOT),
        }
        for command, env, cwd in runtimes.values():  # warm the OS caches and bytecode
            run_once(command, env, cwd, 5)
        cold: dict[str, list[float]] = {name: [] for name in runtimes}
        warm: dict[str, list[float]] = {name: [] for name in runtimes}
        order = list(runtimes)
        for round_ in range(args.rounds):
            for name in order if round_ % 2 == 0 else reversed(order):
                command, env, cwd = runtimes[name]
                first, times = run_once(command, env, cwd, args.warm)
                cold[name].append(first)
                warm[name].extend(times)

    base, ours = "do-nothing handler", "stack-runtime"
    cold_base, cold_ours = statistics.median(cold[base]), statistics.median(cold[ours])
    warm_base, warm_ours = statistics.median(warm[base]), statistics.median(warm[ours])
    print(f"{args.rounds} cold starts and {args.rounds * args.warm} warm invocations each")
    print(f"Python {sys.version.split()[0]}, extensions {args.extensions}")
    print(f"{'':22}{'cold start (median)':>22}{'warm invocation (median)':>28}")
    for name in (base, ours):
        print(
            f"{name:22}{statistics.median(cold[name]):>20.3f} s"
            f"{statistics.median(warm[name]) * 1000:>25.3f} ms"
        )
    cold_diff = cold_ours - cold_base
    print(f"{'difference':22}{cold_diff:>+20.3f} s{(warm_ours - warm_base) * 1000:>+25.3f} ms")
    print(f"{'ratio':22}{cold_ours / cold_base:>20.2f} x{warm_ours / warm_base:>25.2f} x")
    verdict = "within" if cold_diff <= TARGET_SECONDS else "OVER"
    print(f"cold start target: at most +{TARGET_SECONDS:.3f} s -> {verdict}")
    print(
        "import time (-X importtime, cumulative): "
        f"awslambdaric.bootstrap {import_time('awslambdaric.bootstrap') * 1000:.1f} ms, "
        f"stack_runtime.aws_lambda.lambda_handler "
        f"{import_time('stack_runtime.aws_lambda.lambda_handler') * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
