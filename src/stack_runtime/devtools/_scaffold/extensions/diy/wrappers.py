"""Wrappers (type "wrapper"): stand in for a connection, an export or an import.

A wrapper connection in integrator.io points at this stack; its ``encrypted``
and ``unencrypted`` fields (API keys, URLs) arrive in ``options["connection"]``.
This example serves a fixed list instead of calling a real application.
"""

from __future__ import annotations

from stack_runtime.types import (
    ExportOptions,
    ExportResult,
    ImportOptions,
    ImportResult,
    PingOptions,
    PingResult,
)

_ITEMS = [{"id": n, "name": f"Item {n}"} for n in range(1, 8)]
_PAGE_SIZE = 3


def ping(options: PingOptions) -> PingResult:
    """Test the connection: ``{"statusCode": 200}``, or 401 with errors."""
    if options["connection"].get("encrypted", {}).get("apiKey"):
        return {"statusCode": 200}
    return {
        "statusCode": 401,
        "errors": [{"code": "unauthorized", "message": "Save an apiKey on the connection."}],
    }


def export(options: ExportOptions) -> ExportResult:
    """Return one page; integrator.io calls again with the ``state`` you return
    until a page says ``lastPage``."""
    offset = int(options.get("state", {}).get("offset", 0))
    page = _ITEMS[offset : offset + _PAGE_SIZE]
    next_offset = offset + len(page)
    return {"data": page, "lastPage": next_offset >= len(_ITEMS), "state": {"offset": next_offset}}


def import_(options: ImportOptions) -> ImportResult:
    """Import each record; one ``{statusCode, id, ignored, errors}`` per record, in order."""
    results: ImportResult = []
    for record in options["postMapData"]:
        if record.get("name"):
            results.append({"statusCode": 200, "id": f"dest-{record.get('id')}", "ignored": False})
        else:
            results.append(
                {
                    "statusCode": 422,
                    "errors": [{"code": "missing_name", "message": "name is required."}],
                }
            )
    return results


# integrator.io calls this wrapper "import", a Python keyword: expose it under that name.
globals()["import"] = import_
