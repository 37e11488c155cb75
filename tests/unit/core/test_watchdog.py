"""LoopWatchdog: one eventLoopBlocked per block of the event loop, with its length."""

from __future__ import annotations

import asyncio
import sys
import time
import types

import pytest

from stack_runtime.core.watchdog import LoopWatchdog, running_function


def blocks(seconds: float) -> list[tuple[str, float]]:
    """Run a loop that turns freely for 0.3 s, blocks for ``seconds``, turns for 0.3 s."""
    seen: list[tuple[str, float]] = []

    async def main() -> None:
        watchdog = LoopWatchdog(0.05, lambda function, length: seen.append((function, length)))
        watchdog.start()
        try:
            await asyncio.sleep(0.3)
            if seconds:
                time.sleep(seconds)  # what an async def that calls blocking code does
            await asyncio.sleep(0.3)
        finally:
            watchdog.stop()

    asyncio.run(main())
    return seen


def test_a_loop_that_turns_freely_is_never_reported() -> None:
    assert blocks(0) == []


def test_a_block_is_reported_once_with_its_length(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("ERROR", logger="stack_runtime"):
        seen = blocks(0.4)
    assert len(seen) == 1
    function, seconds = seen[0]
    assert function == "-"  # no extension code on the stack here
    assert 0.3 <= seconds <= 0.6  # within a heartbeat (a quarter of the threshold) or so
    lines = [r.getMessage() for r in caplog.records if "eventLoopBlocked" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].startswith("logName=eventLoopBlocked, function=-, seconds=0.")
    assert "test_watchdog.py:" in lines[0]  # at= the line that blocked


def test_the_outermost_extension_function_on_the_stack_is_named() -> None:
    """Frames of modules named as the loader names extension modules count as extension
    code; the outermost one is the function the host called."""
    module = types.ModuleType("_stack_extensions_0123456789ab.diy.hooks")
    exec(
        "import sys\n"
        "def helper():\n    return sys._getframe()\n"
        "def preSavePage():\n    return helper()\n",
        module.__dict__,
    )
    function, at = running_function(module.preSavePage())
    assert function == "preSavePage"
    assert at.endswith(":3")
    assert running_function(sys._getframe())[0] == "-"


def test_the_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError):
        LoopWatchdog(0)
