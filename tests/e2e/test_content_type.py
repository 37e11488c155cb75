"""A body without ``Content-Type: application/json`` is ignored, as integrator.io's host does,
and the log says so: ``curl -d`` sends ``application/x-www-form-urlencoded``."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from ..conftest import FIXTURES
from .server import RunningServer, start
from .test_direct_path import direct_requests

TOKEN = "test-token"
CALL = {"diy": True, "type": "hook", "function": "echo", "options": {"data": [1]}}
MISSING = [
    {
        "code": "missing_required_field",
        "message": "Need to set either the diy or _connectorId field in extension options.",
    },
    {
        "code": "missing_required_field",
        "message": "Missing required field function in the extension options.",
    },
    {"code": "missing_required_field", "message": "Function options haven't been provided."},
]
IGNORED = (
    "message=The body was ignored: it is read only with the header Content-Type: "
    "application/json, so the call has no diy, function or options."
)


def curl(server: RunningServer, *headers: str) -> tuple[int, object]:
    """``curl -d BODY`` to ``/function`` with the token and ``headers``: status and body."""
    args = ["curl", "-s", "-w", "\n%{http_code}", f"{server.url}/function"]
    args += ["-H", f"Authorization: Bearer {TOKEN}", "-d", json.dumps(CALL)]
    for header in headers:
        args += ["-H", header]
    result = subprocess.run(args, capture_output=True, text=True, timeout=30, check=True)
    body, status = result.stdout.rsplit("\n", 1)
    return int(status), json.loads(body)


def logged(server: RunningServer, pattern: str) -> re.Match[str]:
    deadline = time.monotonic() + 10
    while not (found := re.search(pattern, server.output())):
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.05)
    return found


@pytest.mark.parametrize(
    ("command", "flags"),
    [("serve", []), ("serve", ["--no-direct-path"]), ("dev", [])],
    ids=["serve-direct", "serve-uvicorn", "dev"],
)
def test_a_body_without_a_json_content_type_is_ignored_and_the_log_says_why(
    tmp_path: Path, command: str, flags: list[str]
) -> None:
    """1. ``curl -d`` (form-encoded) and ``Content-Type: text/plain``: the three 422s of an
    empty envelope, as integrator.io's host answers; 2. each is logged with the reason, the
    header given and the request id of its ``reqFinished`` line; 3. with the header, the
    same body is the call; 4. the direct path answered them unless switched off."""
    extra = ["--workers", "1", *flags] if command == "serve" else flags
    server = start(command, FIXTURES / "protocol", tmp_path / "log", token=TOKEN, extra=extra)
    try:
        assert curl(server) == (422, {"errors": MISSING})
        form = logged(
            server,
            r"logName=bodyIgnored, _reqId=(\w+), "
            r"contentType=application/x-www-form-urlencoded, bytes=\d+, (message=.*)",
        )
        assert form.group(2) == IGNORED
        assert curl(server, "Content-Type: text/plain") == (422, {"errors": MISSING})
        logged(server, r"logName=bodyIgnored, _reqId=\w+, contentType=text/plain, bytes=")
        assert curl(server, "Content-Type: application/json") == (200, {"data": [1]})
        if command == "serve":
            # the request id ties the reason to the call's reqFinished line
            logged(server, rf"logName=reqFinished, .*statusCode=422, .*_reqId={form.group(1)}")
            direct = sum(direct_requests(server).values())
            assert direct == (0 if flags else 3), server.output()
        assert server.output().count("logName=bodyIgnored") == 2
    finally:
        server.stop()
