"""What the machine was doing while a contender was measured: CPU, steal, memory.

A measurement means little when other programs took CPU from the cores the
server and the load generator ran on. :class:`Sampler` reads the kernel's
per-core counters (``/proc/stat``) and the CPU time of the benchmark's own
processes before and after a run; whatever else the cores did is *foreign*.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Busy", "Sampler", "children", "cpu_seconds", "load_average", "rss_bytes"]

_HZ = os.sysconf("SC_CLK_TCK")

#: Foreign CPU (fraction of one core) above which a measurement is flagged.
FOREIGN_LIMIT = 0.10
#: Stolen CPU (fraction of one core) above which a measurement is flagged.
STEAL_LIMIT = 0.05


def load_average() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages."""
    return os.getloadavg()


def rss_bytes(pid: int) -> int:
    """Resident memory of process ``pid`` (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    """The direct child processes of ``pid``."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _HZ  # utime, stime


def cpu_seconds(pids: Iterable[int]) -> float:
    """CPU seconds (user and system) the processes ``pids`` have used so far."""
    return sum(_cpu_seconds(pid) for pid in pids)


def _cores(cores: Iterable[int]) -> tuple[float, float]:
    """Busy and stolen seconds, summed over ``cores``."""
    wanted = {f"cpu{c}" for c in cores}
    busy = steal = 0
    for line in Path("/proc/stat").read_text().splitlines():
        fields = line.split()
        if fields and fields[0] in wanted:
            values = [int(v) for v in fields[1:]]
            # irq and softirq time is left out: loopback traffic of the run itself lands there.
            busy += values[0] + values[1] + values[2]  # user, nice, system
            steal += values[7]
    return busy / _HZ, steal / _HZ


def _own_seconds() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


@dataclass(frozen=True)
class Busy:
    """How busy the cores were with other work during one measurement."""

    seconds: float
    foreign: float
    """CPU that other programs used, in cores (0.25 is a quarter of one core)."""
    steal: float
    """CPU the hypervisor took away, in cores."""
    ours: float
    """CPU the server and the load generator used, in cores."""
    server_seconds: float
    """CPU seconds the server's processes used."""

    @property
    def too_busy(self) -> bool:
        """True when other work was large enough to skew the numbers."""
        return self.foreign > FOREIGN_LIMIT or self.steal > STEAL_LIMIT


class Sampler:
    """Measures foreign CPU on ``cores`` around a run of the load generator.

    ``pids`` are the server's processes; the load generator must be a child of
    this process that has exited (and been waited for) by the time :meth:`stop`
    is called, so its CPU shows up in ``RUSAGE_CHILDREN``.
    """

    def __init__(self, cores: Sequence[int], pids: Sequence[int]) -> None:
        self.cores = tuple(cores)
        self.pids = tuple(pids)
        self._start = self._read()

    def _read(self) -> tuple[float, float, float, float, float]:
        busy, steal = _cores(self.cores)
        servers = cpu_seconds(self.pids)
        return os.times().elapsed, busy, steal, servers, _own_seconds()

    def stop(self) -> Busy:
        """The :class:`Busy` figures since the sampler was made."""
        end = self._read()
        wall, busy, steal, servers, own = (b - a for a, b in zip(self._start, end, strict=True))
        wall = max(wall, 1e-9)
        ours = servers + own
        return Busy(wall, max(busy - ours, 0.0) / wall, steal / wall, ours / wall, servers)
