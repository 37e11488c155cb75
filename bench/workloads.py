"""The benchmark's workloads: integrator.io envelopes and the exact bodies expected back.

Every workload is a ``POST /function`` of a DIY hook envelope built from the same
deterministic records, so each run (and each host) sees identical bytes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

__all__ = [
    "WORKLOADS",
    "Workload",
    "envelope",
    "expected_body",
    "records",
    "request_body",
    "write_files",
]

_FIRST = ["Ada", "Grace", "Alan", "Zoë", "Linus", "Margaret", "Edsger", "Barbara", "Ken", "Frances"]
_LAST = ["Lovelace", "Hopper", "Turing", "Brontë", "Torvalds", "Hamilton", "Dijkstra", "Liskov"]
_CITIES = ["Seattle", "London", "Zürich", "Bengaluru", "São Paulo", "Toronto", "Sydney"]
_COUNTRIES = ["us", "gb", "ch", "in", "br", "ca", "au"]
_TAGS = ["vip", "wholesale", "retail", "new", "returning", "priority", "net30"]
_STATUSES = ["active", "active", "active", "pending", "inactive", "deleted"]


def _ascii(text: str) -> str:
    return text.encode("ascii", "ignore").decode()


def records(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` customer-order records of eleven fields, about 230 bytes each as JSON."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        first = rng.choice(_FIRST)
        last = rng.choice(_LAST)
        city = rng.randrange(len(_CITIES))
        out.append(
            {
                "id": 100000 + i,
                "externalId": f"SO-{rng.randrange(10**8):08d}",
                "email": f" {_ascii(first[:2])}.{_ascii(last[:3])}{i}@Example.COM ",
                "firstName": first,
                "lastName": last,
                "status": rng.choice(_STATUSES),
                "quantity": rng.randrange(1, 50),
                "priceCents": rng.randrange(99, 100000),
                "createdAt": f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T"
                f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:00.000Z",
                "tags": rng.sample(_TAGS, rng.randrange(0, 4)),
                "address": {"city": _CITIES[city], "country": _COUNTRIES[city]},
            }
        )
    return out


def envelope(function: str, data: list[dict[str, Any]]) -> dict[str, Any]:
    """A DIY hook envelope as integrator.io sends it, with a page of ``data``."""
    return {
        "diy": True,
        "type": "hook",
        "function": function,
        "maxResponseSize": 5 * 1024 * 1024,
        "options": {
            "bearerToken": "ott-5d1e9f2a7b3c4d6e8f0a1b2c",
            "_integrationId": "65a1f0c2e4b0a1b2c3d4e5f6",
            "_flowId": "65a1f0c2e4b0a1b2c3d4e5f7",
            "_exportId": "65a1f0c2e4b0a1b2c3d4e5f8",
            "_connectionId": "65a1f0c2e4b0a1b2c3d4e5f9",
            "pageIndex": 0,
            "settings": {"integration": {}, "flowGrouping": {}, "flow": {}, "export": {}},
            "errors": [],
            "data": data,
        },
    }


def _echo(data: list[dict[str, Any]]) -> Any:
    return data


def _pre_save_page(data: list[dict[str, Any]]) -> Any:
    kept = [r for r in data if r["status"] != "deleted"]
    return {"data": kept, "errors": [], "abort": False, "newErrorsAndRetryData": []}


def _pre_map(data: list[dict[str, Any]]) -> Any:
    out = []
    for r in data:
        m = dict(r)
        m["email"] = r["email"].strip().lower()
        m["fullName"] = f"{r['firstName']} {r['lastName']}"
        m["totalCents"] = r["quantity"] * r["priceCents"]
        m["tagCount"] = len(r["tags"])
        m["country"] = r["address"]["country"].upper()
        out.append({"data": m})
    return out


@dataclass(frozen=True)
class Workload:
    """One workload: the hook it calls, how many records, and how hard to drive it."""

    name: str
    function: str
    count: int
    connections: int
    expect: Callable[[list[dict[str, Any]]], Any]
    """The result the hook must give, computed here independently of the hook."""
    about: str

    def data(self) -> list[dict[str, Any]]:
        """The page of records this workload sends."""
        return records(self.count)


WORKLOADS: tuple[Workload, ...] = (
    Workload("small", "echo", 10, 16, _echo, "echo a page of 10 records (~2.5 KB)"),
    Workload(
        "small-async",
        "asyncEcho",
        10,
        16,
        _echo,
        "small with an async def echo: no thread, so small minus this is the hand-off",
    ),
    Workload(
        "page", "preSavePage", 1000, 8, _pre_save_page, "preSavePage over 1,000 records (~230 KB)"
    ),
    Workload("transform", "preMap", 1000, 8, _pre_map, "preMap touching 1,000 records"),
    Workload("big", "echo", 18000, 4, _echo, "echo ~5 MB"),
)


def request_body(workload: Workload) -> bytes:
    """The JSON request body of ``workload``."""
    return orjson.dumps(envelope(workload.function, workload.data()))


def expected_body(workload: Workload) -> bytes:
    """The exact response body every contender must answer ``workload`` with."""
    return orjson.dumps(workload.expect(workload.data()))


def write_files(folder: Path) -> dict[str, tuple[Path, Path]]:
    """Write each workload's request and expected response; ``{name: (request, expected)}``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for workload in WORKLOADS:
        request = folder / f"{workload.name}.request.json"
        expected = folder / f"{workload.name}.expected.json"
        request.write_bytes(request_body(workload))
        expected.write_bytes(expected_body(workload))
        paths[workload.name] = (request, expected)
    return paths
