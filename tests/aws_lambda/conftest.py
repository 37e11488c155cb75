"""Fixtures for the Lambda tests: a real runtime process on the protocol fixture tree."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ..conftest import FIXTURES
from .emulator import Answer
from .runtime import LambdaRuntime


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaRuntime]:
    """stack-runtime's entry point (AWS's runtime client) serving ``tests/fixtures/protocol``."""
    log = tmp_path_factory.mktemp("lambda") / "runtime.log"
    with LambdaRuntime(log, extensions=FIXTURES / "protocol") as running:
        yield running


#: The system token of :func:`http_runtime`, which HTTP events must carry.
TOKEN = "lambda-http-token"


@pytest.fixture(scope="module")
def http_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaRuntime]:
    """:func:`runtime` with a system token, for HTTP events."""
    log = tmp_path_factory.mktemp("lambda-http") / "runtime.log"
    env = {"INTEGRATOR_EXTENSION_SYSTEM_TOKEN": TOKEN}
    with LambdaRuntime(log, extensions=FIXTURES / "protocol", env=env) as running:
        yield running


def function_error(answer: Answer) -> dict[str, Any]:
    """The parsed ``errorMessage`` of a function error, checked to be one."""
    assert answer.kind == "error", answer
    body = answer.json()
    assert body["errorType"] == "FunctionError"
    return json.loads(body["errorMessage"])  # type: ignore[no-any-return]
