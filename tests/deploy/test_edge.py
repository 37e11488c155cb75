"""nginx's edge: TLS, the redirect, oversized bodies, the trace id, and slow calls beside fast ones."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from stack_runtime.server.httptools import HttpProtocol, _whole_post

from ..functional.test_direct_answers import TOKEN as DIRECT_TOKEN
from ..functional.test_direct_answers import Served, call, no_access_log
from .stack import (
    AUTH,
    Nginx,
    Stack,
    Stream,
    explain,
    records,
    report,
    running_stack,
    served,
    wait_until,
)

LIMIT = 50 * 1024 * 1024


def test_https_with_a_test_certificate_and_plain_http_only_redirects(stack: Stack) -> None:
    """1. a call over HTTPS, verified against the certificate the test made;
    2. plain HTTP, GET and POST, answered with a redirect to HTTPS and never proxied;
    3. the traceid header reaches the host's log; operations routes are not exposed."""
    with stack.nginx.session() as session:
        answer = session.post(
            stack.nginx.url + "/function",
            json={"diy": True, "function": "record", "options": {"id": "tls-1"}},
            headers={"traceid": "trace-tls-1"},
            timeout=10,
        )
        assert answer.status_code == 200 and answer.json()["id"] == "tls-1"
        assert answer.headers["Strict-Transport-Security"].startswith("max-age=")
        for path in ("/openConnections?terminate=true", "/stopServer", "/metrics"):
            hidden = session.get(stack.nginx.url + path, timeout=10)
            assert hidden.status_code == 404 and hidden.json()["errors"][0]["code"] == "not_found"
    for host in stack.hosts:
        assert requests.get(host.url + "/readyz", timeout=5).status_code == 200

    with requests.Session() as plain:
        plain.trust_env = False
        for method in ("GET", "POST"):
            redirect = plain.request(
                method,
                stack.nginx.http_url + "/function",
                json={"diy": True, "function": "record", "options": {"id": f"plain-{method}"}},
                headers=AUTH,
                allow_redirects=False,
                timeout=10,
            )
            assert redirect.status_code == 308
            assert redirect.headers["Location"] == "https://127.0.0.1/function"
    assert {r["id"] for r in records(stack.folder)} == {"tls-1"}
    logs = "".join(h.log.read_text() for h in stack.hosts)
    assert "traceId=trace-tls-1" in logs

    # TLS 1.2 with a forward-secret AEAD cipher is accepted, without one it is refused
    assert _tls12_handshake(stack, "ECDHE-RSA-AES128-GCM-SHA256") == "TLSv1.2"
    try:
        _tls12_handshake(stack, "AES256-SHA:AES128-SHA:AES256-GCM-SHA384")
    except ssl.SSLError:
        pass
    else:
        raise AssertionError("nginx accepted a cipher without forward secrecy")


def _tls12_handshake(stack: Stack, ciphers: str) -> str | None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(stack.nginx.cert)
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(ciphers)
    with (
        socket.create_connection(("127.0.0.1", stack.nginx.https_port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        return tls.version()


def _send_oversized(stack: Stack) -> tuple[int, bytes]:
    """POST 60 MB through nginx the way a client streams it; nginx answers from Content-Length."""
    context = ssl.create_default_context(cafile=str(stack.nginx.cert))
    connection = http.client.HTTPSConnection(
        "127.0.0.1", stack.nginx.https_port, context=context, timeout=60
    )
    size = 60 * 1024 * 1024
    connection.putrequest("POST", "/function")
    connection.putheader("Authorization", AUTH["Authorization"])
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(size))
    connection.endheaders()
    chunk = b" " * (1024 * 1024)
    try:
        for _ in range(size // len(chunk)):
            connection.send(chunk)
    except OSError:
        pass  # nginx may stop reading once it has answered
    answer = connection.getresponse()
    body = answer.read()
    connection.close()
    return answer.status, body


def test_a_60_mb_body_gets_a_clean_413_and_disturbs_nothing(stack: Stack) -> None:
    """1. calls stream through nginx; 2. a 60 MB body is sent beside them;
    3. it gets a JSON 413 naming the host's limit; 4. no other call failed."""
    with Stream(stack.nginx, clients=3) as stream:
        wait_until(
            lambda: served(stream.tally, "a") > 10 and served(stream.tally, "b") > 10,
            60,
            "calls on both hosts",
        )
        status, body = _send_oversized(stack)
        before = stream.tally.answered
        wait_until(lambda: stream.tally.answered > before + 50, 60, "more calls")
    tally = stream.stop()
    report("60 MB body", tally, stack.folder, oversized_status=status)
    assert status == 413
    assert body == (
        b'{"errors":[{"code":"payload_too_large","message":"The request body is larger than '
        b"the limit of " + str(LIMIT).encode() + b' bytes."}]}'
    )
    assert tally.failures == [] and tally.wrong == [], explain(tally, stack.nginx)
    # a body just under the limit still goes through to a host (and is refused there as not JSON)
    with stack.nginx.session() as session:
        near = session.post(
            stack.nginx.url + "/function",
            data=b"x" * (LIMIT - 1024),
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
    assert near.status_code == 400 and near.json()["errors"][0]["code"] == "invalid_json"


@pytest.fixture
def patient_stack(tmp_path: Path) -> Iterator[Stack]:
    """The usual stack with a call limit of 60 s, for calls held open on purpose: under the
    usual 2 s limit, a slow machine could time them out before the test opens their gate."""
    with running_stack(tmp_path, ["a", "b"], extra=("--call-timeout", "60")) as running:
        yield running


def test_slow_calls_do_not_hold_up_a_short_one(patient_stack: Stack, tmp_path: Path) -> None:
    """1. 40 def and 40 async def calls start through nginx and wait on a gate;
    2. while all are running, short calls answer;
    3. the gate opens and every long call answers with its own body."""
    gate = tmp_path / "gate"
    envelopes = [
        {"diy": True, "function": fn, "options": {"id": f"{fn}-{n}"}}
        for n in range(40)
        for fn in ("gated", "gated_async")
    ]
    answers: dict[str, requests.Response] = {}
    lock = threading.Lock()

    def long_call(envelope: dict[str, object]) -> None:
        with patient_stack.nginx.session() as session:
            answer = session.post(patient_stack.nginx.url + "/function", json=envelope, timeout=120)
        with lock:
            answers[envelope["options"]["id"]] = answer  # type: ignore[index]

    with ThreadPoolExecutor(len(envelopes)) as pool:
        futures = [pool.submit(long_call, e) for e in envelopes]
        wait_until(
            lambda: len(records(patient_stack.folder)) == len(envelopes),
            60,
            "every long call to start",
        )
        with patient_stack.nginx.session() as session:
            for n in range(10):
                short = session.post(
                    patient_stack.nginx.url + "/function",
                    json={
                        "diy": True,
                        "function": "record" if n % 2 else "record_async",
                        "options": {"id": f"short-{n}"},
                    },
                    timeout=60,
                )
                assert short.status_code == 200 and short.json()["id"] == f"short-{n}"
        early = {k: f"{a.status_code} {a.text}" for k, a in answers.items()}
        assert not early, f"long calls finished before their gate opened: {early}"
        gate.write_text("open")
        for future in futures:
            future.result()
    assert sorted(answers) == sorted(e["options"]["id"] for e in envelopes)  # type: ignore[index]
    for call_id, answer in answers.items():
        assert answer.status_code == 200 and answer.json()["id"] == call_id


def test_calls_through_nginx_come_whole_and_skip_uvicorns_parser(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """1. deploy/nginx.conf in front of a host served by uvicorn in this process with the
    workers' HTTP protocol; 2. 40 calls through nginx, with and without a traceid, are
    answered with what they sent; 3. the host read every one in one piece with ``_request.c``,
    without uvicorn's parser (nginx sends the whole request in one write)."""
    assert _whole_post is not None, (
        "stack_runtime.server._request is not built: install gcc, then make"
    )
    no_access_log(monkeypatch)
    with Served(HttpProtocol) as host:
        nginx = Nginx([host])  # type: ignore[list-item]  # nginx needs only its port
        nginx.start()
        try:
            with nginx.session() as session:
                for n in range(40):
                    envelope = call("echo", {"data": [{"n": n}], "_flowId": "f1"})
                    answer = session.post(
                        nginx.url + "/function",
                        json=envelope,
                        headers={
                            "Authorization": f"Bearer {DIRECT_TOKEN}",
                            **({"traceid": f"trace-{n}"} if n % 2 else {}),
                        },
                        timeout=10,
                    )
                    assert answer.status_code == 200, answer.text
                    assert answer.json() == {"data": [{"n": n}], "_flowId": "f1"}
        finally:
            nginx.stop()
    assert host.direct == host.whole == 40
