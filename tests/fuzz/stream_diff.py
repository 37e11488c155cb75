"""The random-packet differential: the host against plain uvicorn, byte for byte.

Two real ``stack-runtime serve`` hosts (one worker each) serve the same extensions on
loopback: one as shipped, with the direct path, and one with ``--no-direct-path``, where
uvicorn's own httptools protocol reads and answers every request. Each case is a stream
of requests (calls of every kind, operations routes, requests near the plainest shape,
some of them mutated into malformed ones) cut into random packets: several requests in
one packet, a request split over several. Each packet is sent to both hosts on a
connection of its own case, and what each answers is read until it is quiet (or closes
the connection); the bytes must be equal but for the ``date`` header, and so must the
connection's end. A case that differs is run twice more, each time waiting longer for
quiet, and fails only if it differs every time (a host answering after the wait is not
a different answer).

    python -m tests.fuzz.stream_diff --seconds 600    # make fuzz
    python -m tests.fuzz.stream_diff --cases 40 --seed 7
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import requests

from ..e2e.server import RunningServer, start
from . import corpus

__all__ = ["Answer", "Stats", "case", "hosts", "run"]

EXTENSIONS = Path(__file__).resolve().parents[1] / "fixtures" / "protocol"
_DATE = re.compile(rb"(?im)^date: [^\r\n]*\r\n")


def _get(path: str) -> Callable[[random.Random], bytes]:
    return lambda rng: f"GET {path} HTTP/1.1\r\nHost: h\r\n\r\n".encode()


def _post(headers: bytes = b"", version: bytes = b"1.1") -> Callable[[random.Random], bytes]:
    def build(rng: random.Random) -> bytes:
        content = corpus.body(rng)
        return (
            b"POST /function HTTP/"
            + version
            + b"\r\nHost: h\r\nAuthorization: Bearer "
            + corpus.TOKEN.encode()
            + b"\r\nContent-Type: application/json\r\n"
            + headers
            + b"Content-Length: %d\r\n\r\n" % len(content)
            + content
        )

    return build


def _chunked(rng: random.Random) -> bytes:
    content = corpus.body(rng)
    return (
        b"POST /function HTTP/1.1\r\nAuthorization: Bearer "
        + corpus.TOKEN.encode()
        + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n" % len(content)
        + content
        + b"\r\n0\r\n\r\n"
    )


def _query_token(rng: random.Random) -> bytes:
    content = json.dumps({"diy": True, "function": "flatEcho", "options": {"q": 1}}).encode()
    return (
        b"POST /function?access_token=" + corpus.TOKEN.encode() + b" HTTP/1.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(content) + content
    )


#: What a stream is made of, with weights: the plainest calls most of all.
ITEMS: list[tuple[float, Callable[[random.Random], bytes]]] = [
    (6, corpus.plain_request),
    (4, corpus.request),
    (2, _post(b"Connection: keep-alive\r\n")),
    (1, _post(b"Connection: close\r\n")),
    (1, _post(version=b"1.0")),
    (1, _post(b"Expect: 100-continue\r\n")),
    (1, _post(b"traceid: t-1\r\nX-Note: a  b\r\n")),
    (1, _chunked),
    (1, _query_token),
    (1, _get("/healthCheck")),
    (1, _get("/livez")),
    (1, _get("/")),
    (1, _get("/function")),
    (1, _get("/nowhere")),
]
_WEIGHTS = [weight for weight, _ in ITEMS]


class Answer(NamedTuple):
    """What a host sent back on one connection (``date`` lines out), and how it ended."""

    data: bytes
    closed: bool


def case(rng: random.Random) -> list[bytes]:
    """A stream of one to six requests (a fifth of them mutated), cut into packets."""
    parts = []
    for _ in range(rng.randint(1, 6)):
        part = rng.choices(ITEMS, _WEIGHTS)[0][1](rng)
        if rng.random() < 0.2:
            part = corpus.mutate(rng, part)
        parts.append(part)
    stream = b"".join(parts)
    bounds = [sum(map(len, parts[: n + 1])) for n in range(len(parts) - 1)]
    cuts = set(rng.sample(bounds, rng.randint(0, len(bounds))))
    cuts |= {rng.randrange(1, len(stream)) for _ in range(rng.randint(0, 3)) if len(stream) > 1}
    edges = [0, *sorted(cuts), len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(edges) if b > a]


def exchange(port: int, packets: list[bytes], quiet: float) -> Answer:
    """Send each packet on one new connection, reading until the host is quiet for
    ``quiet`` seconds (or closes the connection) after each."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.settimeout(quiet)
        for packet in packets:
            try:
                conn.sendall(packet)
            except OSError:  # the host has closed it (and said so): nothing more is read
                return Answer(_DATE.sub(b"", received), True)
            while True:
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    break
                except OSError:
                    return Answer(_DATE.sub(b"", received), True)
                if not chunk:
                    return Answer(_DATE.sub(b"", received), True)
                received += chunk
    return Answer(_DATE.sub(b"", received), False)


class Stats:
    """What one run saw."""

    def __init__(self) -> None:
        self.cases = self.packets = self.waited_longer = 0
        self.answers = self.closed = 0
        self.seconds = 0.0
        self.direct: dict[str, float] = {}

    def line(self, seed: int) -> str:
        readers = ", ".join(f"{n:.0f} read by {r}" for r, n in sorted(self.direct.items()))
        return (
            f"stream differential: {self.cases} cases ({self.packets} packets, {self.answers} "
            f"answers, {self.closed} connections closed by the hosts) in {self.seconds:.1f} s, "
            f"seed {seed}; the host answered directly {readers or 'none'}; "
            f"{self.waited_longer} cases needed a longer wait; no difference"
        )


def _direct_requests(host: RunningServer) -> dict[str, float]:
    text = requests.get(
        host.url + "/metrics", headers={"Authorization": f"Bearer {corpus.TOKEN}"}, timeout=10
    ).text
    found = re.findall(r'^stack_runtime_direct_requests_total\{reader="(\w+)"\} (\S+)$', text, re.M)
    return {reader: float(value) for reader, value in found}


@contextmanager
def hosts(folder: Path) -> Iterator[tuple[RunningServer, RunningServer]]:
    """The host as shipped, and the host with ``--no-direct-path``; one worker each."""
    common = ["--workers", "1", "--call-timeout", "5"]
    direct = start("serve", EXTENSIONS, folder / "direct.log", token=corpus.TOKEN, extra=common)
    try:
        plain = start(
            "serve",
            EXTENSIONS,
            folder / "plain.log",
            token=corpus.TOKEN,
            extra=[*common, "--no-direct-path"],
        )
        try:
            yield direct, plain
        finally:
            plain.stop()
    finally:
        direct.stop()


def run(
    direct: RunningServer,
    plain: RunningServer,
    seed: int,
    cases: int | None = None,
    seconds: float | None = None,
    quiet: float = 0.03,
) -> Stats:
    """Send ``cases`` random cases (or for ``seconds``) to both hosts; raises on a
    difference that a longer wait does not settle."""
    rng = random.Random(seed)
    stats = Stats()
    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:

        def both(packets: list[bytes], wait: float) -> tuple[Answer, Answer]:
            got = pool.submit(exchange, direct.port, packets, wait)
            expected = exchange(plain.port, packets, wait)
            return got.result(), expected

        while (cases is None or stats.cases < cases) and (
            seconds is None or time.monotonic() - started < seconds
        ):
            packets = case(rng)
            got, expected = both(packets, quiet)
            tries = 0
            while got != expected and tries < 2:
                tries += 1
                got, expected = both(packets, quiet * 5 * tries)
            if tries:
                stats.waited_longer += 1
            assert got == expected, (
                f"case {stats.cases} of seed {seed} differs:\n  packets: {packets!r}\n"
                f"  host:    {got!r}\n  uvicorn: {expected!r}"
            )
            stats.cases += 1
            stats.packets += len(packets)
            stats.answers += got.data.count(b"HTTP/1.1 ")
            stats.closed += got.closed
    stats.seconds = time.monotonic() - started
    stats.direct = _direct_requests(direct)
    assert not _direct_requests(plain), "the host with --no-direct-path answered directly"
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.stream_diff", description=__doc__)
    parser.add_argument("--cases", type=int, help="how many streams (default: 200)")
    parser.add_argument("--seconds", type=float, help="or for how long")
    parser.add_argument("--seed", type=int, default=None, help="default: a new one, printed")
    parser.add_argument("--quiet", type=float, default=0.03, help="seconds of quiet per packet")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    cases = args.cases if args.cases is not None or args.seconds is not None else 200
    with (
        tempfile.TemporaryDirectory(prefix="stream-diff-") as folder,
        hosts(Path(folder)) as (
            direct,
            plain,
        ),
    ):
        stats = run(direct, plain, seed, cases, args.seconds, args.quiet)
    print(stats.line(seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
