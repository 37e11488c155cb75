"""The floor: the least any Python host could do for a ``POST /function``.

A bare ASGI callable, no framework: it checks the bearer header, reads the body,
parses it with orjson, calls the benchmark's hook named in the envelope directly
on the event loop, awaiting it in the same task for an ``async def`` (no
validation, no resolution, no thread, no log line), and answers with the result serialized by orjson. For the echo workloads that is
``options.data`` as it came. Run it under uvicorn::

    INTEGRATOR_EXTENSION_SYSTEM_TOKEN=t uvicorn --app-dir bench floor:app \\
        --http httptools --loop uvloop --no-access-log --lifespan off

With ``FLOOR_LOG_LINES=1`` (the benchmark's ``floor-logged`` contender) it also
writes the two lines per call the reference writes, ``callFunctionInvoked``
before the hook runs and ``reqFinished`` after the answer, each to stderr as it
is made: the least a Python host that logs like the reference could do.
"""

from __future__ import annotations

import hmac
import importlib.util
import inspect
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import orjson

__all__ = ["app"]

_HOOKS_FILE = Path(__file__).parent / "extensions" / "diy" / "hooks.py"


def _load_hooks() -> Any:
    spec = importlib.util.spec_from_file_location("_bench_floor_hooks", _HOOKS_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_HOOKS = _load_hooks()
_FUNCTIONS = {
    name: getattr(_HOOKS, name) for name in ("echo", "asyncEcho", "preSavePage", "preMap")
}
_EXPECTED = b"Bearer " + os.environ.get("INTEGRATOR_EXTENSION_SYSTEM_TOKEN", "").encode()
_JSON = (b"content-type", b"application/json; charset=utf-8")
_LOG_LINES = os.environ.get("FLOOR_LOG_LINES") == "1"
_second: tuple[int, str] = (-1, "")


def _log(line: str) -> None:
    global _second
    now = time.time()
    if int(now) != _second[0]:
        _second = (int(now), time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(int(now))))
    sys.stderr.write(f"{_second[1]},{int((now - _second[0]) * 1000):03d} INFO {line}\n")
    sys.stderr.flush()


async def _answer(send: Any, status: int, body: bytes) -> None:
    headers = [_JSON, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer ``POST /function``: bearer check, orjson in, the hook, orjson out."""
    authorization = b""
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value
    if not hmac.compare_digest(authorization, _EXPECTED):
        await _answer(send, 401, b'{"errors":[{"code":"unauthorized"}]}')
        return
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    envelope = orjson.loads(b"".join(chunks))
    if _LOG_LINES:
        started = time.perf_counter()
        request = f"{int(time.time() * 1000)}{random.randrange(36**4):04x}"
        _log(
            f"logName=callFunctionInvoked, type=hook, function={envelope['function']}, "
            f"_integrationId={envelope['options'].get('_integrationId')}, "
            f"_flowId={envelope['options'].get('_flowId')}, _reqId={request}"
        )
    result = _FUNCTIONS[envelope["function"]](envelope["options"])
    if inspect.iscoroutine(result):  # asyncEcho: awaited in this task, as directly as can be
        result = await result
    await _answer(send, 200, orjson.dumps(result))
    if _LOG_LINES:
        _log(
            f"logName=reqFinished, method=POST, url=/function, statusCode=200, "
            f"responseTime={(time.perf_counter() - started) * 1000:.0f}ms, _reqId={request}"
        )
