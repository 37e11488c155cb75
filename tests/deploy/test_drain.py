"""Draining hosts behind nginx under a steady stream of calls: nothing lost, nothing twice."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from .stack import (
    AUTH,
    Host,
    Stream,
    duplicates,
    records,
    report,
    running_stack,
    served,
    wait_until,
)


def _restart(host: Host, stream: Stream) -> None:
    """Start ``host`` again on its port and wait until nginx sends it calls."""
    host.start()
    before = served(stream.tally, host.name)
    wait_until(lambda: served(stream.tally, host.name) > before + 10, 60, f"calls on {host.name}")


def test_rolling_restart_loses_no_call(tmp_path: Path) -> None:
    """1. a steady stream of calls through nginx to hosts a and b;
    2. SIGTERM a: it stops listening at once, finishes its calls and exits 0;
    3. start a again and wait until nginx sends it calls;
    4. drain b the balancer's way (/openConnections?terminate=true), then restart it;
    5. every call answered once, with its own body."""
    with running_stack(tmp_path, ["a", "b"], extra=("--drain-delay", "1")) as stack:
        a, b = stack.hosts
        with Stream(stack.nginx, clients=4) as stream:
            wait_until(
                lambda: served(stream.tally, "a") > 20 and served(stream.tally, "b") > 20,
                60,
                "calls on both hosts",
            )

            started = time.monotonic()
            a.terminate()
            wait_until(a.refuses_connections, 10, "a to stop listening")
            assert a.wait(60) == 0
            drain_a = time.monotonic() - started
            _restart(a, stream)

            started = time.monotonic()
            close = {**AUTH, "Connection": "close"}  # the test holds no connection open
            answer = requests.get(
                b.url + "/openConnections", params={"terminate": "true"}, headers=close, timeout=5
            )
            assert answer.status_code == 200
            assert requests.get(b.url + "/readyz", headers=close, timeout=5).status_code == 503
            assert b.wait(60) == 0
            drain_b = time.monotonic() - started
            _restart(b, stream)
        tally = stream.stop()

    duplicated = duplicates(stack.folder)
    report(
        "rolling restart",
        tally,
        len(duplicated),
        drain_a_s=f"{drain_a:.1f}",
        drain_b_s=f"{drain_b:.1f}",
    )
    assert tally.failures == [] and tally.wrong == []
    assert duplicated == []
    assert tally.answered == tally.sent
    assert len([r for r in records(stack.folder) if r["what"] == "call"]) == tally.sent
