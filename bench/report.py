"""The benchmark's printed report: progress lines, then the tables and the verdicts."""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .machine import FOREIGN_LIMIT, STEAL_LIMIT
from .workloads import Workload

if TYPE_CHECKING:
    from .run import Measurement, SideBySide
    from .stalls import Stalls

__all__ = ["TARGETS", "Report"]

#: The least req/s a workload must reach, as a fraction of the floor's.
TARGETS = {"small": 0.65, "small-async": 0.85, "page": 0.95, "transform": 0.95, "big": 0.95}
#: The most p99 latency may be, as a multiple of the floor's.
P99_LIMIT = 1.25
#: The most one worker's RSS after all workloads may be, as a multiple of the floor's.
RSS_LIMIT = 1.5
#: The quick calls beside a def function that blocks now and then (``bench/stalls.py``).
STALL_P99_MS = 50.0
STALL_MAX_MS = 250.0
FLOOR = "floor"
OURS = "stack-runtime"


def _mb(value: float) -> str:
    return f"{value / 1024 / 1024:.0f} MB"


def _verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


class Report:
    """Collects measurements and memory readings and prints them."""

    def __init__(
        self, workloads: Sequence[Workload], contenders: Sequence[str], skipped: dict[str, str]
    ) -> None:
        self.workloads = list(workloads)
        self.contenders = list(contenders)
        self.skipped = skipped
        self.rss: dict[str, dict[str, list[int]]] = {
            c: {"idle": [], "after": []} for c in contenders
        }

    def header(
        self,
        args: argparse.Namespace,
        server_core: int | None,
        load_core: int | None,
        load: tuple[float, float, float],
    ) -> None:
        """What is about to run, and on what."""
        print("stack-runtime benchmark")
        for workload in self.workloads:
            print(
                f"  workload {workload.name:<10} {workload.about}, {workload.connections} connections"
            )
        print(f"  contenders: {', '.join(self.contenders)}")
        for name, why in self.skipped.items():
            print(f"  skipped {name}: {why}")
        if server_core is None:
            print("  NOT PINNED: fewer than two cores (or no taskset); numbers are rough")
        else:
            print(f"  server pinned to core {server_core}, wrk (1 thread) to core {load_core}")
        print(
            f"  {args.rounds} round(s) of {args.duration:g} s per workload after {args.warmup:g} s "
            f"warm-up; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
        )
        print(flush=True)

    def progress(self, m: Measurement) -> None:
        """One line per measurement, as it finishes."""
        flag = "  BUSY" if m.busy.too_busy else ""
        print(
            f"  round {m.round} {m.contender:<14} {m.workload:<10} {m.requests_per_second:9.1f} req/s"
            f"  p50 {m.p50_ms:8.2f} ms  p99 {m.p99_ms:8.2f} ms  cpu {m.cpu_us_per_request:8.0f} us/req"
            f"  bad {m.bad + m.errors}"
            f"  others {m.busy.foreign * 100:3.0f}% steal {m.busy.steal * 100:3.0f}%{flag}",
            flush=True,
        )

    def side_progress(self, s: SideBySide) -> None:
        """One line per side-by-side run, as it finishes."""
        print(
            f"  side by side, round {s.round} {s.contender:<14} {s.workload:<10} "
            f"cpu {s.cpu_us:8.0f} us/req, the floor's {s.floor_cpu_us:8.0f}: {s.ratio:5.2f}"
            f"  bad {s.bad}",
            flush=True,
        )

    def side_by_side(self, runs: Sequence[SideBySide]) -> None:
        """The side-by-side table: CPU per call against the floor's in the same runs."""
        print()
        print(
            "CPU per call side by side (each contender and the floor served from the same core "
            "at the same time, each under its own wrk; median of the rounds' ratios)"
        )
        print()
        print(
            "| workload | contender | CPU µs/req | the floor's, same runs | CPU vs floor "
            "| each round | checked | bad |"
        )
        print("| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |")
        for workload in self.workloads:
            for contender in self.contenders:
                mine = [s for s in runs if s.workload == workload.name and s.contender == contender]
                if not mine:
                    continue
                each = ", ".join(f"{s.ratio:.2f}" for s in sorted(mine, key=lambda s: s.round))
                print(
                    f"| {workload.name} | {contender} "
                    f"| {statistics.median(s.cpu_us for s in mine):,.0f} "
                    f"| {statistics.median(s.floor_cpu_us for s in mine):,.0f} "
                    f"| {statistics.median(s.ratio for s in mine):.2f} | {each} "
                    f"| {sum(s.requests + s.floor_requests for s in mine):,} "
                    f"| {sum(s.bad for s in mine)} |"
                )
        print()
        print(
            "A CPU ratio of r is, on a core of its own, about 1/r of the floor's req/s "
            "(the load generator waits on the server)."
        )

    def stalls(self, stalls: Stalls) -> None:
        """The figures of ``bench/stalls.py`` and the verdict against its limits."""
        print()
        print("A def function that blocks now and then (bench/stalls.py, stack-runtime)")
        print()
        for line in stalls.lines():
            print(line)
        ok = stalls.p99_ms <= STALL_P99_MS and stalls.max_ms <= STALL_MAX_MS
        print(
            f"stalls: quick calls' p99 {stalls.p99_ms:.1f} ms (target <= {STALL_P99_MS:.0f}), "
            f"max {stalls.max_ms:.1f} ms (target <= {STALL_MAX_MS:.0f}): {_verdict(ok)}"
        )

    def memory(self, contender: str, when: str, rss: int) -> None:
        """Record one worker's resident memory, ``idle`` or ``after`` the workloads."""
        self.rss[contender][when].append(rss)

    def summary(
        self, measurements: Sequence[Measurement], load: tuple[float, float, float]
    ) -> None:
        """The tables and the verdicts against the targets."""
        table: dict[tuple[str, str], dict[str, float]] = {}
        for workload in self.workloads:
            for contender in self.contenders:
                runs = [
                    m
                    for m in measurements
                    if m.workload == workload.name and m.contender == contender
                ]
                if runs:
                    # A round that ran beside other work says little: the quiet ones count.
                    used = [m for m in runs if not m.busy.too_busy] or runs
                    table[workload.name, contender] = {
                        "rps": statistics.median(m.requests_per_second for m in used),
                        "p50": statistics.median(m.p50_ms for m in used),
                        "p99": statistics.median(m.p99_ms for m in used),
                        "cpu": statistics.median(m.cpu_us_per_request for m in used),
                        "bad": sum(m.bad + m.errors for m in runs),
                        "requests": sum(m.requests for m in runs),
                        "quiet": sum(not m.busy.too_busy for m in runs),
                        "rounds": len(runs),
                    }
        print()
        print(
            "Results (median of the quiet rounds, or of all rounds where none was quiet; "
            "ratios against the floor)"
        )
        print()
        print(
            "| workload | contender | req/s | p50 ms | p99 ms | req/s vs floor | p99 vs floor "
            "| server CPU µs/req | quiet rounds | checked | bad |"
        )
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        verdicts: list[str] = []
        for workload in self.workloads:
            floor = table.get((workload.name, FLOOR))
            for contender in self.contenders:
                row = table.get((workload.name, contender))
                if row is None:
                    continue
                speed = latency = "-"
                if floor and contender != FLOOR:
                    speed = f"{row['rps'] / floor['rps']:.2f}"
                    latency = f"{row['p99'] / floor['p99']:.2f}"
                print(
                    f"| {workload.name} | {contender} | {row['rps']:,.0f} | {row['p50']:.2f} | "
                    f"{row['p99']:.2f} | {speed} | {latency} | {row['cpu']:,.0f} | "
                    f"{row['quiet']:.0f} of {row['rounds']:.0f} | "
                    f"{row['requests']:,.0f} | {row['bad']:.0f} |"
                )
            ours = table.get((workload.name, OURS))
            if floor and ours:
                target = TARGETS.get(workload.name, 0.95)
                speed_ratio = ours["rps"] / floor["rps"]
                p99_ratio = ours["p99"] / floor["p99"]
                verdicts.append(
                    f"{workload.name}: req/s {speed_ratio:.2f} of the floor (target >= {target:.2f}: "
                    f"{_verdict(speed_ratio >= target)}); p99 {p99_ratio:.2f}x the floor's "
                    f"(target <= {P99_LIMIT:.2f}: {_verdict(p99_ratio <= P99_LIMIT)})"
                )
        print()
        print("Memory of the serving process (RSS; largest over the rounds)")
        print()
        print("| contender | idle | after all workloads | after vs floor |")
        print("| --- | ---: | ---: | ---: |")
        floor_after = max(self.rss.get(FLOOR, {}).get("after", []) or [0])
        for contender in self.contenders:
            idle = max(self.rss[contender]["idle"] or [0])
            after = max(self.rss[contender]["after"] or [0])
            ratio = f"{after / floor_after:.2f}" if floor_after and contender != FLOOR else "-"
            print(f"| {contender} | {_mb(idle)} | {_mb(after)} | {ratio} |")
        ours_after = max(self.rss.get(OURS, {}).get("after", []) or [0])
        if floor_after and ours_after:
            rss_ratio = ours_after / floor_after
            verdicts.append(
                f"memory: RSS after all workloads {rss_ratio:.2f}x the floor's "
                f"(target <= {RSS_LIMIT:.2f}: {_verdict(rss_ratio <= RSS_LIMIT)})"
            )
        print()
        for line in verdicts:
            print(line)
        print()
        self._machine(measurements, load)

    def _machine(
        self, measurements: Sequence[Measurement], load: tuple[float, float, float]
    ) -> None:
        busy = [m for m in measurements if m.busy.too_busy]
        foreign = max((m.busy.foreign for m in measurements), default=0.0)
        steal = max((m.busy.steal for m in measurements), default=0.0)
        print(
            f"Machine: load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
            f"other programs used up to {foreign * 100:.0f}% of a core on the benchmark's cores, "
            f"steal up to {steal * 100:.0f}%."
        )
        if busy:
            print(
                f"TOO BUSY: {len(busy)} of {len(measurements)} measurements ran while other work "
                f"took more than {FOREIGN_LIMIT * 100:.0f}% of a core (or steal more than "
                f"{STEAL_LIMIT * 100:.0f}%); those numbers mean little. Rerun on a quiet machine."
            )
        else:
            print("The machine was quiet enough for these numbers to mean something.")
        bad = [m for m in measurements if m.bad or m.errors]
        for m in bad:
            print(
                f"WRONG ANSWERS: {m.contender} {m.workload} round {m.round}: {m.bad} bad, "
                f"{m.errors} errors; first: {m.first_bad}"
            )
