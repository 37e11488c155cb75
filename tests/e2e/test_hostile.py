"""Hostile envelopes against the real ``stack-runtime serve`` and ``dev``: never a 500.

Each envelope goes through both of the host's ways of reading ``POST /function``:
the direct one (a whole request in one read, read in C) and uvicorn's own (taken
for any request with a query string). The log must show no unhandled error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from ..conftest import FIXTURES
from ..hostile import READ, UNREAD, Case, Unread, too_deep
from .conftest import TOKEN
from .server import RunningServer, start

HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
#: The direct path, and uvicorn's (a query string is never read directly).
PATHS = {"direct": "/function", "uvicorn": "/function?via=uvicorn"}
UNHANDLED = ("unhandledError", "internal_error", "--- Logging error ---")


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("dev") / "dev.log"
    running = start("dev", FIXTURES / "protocol", log, token=TOKEN)
    yield running
    running.stop()


def post(server: RunningServer, path: str, body: bytes) -> requests.Response:
    return requests.post(server.url + path, data=body, headers=HEADERS, timeout=30)


def _answered(response: requests.Response) -> tuple[int, object]:
    assert response.headers["content-type"].startswith("application/json"), response.text
    return response.status_code, json.loads(response.content)


@pytest.mark.parametrize("path", PATHS.values(), ids=PATHS.keys())
@pytest.mark.parametrize("case", READ, ids=[c.name for c in READ])
def test_serve_answers_a_hostile_envelope(server: RunningServer, case: Case, path: str) -> None:
    assert _answered(post(server, path, case.body)) == (case.status, case.answer)


@pytest.mark.parametrize("path", PATHS.values(), ids=PATHS.keys())
@pytest.mark.parametrize("case", UNREAD, ids=[c.name for c in UNREAD])
def test_serve_refuses_an_envelope_too_deep(server: RunningServer, case: Unread, path: str) -> None:
    answered = _answered(post(server, path, case.body))
    assert answered == (400, too_deep("The request body", case.path))


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"diy":true,"function":NaN,"options":{}}', 400, "invalid_json"),
        (b'{"diy":true,"function":"echo","options":{"a":-Infinity}}', 400, "invalid_json"),
        (b'{"diy":true,"function":"\\ud800","options":{}}', 400, "invalid_json"),
        (b'{"diy":true,"function":"echo","options":{"a":1e400}}', 400, "invalid_json"),
        (b"[" * 1000 + b"]" * 1000, 400, "invalid_body"),
        (b"[" * 5000 + b"]" * 5000, 400, "nesting_too_deep"),
    ],
    ids=["nan", "infinity", "lone-surrogate", "beyond-a-double", "array", "array-too-deep"],
)
def test_serve_refuses_what_json_does_not_carry(
    server: RunningServer, body: bytes, status: int, code: str
) -> None:
    for path in PATHS.values():
        answered_status, answer = _answered(post(server, path, body))
        assert (answered_status, answer["errors"][0]["code"]) == (status, code)  # type: ignore[index]


def test_a_token_nested_in_the_body_is_refused(server: RunningServer) -> None:
    body = b'{"diy":true,"function":"echo","options":{},"access_token":' + b"[" * 1000
    body += b'"test-token"' + b"]" * 1000 + b"}"
    response = requests.post(server.url + "/function", data=body, timeout=30)
    assert response.status_code == 401


def test_serve_logged_no_unhandled_error_and_still_serves(server: RunningServer) -> None:
    """Runs after the tests above in this module (pytest keeps the file's order)."""
    assert requests.get(server.url + "/livez", timeout=5).status_code == 200
    log = server.output()
    assert not [marker for marker in UNHANDLED if marker in log], log[-5000:]


def test_dev_answers_hostile_envelopes_as_serve(dev: RunningServer) -> None:
    for case in READ:
        assert _answered(post(dev, "/function", case.body)) == (case.status, case.answer), case
    for unread in UNREAD:
        answered = _answered(post(dev, "/function", unread.body))
        assert answered == (400, too_deep("The request body", unread.path)), unread
    assert requests.get(dev.url + "/livez", timeout=5).status_code == 200
    log = dev.output()
    assert not [marker for marker in UNHANDLED if marker in log], log[-5000:]
