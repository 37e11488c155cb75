"""Count a host's open client connections, across all of its worker processes.

On Linux the kernel's socket tables (``/proc/net/tcp`` and ``tcp6``) list every
established connection to the listening port, whichever worker holds it. Where
those tables are missing, the count falls back to the requests this process is
serving.
"""

from __future__ import annotations

from pathlib import Path

from starlette.types import Scope

__all__ = ["open_connections"]

_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
_ESTABLISHED = "01"


def _count_in_tables(port: int) -> int | None:
    wanted = f":{port:04X}"
    found = False
    count = 0
    for table in _TABLES:
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        found = True
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[1].endswith(wanted) and fields[3] == _ESTABLISHED:
                count += 1
    return count if found else None


def open_connections(scope: Scope) -> int:
    """Established client connections to the port this request arrived on (it included)."""
    server = scope.get("server")
    if server and server[1]:
        counted = _count_in_tables(int(server[1]))
        if counted is not None:
            return max(counted, 1)
    return 1
