"""Host-wide state shared by every worker process of one host.

The terminating and stopping flags and the drain deadline live in an anonymous
shared memory page created before gunicorn forks its workers, so
``/openConnections?terminate=true`` answered by one worker turns ``/livez`` and
``/readyz`` to 503 on all of them, every worker knows when the host is due to
stop listening, and knows when gunicorn's master is stopping the whole host.
"""

from __future__ import annotations

import mmap
import os
import signal
import struct
import time

__all__ = ["HostState"]

_DEADLINE = struct.Struct("d")


class HostState:
    """Flags that every worker of a host sees, and how to stop the host.

    ``drain_delay``: seconds a host marked draining by
    ``/openConnections?terminate=true`` goes on accepting connections (so a
    balancer sees ``/readyz`` answer 503 and its polls are answered) before it
    drains as on SIGTERM. ``drain_idle_wait``: seconds a draining worker waits,
    after its last call, for the balancer to close its idle keep-alive
    connections before it closes them itself.
    """

    def __init__(self, drain_delay: float = 30.0, drain_idle_wait: float = 20.0) -> None:
        self._page = mmap.mmap(-1, 16)
        self.master_pid = os.getpid()
        self.drain_delay = drain_delay
        self.drain_idle_wait = drain_idle_wait

    @property
    def terminating(self) -> bool:
        """True once the host has been told to drain."""
        return self._page[0] == 1

    def mark_terminating(self) -> None:
        """Mark the host as draining: health checks answer 503 from now on.

        The first call also sets when the host stops listening
        (``drain_delay`` seconds from now): see :attr:`drain_due`.
        """
        if self._page[0] != 1:
            _DEADLINE.pack_into(self._page, 8, time.time() + self.drain_delay)
            self._page[0] = 1

    @property
    def drain_due(self) -> bool:
        """True once the host has been draining for ``drain_delay`` seconds."""
        if not self.terminating:
            return False
        (deadline,) = _DEADLINE.unpack_from(self._page, 8)
        return bool(time.time() >= deadline)

    @property
    def stopping(self) -> bool:
        """True once the host's main process is stopping the host (not one worker)."""
        return self._page[1] == 1

    def mark_stopping(self) -> None:
        """Note that the whole host is stopping (gunicorn's master, before it tells its workers)."""
        self._page[1] = 1

    def stop(self) -> None:
        """Ask the host's main process (gunicorn's master, or the dev server) to shut down."""
        self.mark_terminating()
        os.kill(self.master_pid, signal.SIGTERM)
