"""Wrappers: stand in for a whole connection ping, export or import.

A real wrapper would call the CRM's API with the credentials in
``options["connection"]``; this one serves a fixed in-memory set of contacts so
the example runs anywhere.
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

_CONTACTS = [
    {"id": n, "firstName": f"Contact{n}", "lastName": "Example", "email": f"c{n}@example.com"}
    for n in range(1, 26)
]


def ping(options: PingOptions) -> PingResult:
    """Test the connection: 200 when an API key is configured, else 401."""
    connection = options.get("connection") or {}
    api_key = (connection.get("unencrypted") or {}).get("apiKey") or (
        connection.get("encrypted") or {}
    ).get("apiKey")
    if api_key:
        return {"statusCode": 200}
    return {
        "statusCode": 401,
        "errors": [{"code": "unauthorized", "message": "No API key in the connection."}],
    }


def export(options: ExportOptions) -> ExportResult:
    """Export contacts a page at a time; ``state`` carries the offset between calls."""
    configuration = options.get("configuration") or {}
    page_size = int(configuration.get("pageSize") or 10)
    offset = int((options.get("state") or {}).get("offset") or 0)
    page = _CONTACTS[offset : offset + page_size]
    next_offset = offset + len(page)
    last_page = next_offset >= len(_CONTACTS)
    return {
        "data": page,
        "errors": [],
        "lastPage": last_page,
        "state": {"offset": next_offset},
        "connectionOffline": False,
    }


def import_(options: ImportOptions) -> ImportResult:
    """Import each mapped record; one ``{statusCode, id, ignored, errors}`` per record."""
    results: ImportResult = []
    for record in options.get("postMapData") or []:
        if not record.get("email"):
            results.append(
                {
                    "statusCode": 422,
                    "errors": [{"code": "missing_email", "message": "email is required."}],
                }
            )
        else:
            results.append({"statusCode": 200, "id": f"mkt-{record.get('id')}", "ignored": False})
    return results


# ``import`` is a Python keyword, so the function is defined as ``import_`` and
# exposed under integrator.io's name here.
globals()["import"] = import_
__all__ = ["ping", "export", "import", "import_"]  # noqa: F822
