"""Draining and stopping a host through its operations routes."""

from __future__ import annotations

from pathlib import Path

import requests

from ..conftest import FIXTURES
from .server import start

AUTH = {"Authorization": "Bearer test-token"}


def test_terminate_turns_every_worker_unhealthy(tmp_path: Path) -> None:
    """1. start two workers; 2. mark terminating through one; 3. every worker answers 503."""
    running = start("serve", FIXTURES / "protocol", tmp_path / "log", extra=["--workers", "2"])
    try:
        assert requests.get(running.url + "/readyz", timeout=5).status_code == 200
        answer = requests.get(
            running.url + "/openConnections", params={"terminate": "true"}, headers=AUTH, timeout=5
        )
        assert answer.status_code == 200 and answer.text.isdigit()
        # new connections land on either worker: all of them must answer 503 now
        for _ in range(20):
            for path in ("/livez", "/readyz"):
                assert requests.get(running.url + path, timeout=5).status_code == 503
        assert "isTerminating=true" in running.output()
        # calls are still served while the balancer drains the host
        call = requests.post(
            running.url + "/function",
            json={"diy": True, "function": "flatEcho", "options": {"a": 1}},
            headers=AUTH,
            timeout=5,
        )
        assert call.json() == {"a": 1}
    finally:
        running.stop()


def test_stop_server_refuses_while_connections_are_open(tmp_path: Path) -> None:
    running = start("serve", FIXTURES / "protocol", tmp_path / "log", extra=["--workers", "1"])
    sessions = [requests.Session() for _ in range(2)]
    try:
        for session in sessions:
            session.get(running.url + "/healthCheck", timeout=5)
        refused = requests.get(running.url + "/stopServer", headers=AUTH, timeout=5)
        assert refused.status_code == 422
        assert refused.json() == {
            "errors": [{"code": "connections_still_open", "message": "2 connection(s) still open."}]
        }
        assert running.process.poll() is None
    finally:
        for session in sessions:
            session.close()
        running.stop()


def test_stop_server_stops_the_host(tmp_path: Path) -> None:
    running = start("serve", FIXTURES / "protocol", tmp_path / "log", extra=["--workers", "2"])
    try:
        answer = requests.get(running.url + "/stopServer", headers=AUTH, timeout=5)
        assert answer.status_code == 200 and answer.text == "preparing to shut down."
        assert running.process.wait(30) == 0
    finally:
        running.stop()
