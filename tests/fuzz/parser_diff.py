"""The differential fuzz of ``_request.c`` against httptools, field by field.

For each generated or mutated request, ``whole_post`` either refuses it (and uvicorn's
parser gets it) or reads it; whatever it reads, httptools (set up as uvicorn sets it up)
must read as exactly one whole, plain request with the same method, path, HTTP version,
headers and body, kept alive, no upgrade and no ``Expect``. And every request generated
in the plainest shape must be read: the C reader may not quietly stop reading them.

    python -m tests.fuzz.parser_diff --sanitized --seconds 600   # make fuzz
    python -m tests.fuzz.parser_diff --cases 100000 --seed 7     # the built module

``--sanitized`` builds ``_request.c`` with AddressSanitizer and UBSan into a temporary
folder and runs the differential on that build, in a child process with the sanitizers'
runtime preloaded (:mod:`tests.fuzz.sanitized`).
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httptools

from . import corpus, sanitized

__all__ = ["Parsed", "Stats", "agrees", "run"]

WholePost = Callable[[bytes], Any]


class Parsed:
    """What uvicorn's httptools parser makes of some bytes, with uvicorn's lower-cased
    header names, up to the end of the first request's headers for its request line."""

    def __init__(self, data: bytes) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""
        self.begun = self.messages = 0
        self.url = b""
        self.method = b""
        self.version = ""
        self.keep_alive = self.upgrade = False
        self.error: str | None = None
        parser = httptools.HttpRequestParser(self)
        parser.set_dangerous_leniencies(lenient_data_after_close=True)  # as uvicorn does
        self._parser = parser
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.upgrade = True
        except httptools.HttpParserError as exc:
            self.error = str(exc) or type(exc).__name__

    def on_message_begin(self) -> None:
        self.begun += 1

    def on_url(self, url: bytes) -> None:
        if self.begun == 1:
            self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.begun == 1:
            self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        if self.begun == 1:
            self.method = self._parser.get_method()
            self.version = self._parser.get_http_version()
            self.keep_alive = self._parser.should_keep_alive()
            self.upgrade = self.upgrade or self._parser.should_upgrade()

    def on_body(self, body: bytes) -> None:
        if self.begun == 1:
            self.body += body

    def on_message_complete(self) -> None:
        self.messages += 1


def agrees(whole_post: WholePost, data: bytes) -> Any:
    """``whole_post(data)``, after checking it against httptools when it reads ``data``."""
    got = whole_post(data)
    if got is None:
        return None
    headers, content = got
    parsed = Parsed(data)
    assert parsed.error is None, f"httptools refuses it: {parsed.error}"
    assert (parsed.begun, parsed.messages) == (1, 1), "httptools reads another number of requests"
    assert parsed.method == b"POST", parsed.method
    assert parsed.url == b"/function", parsed.url
    url = httptools.parse_url(parsed.url)
    assert (url.path, url.query) == (b"/function", None)
    assert parsed.version == "1.1", parsed.version
    assert parsed.keep_alive, "httptools would not keep the connection"
    assert not parsed.upgrade, "httptools reads an upgrade"
    assert headers == dict(parsed.headers), (headers, parsed.headers)
    assert b"expect" not in headers and b"transfer-encoding" not in headers
    assert content == parsed.body, (content, parsed.body)
    return got


class Stats:
    """What one run saw."""

    def __init__(self) -> None:
        self.cases = self.read = self.plain = 0
        self.seconds = 0.0

    def line(self, seed: int, module: str) -> str:
        return (
            f"parser differential ({module}): {self.cases} cases in {self.seconds:.1f} s, "
            f"seed {seed}: {self.read} read by _request.c (all {self.plain} in the plainest "
            "shape among them), each read the same by httptools; no disagreement"
        )


def run(
    whole_post: WholePost, seed: int, cases: int | None = None, seconds: float | None = None
) -> Stats:
    """Fuzz ``whole_post`` for ``cases`` requests or ``seconds``; raises on a disagreement."""
    rng = random.Random(seed)
    stats = Stats()
    started = time.monotonic()
    deadline = started + seconds if seconds is not None else None
    while True:
        if cases is not None and stats.cases >= cases:
            break
        if deadline is not None and stats.cases % 256 == 0 and time.monotonic() >= deadline:
            break
        kind = stats.cases % 4
        if kind == 0:
            data = corpus.plain_request(rng)
        elif kind == 1:
            data = corpus.request(rng)
        else:
            data = corpus.mutate(rng, corpus.plain_request(rng) if kind == 2 else data)
        try:
            got = agrees(whole_post, data)
        except AssertionError as exc:
            raise AssertionError(f"case {stats.cases} of seed {seed}: {data!r}: {exc}") from exc
        if kind == 0:
            assert got is not None, f"case {stats.cases}: not read in the plainest shape: {data!r}"
            stats.plain += 1
        stats.cases += 1
        stats.read += got is not None
    stats.seconds = time.monotonic() - started
    return stats


def run_sanitized(args: list[str]) -> subprocess.CompletedProcess[str]:
    """This module's command line, on a sanitized build, in a child process."""
    with tempfile.TemporaryDirectory(prefix="request-sanitized-") as folder:
        module = sanitized.build(Path(folder))
        command = [sys.executable, "-m", "tests.fuzz.parser_diff", "--module", str(module), *args]
        root = Path(__file__).resolve().parents[2]
        return subprocess.run(
            command, env=sanitized.environment(), cwd=root, capture_output=True, text=True
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.parser_diff", description=__doc__)
    parser.add_argument("--cases", type=int, help="how many requests (default: 100000)")
    parser.add_argument("--seconds", type=float, help="or for how long")
    parser.add_argument("--seed", type=int, default=None, help="default: a new one, printed")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--sanitized", action="store_true", help="on an ASan+UBSan build")
    where.add_argument("--module", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    cases = args.cases if args.cases is not None or args.seconds is not None else 100_000
    if args.sanitized:
        limits = ["--seed", str(seed)]
        limits += ["--cases", str(cases)] if cases is not None else []
        limits += ["--seconds", str(args.seconds)] if args.seconds is not None else []
        done = run_sanitized(limits)
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        return done.returncode
    if args.module is not None:
        whole_post = sanitized.load(args.module).whole_post
        label = "ASan+UBSan build"
    else:
        from stack_runtime.server._request import whole_post

        label = "installed build"
    stats = run(whole_post, seed, cases, args.seconds)
    print(stats.line(seed, label))
    return 0


if __name__ == "__main__":
    sys.exit(main())
