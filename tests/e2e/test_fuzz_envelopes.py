"""Generated hostile envelopes against the real ``stack-runtime serve``: never a 5xx.

Hypothesis writes envelopes field by field (``tests/strategies.py``): deep
nesting around the limits, huge numbers, ``NaN`` and ``Infinity`` literals, odd
and broken unicode, wrong types in every field, strings up to a million
characters. Each goes to the host's direct read or to uvicorn's (a query
string), with the token in the header, in the body, or missing. The host must
answer every one with a status below 500 and a JSON body (or the empty body of a
function that returned nothing), and go on answering ``/livez``.

``make test`` runs 100 examples, the same each time (the ``suite`` profile);
``make fuzz-envelopes`` runs many new ones (``HYPOTHESIS_PROFILE=fuzz``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from ..strategies import Envelope, envelopes
from .conftest import TOKEN
from .server import RunningServer


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as opened:
        yield opened


def check_answer(response: requests.Response) -> None:
    """Below 500, JSON, and a JSON body (empty only for a 200: a function's ``None``)."""
    assert response.status_code < 500, response.text[:2000]
    assert response.headers["content-type"].startswith("application/json"), response.headers
    if response.content or response.status_code != 200:
        json.loads(response.content)


@given(
    envelope=envelopes(),
    uvicorn_path=st.booleans(),
    token=st.sampled_from(["header", "body", "none", "wrong"]),
)
def test_no_envelope_gets_a_5xx(
    server: RunningServer,
    session: requests.Session,
    envelope: Envelope,
    uvicorn_path: bool,
    token: str,
) -> None:
    headers = {"Content-Type": "application/json"}
    if token == "header":
        headers["Authorization"] = f"Bearer {TOKEN}"
    elif token == "wrong":
        headers["Authorization"] = "Bearer not-the-token"
    url = server.url + ("/function?via=uvicorn" if uvicorn_path else "/function")
    check_answer(session.post(url, data=envelope.body, headers=headers, timeout=60))
    assert session.get(server.url + "/livez", timeout=10).status_code == 200


@given(body=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_no_body_gets_a_5xx(server: RunningServer, session: requests.Session, body: bytes) -> None:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    check_answer(session.post(server.url + "/function", data=body, headers=headers, timeout=60))


def test_the_host_logged_no_unhandled_error(server: RunningServer) -> None:
    """Runs after the tests above in this module (pytest keeps the file's order)."""
    assert requests.get(server.url + "/livez", timeout=10).status_code == 200
    log = server.output()
    for marker in ("unhandledError", "internal_error", "--- Logging error ---"):
        assert marker not in log, log[-5000:]
