"""Short runs of the fuzzers in ``tests/fuzz`` (``make fuzz`` runs them long).

1. ``_request.c`` against httptools, field by field, on generated and mutated requests:
   built with AddressSanitizer and UBSan (which must catch planted bugs), and as
   installed.
2. Random packets to a real host and to plain uvicorn: the same bytes back.

Each run takes a new seed, printed in its result (and in a failure): ``--seed`` repeats it.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from stack_runtime.server.httptools import _whole_post

from . import parser_diff, sanitized, stream_diff

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, module: Path) -> subprocess.CompletedProcess[str]:
    """``code`` in a Python that may load the sanitized module ``module`` as ``planted``."""
    prelude = (
        "from pathlib import Path; from tests.fuzz import sanitized; "
        f"planted = sanitized.load(Path({str(module)!r}), '_planted'); "
    )
    return subprocess.run(
        [sys.executable, "-c", prelude + code],
        env=sanitized.environment(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_sanitized_build_catches_planted_bugs(tmp_path: Path) -> None:
    """1. planted.c (a read past a bytes object, a signed overflow) is built as _request.c
    is for the fuzz; 2. each bug stops the process with the sanitizer's report; 3. a call
    without a bug runs as usual."""
    module = sanitized.build(tmp_path, Path(__file__).parent / "planted.c", "_planted")
    past_end = run_python("planted.past_end(b'x' * 10)", module)
    assert past_end.returncode != 0
    assert "AddressSanitizer: heap-buffer-overflow" in past_end.stderr, past_end.stderr
    overflow = run_python("planted.overflow(2**31 - 1)", module)
    assert overflow.returncode != 0
    assert "runtime error: signed integer overflow" in overflow.stderr, overflow.stderr
    fine = run_python("print(planted.overflow(1))", module)
    assert (fine.returncode, fine.stdout) == (0, "2\n"), fine.stderr


def test_request_c_reads_as_httptools_does_under_the_sanitizers() -> None:
    """30,000 requests (a quarter in the plainest shape, the rest near it or mutated) to
    the ASan+UBSan build: no sanitizer finding, no disagreement with httptools."""
    seed = random.randrange(2**32)
    done = parser_diff.run_sanitized(["--cases", "30000", "--seed", str(seed)])
    assert done.returncode == 0, f"seed {seed}:\n{done.stdout}\n{done.stderr[-6000:]}"
    assert "30000 cases" in done.stdout and "no disagreement" in done.stdout, done.stdout
    print(done.stdout, end="")


def test_the_installed_request_c_reads_as_httptools_does() -> None:
    """The same on the module as built by pip (its own compiler flags), 30,000 requests."""
    assert _whole_post is not None, "stack_runtime.server._request is not built"
    seed = random.randrange(2**32)
    stats = parser_diff.run(_whole_post, seed, cases=30_000)
    assert stats.plain == 7_500 and stats.read > stats.plain
    print(stats.line(seed, "installed build"))


def test_the_host_answers_random_packets_as_plain_uvicorn_does(tmp_path: Path) -> None:
    """1. a host and one with --no-direct-path; 2. 60 random streams of requests, cut into
    random packets, to both; 3. the same bytes back, and the direct path did answer."""
    seed = random.randrange(2**32)
    with stream_diff.hosts(tmp_path) as (direct, plain):
        stats = stream_diff.run(direct, plain, seed, cases=60)
    assert stats.cases == 60
    assert stats.direct.get("httptools", 0) > 0, stats.line(seed)
    print(stats.line(seed))


@pytest.mark.parametrize("module", ["parser_diff", "stream_diff"])
def test_the_fuzzers_say_how_to_run_them(module: str) -> None:
    """``python -m tests.fuzz.MODULE --help`` (what ``make fuzz`` runs) works."""
    done = subprocess.run(
        [sys.executable, "-m", f"tests.fuzz.{module}", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "--seconds" in done.stdout, done.stderr
