"""Host-wide state shared by every worker process of one host.

The terminating flag lives in an anonymous shared memory page created before
gunicorn forks its workers, so ``/openConnections?terminate=true`` answered by
one worker turns ``/livez`` and ``/readyz`` to 503 on all of them.
"""

from __future__ import annotations

import mmap
import os
import signal

__all__ = ["HostState"]


class HostState:
    """Flags that every worker of a host sees, and how to stop the host."""

    def __init__(self) -> None:
        self._page = mmap.mmap(-1, 1)
        self.master_pid = os.getpid()

    @property
    def terminating(self) -> bool:
        """True once the host has been told to drain."""
        return self._page[0] == 1

    def mark_terminating(self) -> None:
        """Mark the host as draining: health checks answer 503 from now on."""
        self._page[0] = 1

    def stop(self) -> None:
        """Ask the host's main process (gunicorn's master, or the dev server) to shut down."""
        self.mark_terminating()
        os.kill(self.master_pid, signal.SIGTERM)
