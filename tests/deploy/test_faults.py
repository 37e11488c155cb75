"""Faults behind nginx: a host killed under load, functions that crash, hang or burn CPU."""

from __future__ import annotations

import re
from pathlib import Path

from .stack import (
    Stack,
    Stream,
    Tally,
    records,
    report,
    running_stack,
    served,
    wait_until,
)


def _upstreams(stack: Stack) -> dict[str, tuple[str, str]]:
    """traceid -> (upstream address(es), upstream status) from nginx's access log."""
    found = {}
    pattern = re.compile(
        r'upstream=(\S+(?:, \S+)*) upstream_status=(\S+(?:, \S+)*) .*traceid="([^"]*)"'
    )
    for line in stack.nginx.access_log():
        match = pattern.search(line)
        if match:
            found[match.group(3)] = (match.group(1), match.group(2))
    return found


def _lost_on(stack: Stack, tally: Tally, port: int) -> list[str]:
    """The failed calls whose last attempt was on the host at ``port`` (and got no answer)."""
    upstreams = _upstreams(stack)
    lost = []
    for call_id, reason in tally.failures:
        address, status = upstreams[call_id]
        assert address.split(", ")[-1] == f"127.0.0.1:{port}", (call_id, reason, address)
        assert status.split(", ")[-1] == "502", (call_id, reason, status)
        lost.append(call_id)
    return lost


def test_sigkill_loses_only_the_calls_in_flight_on_the_killed_host(tmp_path: Path) -> None:
    """1. calls of 0.1 s each stream through nginx to a and b;
    2. every process of a is killed with SIGKILL;
    3. the stream goes on, all on b;
    4. only calls that were on a when it died failed (nginx's log says where each went)."""
    with running_stack(tmp_path, ["a", "b"]) as stack:
        a = stack.host("a")
        with Stream(stack.nginx, clients=6, sleep=0.1, pause=0) as stream:
            wait_until(
                lambda: served(stream.tally, "a") > 30 and served(stream.tally, "b") > 30,
                60,
                "calls on both hosts",
            )
            a.kill()
            after = served(stream.tally, "b")
            wait_until(
                lambda: served(stream.tally, "b") > after + 150, 60, "calls on b after the kill"
            )
        tally = stream.stop()
        lost = _lost_on(stack, tally, a.port)
        started_on_a = {r["id"] for r in records(stack.folder) if r["host"] == "a"}

    duplicated = report(
        "sigkill host",
        tally,
        stack.folder,
        lost_in_flight_on_killed_host=len(lost),
        of_which_already_running=len(set(lost) & started_on_a),
    )
    assert tally.wrong == [] and duplicated == []
    assert len(lost) <= stream.clients  # one call in flight per client at most
    assert tally.answered == tally.sent - len(lost)


def test_crashing_hanging_and_burning_functions_cost_only_their_own_calls(stack: Stack) -> None:
    """1. normal calls stream through nginx;
    2. beside them: functions that os._exit, segfault, hang (def and async def),
       burn CPU past the call limit and recurse without end;
    3. each gets its own error; crashed workers are replaced and both hosts go on serving;
    4. normal calls fail only where they were in flight on a crashing worker."""
    session = stack.nginx.session()

    def call(function: str, **options: object) -> tuple[int, dict[str, object]]:
        envelope = {
            "diy": True,
            "function": function,
            "options": {"id": f"fault-{function}", **options},
        }
        answer = session.post(
            stack.nginx.url + "/function",
            json=envelope,
            headers={"traceid": f"fault-{function}"},
            timeout=60,
        )
        return answer.status_code, answer.json()

    with Stream(stack.nginx, clients=3) as stream:
        stream.wait_for_calls("a", "b")
        outcomes = {
            "die": call("die"),
            "segfault": call("segfault"),
            "hang": call("hang"),
            "hang_async": call("hang_async"),
            "burn": call("burn", seconds=4),
            "recurse": call("recurse"),
        }

        crashed = {r["pid"] for r in records(stack.folder) if r["what"] in ("die", "segfault")}

        def replaced() -> bool:
            alive = set().union(*(h.worker_pids() for h in stack.hosts))
            return len(alive) == 4 and not alive & crashed

        wait_until(replaced, 60, "gunicorn to replace the crashed workers")
        before = {h.name: served(stream.tally, h.name) for h in stack.hosts}
        wait_until(
            lambda: all(served(stream.tally, n) > before[n] + 20 for n in before),
            60,
            "both hosts to keep serving",
        )
    tally = stream.stop()
    session.close()

    for crash in ("die", "segfault"):
        status, body = outcomes[crash]
        assert status == 502 and body["errors"][0]["code"] == "bad_gateway", outcomes[crash]
    logs = "".join(host.log.read_text(errors="replace") for host in stack.hosts)
    assert "Fatal Python error: Segmentation fault" in logs  # the stack of the crash, logged
    assert "in segfault" in logs
    for hung in ("hang", "hang_async", "burn"):
        status, body = outcomes[hung]
        assert status == 422 and body["errors"][0]["code"] == "function_timeout", outcomes[hung]
    assert (
        outcomes["recurse"][0] == 422
        and outcomes["recurse"][1]["errors"][0]["code"] == "RecursionError"
    )

    crashed = {
        r["host"]: r["pid"] for r in records(stack.folder) if r["what"] in ("die", "segfault")
    }
    upstreams = _upstreams(stack)
    ports = {f"127.0.0.1:{h.port}" for h in stack.hosts if h.name in crashed}
    lost = []
    for call_id, reason in tally.failures:
        address, status = upstreams[call_id]
        assert address.split(", ")[-1] in ports and status.endswith("502"), (call_id, reason)
        lost.append(call_id)
    for host in stack.hosts:
        assert host.process is not None and host.process.poll() is None
    duplicated = report(
        "faults beside traffic", tally, stack.folder, lost_with_crashed_workers=len(lost)
    )
    assert tally.wrong == [] and duplicated == []
    assert len(lost) <= 2 * stream.clients
