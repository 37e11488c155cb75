"""The benchmark's summary: busy rounds give way to quiet ones."""

from __future__ import annotations

import pytest

from bench.machine import Busy
from bench.report import Report
from bench.run import Measurement, SideBySide
from bench.workloads import WORKLOADS

SMALL = [w for w in WORKLOADS if w.name == "small"]


def _round(contender: str, number: int, rps: float, steal: float) -> Measurement:
    busy = Busy(seconds=10, foreign=0.0, steal=steal, ours=1.0, server_seconds=rps * 10 * 1e-4)
    return Measurement(contender, "small", number, rps, 1.0, 2.0, int(rps * 10), 0, 0, "", busy)


def test_the_summary_uses_the_quiet_rounds_when_there_are_any(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The floor's busy rounds (slow) are left out while a quiet one exists; ours has none
    quiet, so all of its rounds count."""
    measurements = [
        _round("floor", 1, 5_000, steal=0.7),
        _round("floor", 2, 6_000, steal=0.3),
        _round("floor", 3, 16_000, steal=0.0),
        _round("stack-runtime", 1, 8_000, steal=0.2),
        _round("stack-runtime", 2, 7_000, steal=0.2),
    ]
    report = Report(SMALL, ["stack-runtime", "floor"], {})
    report.summary(measurements, (0.0, 0.0, 0.0))
    out = capsys.readouterr().out
    assert "| small | floor | 16,000 |" in out and "| 1 of 3 |" in out
    assert "| small | stack-runtime | 7,500 |" in out and "| 0 of 2 |" in out
    assert "small: req/s 0.47 of the floor" in out


def test_the_side_by_side_table_gives_the_median_of_the_rounds_ratios(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Three rounds of stack-runtime beside the floor: the medians, each round's ratio in
    round order, the calls checked and the wrong answers of both sides."""
    runs = [
        SideBySide("stack-runtime", "small", 2, 150.0, 100.0, 1000, 1500, 0),
        SideBySide("stack-runtime", "small", 1, 120.0, 100.0, 1000, 1500, 1),
        SideBySide("stack-runtime", "small", 3, 130.0, 80.0, 1000, 1500, 0),
    ]
    report = Report(SMALL, ["stack-runtime"], {})
    report.side_by_side(runs)
    out = capsys.readouterr().out
    assert "| small | stack-runtime | 130 | 100 | 1.50 | 1.20, 1.50, 1.62 | 7,500 | 1 |" in out
