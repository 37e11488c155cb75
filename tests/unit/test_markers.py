"""The markers select the tiers: the quick tests alone, or what needs more than Python."""

from __future__ import annotations

import json
import subprocess
import sys

from ..conftest import ROOT

QUICK = "not e2e and not deploy and not lambda and not bench"

#: Collects the suite as ``pytest`` does from the root, and prints each test's markers.
_MARKERS = """
import json, sys
import pytest

class Markers:
    def pytest_collection_finish(self, session):
        found = {i.nodeid: sorted({m.name for m in i.iter_markers()}) for i in session.items}
        print("MARKERS " + json.dumps(found))

sys.exit(pytest.main(sys.argv[1:], plugins=[Markers()]))
"""


def collect(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _MARKERS, "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def folder(test_id: str) -> str:
    return test_id.split("/")[1]


def test_the_quick_tests_run_alone() -> None:
    """``-m QUICK`` keeps the folders of pure Python tests and drops the others."""
    ids = [line for line in collect("-m", QUICK).splitlines() if "::" in line]
    found = {folder(i) for i in ids if not i.startswith("MARKERS ")}
    assert found >= {"unit", "functional", "plugin", "examples"}, found
    assert not found & {"e2e", "deploy", "aws_lambda"}, found
    assert any(i.startswith("tests/unit/test_markers.py::") for i in ids)


def test_each_tier_has_its_marker() -> None:
    """Every test of a tier's folder carries its marker, and no test elsewhere does; bench
    marks the modules that run the benchmark's code."""
    (line,) = [x for x in collect().splitlines() if x.startswith("MARKERS ")]
    markers: dict[str, list[str]] = json.loads(line.removeprefix("MARKERS "))
    for name, tier in {"e2e": "e2e", "deploy": "deploy", "aws_lambda": "lambda"}.items():
        marked = {i for i, m in markers.items() if tier in m}
        assert marked and marked == {i for i in markers if folder(i) == name}, tier
    bench = {i.split("::")[0] for i, m in markers.items() if "bench" in m}
    assert bench == {"tests/e2e/test_bench.py", "tests/e2e/test_threads.py"}, bench
