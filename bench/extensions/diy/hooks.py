"""The benchmark's hooks. ``bench/node/diy.js`` does the same in JavaScript, byte for byte.

Results hold only strings, integers, booleans, lists and objects, so Python and
JavaScript serialize them identically and one expected body checks every host.
"""

from __future__ import annotations

import time
from typing import Any

_last_block = [time.monotonic()]


def echo(options: dict[str, Any]) -> Any:
    """Answer with the page as it came (the ``small`` and ``big`` workloads)."""
    return options["data"]


async def asyncEcho(options: dict[str, Any]) -> Any:
    """``echo`` as an ``async def``: run on the event loop, no thread (``small-async``)."""
    return options["data"]


def preSavePage(options: dict[str, Any]) -> dict[str, Any]:
    """Drop deleted records; the page shape integrator.io expects (``page``)."""
    kept = [record for record in options["data"] if record.get("status") != "deleted"]
    return {
        "data": kept,
        "errors": options.get("errors") or [],
        "abort": False,
        "newErrorsAndRetryData": [],
    }


def preMap(options: dict[str, Any]) -> list[dict[str, Any]]:
    """Reshape every record: one ``{data}`` per record, as preMap answers (``transform``)."""
    mapped = []
    for record in options["data"]:
        out = dict(record)
        out["email"] = record["email"].strip().lower()
        out["fullName"] = record["firstName"] + " " + record["lastName"]
        out["totalCents"] = record["quantity"] * record["priceCents"]
        out["tagCount"] = len(record["tags"])
        out["country"] = record["address"]["country"].upper()
        mapped.append({"data": out})
    return mapped


def sometimesBlocks(options: dict[str, Any]) -> dict[str, Any]:
    """Quick, except that one call every ``every`` seconds (1.5) blocks for ``seconds`` (0.5),
    as a hook that refreshes a cache with a blocking API call does (``bench/stalls.py``)."""
    now = time.monotonic()
    if now - _last_block[0] < options.get("every", 1.5):
        return {"blocked": False}
    _last_block[0] = now
    time.sleep(options.get("seconds", 0.5))
    return {"blocked": True}
