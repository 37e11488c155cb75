"""Hostile envelopes through the ASGI app (TestClient) and the pytest plugin's call path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from stack_runtime.server.build import build_app
from stack_runtime.settings import Settings
from stack_runtime.testing import Stack

from ..hostile import READ, UNREAD, Case, Unread, too_deep

AUTH = {"Authorization": "Bearer t", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def client() -> TestClient:
    fixtures = Path(__file__).parent.parent / "fixtures"
    settings = Settings(extensions_dir=fixtures / "protocol", system_tokens=("t",), call_timeout=5)
    return TestClient(build_app(settings))


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with Stack.load(Path(__file__).parent.parent / "fixtures" / "protocol") as loaded:
        yield loaded


@pytest.mark.parametrize("case", READ, ids=[c.name for c in READ])
def test_a_hostile_envelope_gets_its_answer(client: TestClient, case: Case) -> None:
    response = client.post("/function", content=case.body, headers=AUTH)
    assert (response.status_code, json.loads(response.content)) == (case.status, case.answer)


@pytest.mark.parametrize("case", UNREAD, ids=[c.name for c in UNREAD])
def test_an_envelope_too_deep_gets_400_naming_the_field(client: TestClient, case: Unread) -> None:
    response = client.post("/function", content=case.body, headers=AUTH)
    assert response.status_code == 400
    assert response.json() == too_deep("The request body", case.path)


@pytest.mark.parametrize("case", READ, ids=[c.name for c in READ])
def test_the_plugin_answers_a_hostile_envelope_as_the_server(stack: Stack, case: Case) -> None:
    outcome = stack.local.dispatch_sync(case.envelope)
    assert (outcome.status, json.loads(outcome.body)) == (case.status, case.answer)


def _deep(levels: int, inner: Any) -> Any:
    for _ in range(levels):
        inner = [inner]
    return inner


def test_the_plugin_answers_an_envelope_too_deep_as_the_server(stack: Stack) -> None:
    result = stack.invoke("echo", {"data": [_deep(1100, 1)]}, type="hook")
    assert result.status == 400
    assert json.loads(result.body) == too_deep("The request body", "options.data")
    cycle: dict[str, Any] = {}
    cycle["again"] = [cycle]
    result = stack.invoke("echo", {"loop": cycle}, type="hook")
    assert json.loads(result.body) == too_deep("The request body", "options.loop.again")
