"""The gunicorn worker of a server stack host: uvicorn, with a drain that loses no call.

A balancer such as nginx never resends a POST that reached a host, so a drain
must not lose one. On SIGTERM (which gunicorn's master sends when it stops the
host, or when it retires this worker after a reload) a worker

1. from the moment the signal arrives, answers every request with
   ``Connection: close`` and closes its connection right after the answer (a
   call already under way included); when the whole host stops, it also marks
   the host as draining (``/readyz`` answers 503 on every worker);
2. takes the connections already waiting in the listening socket's queue, then
   stops listening: new connections are refused, the one failure a balancer
   can safely retry on another host. When the whole host stops (not when one
   worker is replaced), the socket stops listening the moment its queue is
   empty, for every process that holds it (``shutdown``), rather than once the
   last of them has closed it: a connection queued in between would be reset
   with its request already sent. Before that the socket drops new connection
   requests (SYN packets, by a socket filter) for ``_SETTLE`` seconds, so that
   no connection joins the queue between its last ``accept`` and the
   ``shutdown`` (that one would be reset too), and the handshakes already under
   way complete and are served. A dropped SYN is sent again by the client's
   kernel after about a second, and then refused;
3. finishes the calls in flight (each bounded by the call limit);
4. leaves the keep-alive connections that were idle when the drain started for
   the balancer to close, answering (and then closing) any that still brings a
   request: closing an idle one itself could cross a request the balancer is
   writing into it, and nginx does not resend a POST it wrote into a kept-alive
   connection that the host closed (it answers 502). nginx with
   ``deploy/nginx.conf`` closes an idle upstream connection after 0.5 s, so the
   drain lasts as long as its longest call, or 0.5 s. Connections still open
   ``drain_idle_wait`` seconds after the last call are closed by the worker;
5. exits. gunicorn's ``graceful_timeout`` bounds the whole drain.

The same worker also exits on its own (finishing its calls the same way, while
the other workers go on serving and gunicorn starts a replacement) when its
thread pool is exhausted by stuck ``def`` calls, or when gunicorn's master has
died; and it asks the master to drain the host once a drain asked for by
``/openConnections?terminate=true`` is due. On every tick (0.1 s) and once more
before it exits, it adds the calls it counted to the host's metrics files.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import socket
import struct
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, ClassVar, Protocol

from gunicorn.arbiter import Arbiter
from uvicorn.config import Config
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker

from ..asgi.state import HostState
from ..core.logs import keep_lines_in, kv, logger
from ..core.pool import CallPool
from ..core.watchdog import LoopWatchdog
from .httptools import HttpProtocol, http_protocol

__all__ = ["StackWorker", "DrainingServer"]

_CLOSE = (b"connection", b"close")
_POLL = 0.05
_SETTLE = 0.05
"""Seconds a stopping host's socket drops new SYNs before it stops listening: longer than a
handshake on a private network takes to complete (its last ACK)."""

# A classic BPF socket filter for a TCP listener, run on each packet from its TCP header:
# drop (return 0) a packet whose flags have SYN without ACK, a new connection request; pass
# the rest, such as the ACK that completes a handshake already under way.
_DROP_SYN = b"".join(
    struct.pack("HBBI", code, jt, jf, k)
    for code, jt, jf, k in (
        (0x30, 0, 0, 13),  # ldb [13]: the flags byte
        (0x54, 0, 0, 0x12),  # and #(SYN|ACK)
        (0x15, 0, 1, 0x02),  # jeq #SYN: next, else skip one
        (0x06, 0, 0, 0),  # ret #0: drop
        (0x06, 0, 0, 0xFFFFFFFF),  # ret #-1: keep the whole packet
    )
)
_SO_ATTACH_FILTER = getattr(socket, "SO_ATTACH_FILTER", 26)


class _Dispatcher(Protocol):
    @property
    def executor(self) -> object: ...


class _Host(Protocol):
    """What the worker needs of the app it serves."""

    state: HostState
    dispatcher: _Dispatcher
    watchdog: LoopWatchdog | None


class DrainingServer(Server):
    """uvicorn's server with the drain described in this module's docstring."""

    def __init__(
        self,
        config: Config,
        *,
        state: HostState,
        pool: object,
        ppid: int,
        flush: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(config)
        self.state = state
        self.flush = flush
        self.pool = pool if isinstance(pool, CallPool) else None
        self.ppid = ppid
        self.draining = False
        """True from the signal that starts this worker's drain."""
        self._began: tuple[float, int] | None = None
        """When the drain began, and how many requests had begun by then."""
        self._stop_requested = False
        self._taken: set[asyncio.Task[None]] = set()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """SIGTERM or SIGINT: the drain starts. Every answer from now on closes its
        connection, also in the event loop's turns before :meth:`shutdown` begins."""
        if not self.draining:
            self.draining = True
            self._began = self._requests_so_far()
        self._answer_with_close()
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        """uvicorn's tick (every 0.1 s), plus the checks that end this worker."""
        should_exit = await super().on_tick(counter)  # may renew the default headers
        if self.flush is not None:
            self.flush()
        if self.draining or self.state.terminating:
            self._answer_with_close()
        if not self._stop_requested and self.state.drain_due:
            self._stop_requested = True
            logger.warning(kv(logName="drainDue", delaySeconds=self.state.drain_delay))
            self.state.stop()
        if counter % 10 == 0 and not should_exit:
            if os.getppid() != self.ppid:
                logger.error(kv(logName="masterGone", pid=os.getpid()))
                return True
            if self.pool is not None and self.pool.exhausted:
                logger.error(
                    kv(logName="threadPoolExhausted", stuckThreads=self.pool.stuck, pid=os.getpid())
                )
                return True
        return should_exit

    def _requests_so_far(self) -> tuple[float, int]:
        """Now, and the requests begun so far: answered, or under way."""
        under_way = 0
        for connection in self.server_state.connections:
            cycle = getattr(connection, "cycle", None)
            under_way += cycle is not None and not cycle.response_complete
        return time.monotonic(), self.server_state.total_requests + under_way

    def _answer_with_close(self) -> None:
        """Every answer from now on says ``Connection: close`` and closes its connection:
        the default headers of new requests, and the requests under way (uvicorn's
        response cycles and the direct answers of :mod:`~stack_runtime.server.httptools` alike)."""
        headers = self.server_state.default_headers
        if _CLOSE not in headers:
            self.server_state.default_headers = [*headers, _CLOSE]
        for connection in list(self.server_state.connections):
            cycle = getattr(connection, "cycle", None)
            if cycle is not None and not cycle.response_complete:
                cycle.keep_alive = False

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Drain: stop listening, finish the calls in flight, let the balancer close the rest.

        ``newRequests`` in the ``drainFinished`` line counts the requests that began after
        the drain did (on connections kept open, or waiting in the listen queue), all
        answered with ``Connection: close``; ``closedIdle`` the idle connections the worker
        closed itself, after ``drain_idle_wait``.
        """
        started, begun = self._began or self._requests_so_far()
        host = self.state.stopping  # gunicorn's master stops the host, not just this worker
        if host:
            self.state.mark_terminating()
        self._answer_with_close()
        if host and _refuse_new_connections(sockets or []):
            await asyncio.sleep(_SETTLE)  # every process goes on accepting what is queued
        accepted = self._take_queued_connections(sockets or [], host)
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        logger.info(
            kv(
                logName="drainStarted",
                pid=os.getpid(),
                scope="host" if host else "worker",
                connections=len(self.server_state.connections),
                calls=len(self.server_state.tasks),
                takenFromQueue=accepted,
            )
        )

        if self._taken:  # until each taken connection is served like any other
            await asyncio.wait(set(self._taken))
        await self._wait_for_calls_and_connections()
        for connection in list(self.server_state.connections):
            connection.shutdown()  # idle ones close now, busy ones after their response
        while self.server_state.tasks and not self.force_exit:
            await asyncio.sleep(_POLL)
        logger.info(
            kv(
                logName="drainFinished",
                pid=os.getpid(),
                seconds=f"{time.monotonic() - started:.2f}",
                newRequests=self.server_state.total_requests - begun,
                closedIdle=len(self.server_state.connections),
            )
        )
        if self.flush is not None:
            self.flush()
        if not self.force_exit:
            await self.lifespan.shutdown()

    async def _wait_for_calls_and_connections(self) -> None:
        """Until no call runs and the balancer has closed every connection, or the idle wait ends."""
        idle_since = time.monotonic()
        while self.server_state.connections and not self.force_exit:
            now = time.monotonic()
            if self.server_state.tasks:
                idle_since = now
            elif now - idle_since >= self.state.drain_idle_wait:
                return
            await asyncio.sleep(_POLL)

    def _take_queued_connections(self, sockets: list[socket.socket], stop: bool) -> int:
        """Accept what waits in the listen queue so closing the socket resets nothing.

        ``stop``: then stop the socket listening at once (for every process).
        """
        loop = asyncio.get_running_loop()
        config = self.config

        def protocol() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state
            )

        taken = 0
        for listener in sockets:
            try:
                raw = socket.socket(fileno=os.dup(listener.fileno()))
            except OSError:
                continue
            with raw:
                raw.setblocking(False)
                while True:
                    try:
                        conn, _ = raw.accept()
                    except ConnectionAbortedError:  # reset by its client while queued
                        continue
                    except OSError:  # the queue is empty (or the socket stopped)
                        break
                    taken += 1
                    conn.setblocking(False)
                    task = loop.create_task(self._serve_taken(loop, protocol, conn))
                    self._taken.add(task)
                    task.add_done_callback(self._taken.discard)
                if stop:
                    with contextlib.suppress(OSError):  # another worker stopped it first
                        raw.shutdown(socket.SHUT_RD)
        return taken

    @staticmethod
    async def _serve_taken(
        loop: asyncio.AbstractEventLoop, protocol: Any, conn: socket.socket
    ) -> None:
        try:
            await loop.connect_accepted_socket(protocol, conn)
        except OSError:
            conn.close()


def _refuse_new_connections(sockets: list[socket.socket]) -> bool:
    """Make the TCP listeners drop new connection requests (SYN packets) from now on, for
    every process that holds them; whether any did. The connections already queued, and
    the handshakes under way, still complete."""
    program = ctypes.create_string_buffer(_DROP_SYN)
    fprog = struct.pack("HP", len(_DROP_SYN) // 8, ctypes.addressof(program))
    done = False
    for listener in sockets:
        if listener.family not in (socket.AF_INET, socket.AF_INET6):
            continue
        try:
            listener.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
        except OSError as exc:  # not Linux, or a kernel or seccomp profile that refuses it
            logger.warning(
                kv(
                    logName="drainFilterFailed",
                    error=str(exc),
                    effect="a connection queued as the socket stops may be reset",
                )
            )
            continue
        done = True
    return done


class StackWorker(UvicornWorker):  # type: ignore[misc]
    """gunicorn worker class: uvicorn serving the host's app with :class:`DrainingServer`.

    Requests are read by :class:`~stack_runtime.server.httptools.HttpProtocol`: uvicorn's
    httptools protocol, writing each response in one system call and answering
    ``POST /function`` without ASGI (by uvicorn's own protocol with the direct path
    off: :func:`~stack_runtime.server.httptools.http_protocol`). uvicorn's access log is off: the app logs
    every request itself (``reqFinished``), and gunicorn's access log, which
    uvicorn's would go to, is not configured.
    """

    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {
        "loop": "auto",
        "http": HttpProtocol,
        "access_log": False,
    }

    async def _serve(self) -> None:
        app: _Host = self.wsgi
        self.config.app = app
        settings = getattr(self.app, "settings", None)  # the GunicornHost's
        self.config.http = http_protocol(getattr(settings, "direct_path", True))
        # The master made this page before the fork (gunicorn.py): a line kept in it for a
        # later write is written by the master if this worker dies first.
        keep_lines_in(getattr(self, "kept_lines", None))
        metrics = getattr(app.dispatcher, "metrics", None)
        server = DrainingServer(
            self.config,
            state=app.state,
            pool=app.dispatcher.executor,
            ppid=self.ppid,
            flush=getattr(metrics, "flush", None),
        )
        self._install_sigquit_handler()
        if app.watchdog is not None:  # its thread starts here, after the fork
            app.watchdog.start()
        try:
            # The plain sockets, not gunicorn's wrappers: uvloop closes a listener's descriptor
            # itself and then detaches a plain socket, but closes a wrapper a second time, which
            # logged "Error while closing socket [Errno 9]" for every worker that stopped.
            await server.serve(sockets=[getattr(s, "sock", s) for s in self.sockets])
        finally:
            if app.watchdog is not None:
                app.watchdog.stop()
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
