"""Utilities (type "utility"): anything else you want integrator.io (or a script) to call."""

from __future__ import annotations

from stack_runtime.types import UtilityOptions


async def countRecords(options: UtilityOptions) -> dict[str, int]:
    """An ``async def`` function works too: it is awaited instead of run in a thread."""
    return {"count": len(options.get("data", []))}
