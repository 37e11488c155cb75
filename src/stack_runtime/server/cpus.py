"""How many CPUs this process may use: the default number of ``serve`` workers.

``os.cpu_count()`` counts the machine's CPUs. A process may be allowed fewer: its CPU
affinity (``taskset``, a cpuset) and, in a container, its cgroup's CPU quota
(``docker run --cpus``, Kubernetes ``resources.limits.cpu``). :func:`usable_cpus` takes
the smallest of these, rounding a fractional quota up (1.5 CPUs: 2 workers), and never
less than 1.

The quota is read from the cgroup file system as the kernel reports it for this
process: cgroup v2 ``cpu.max`` and v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``, in
the process's own cgroup and each of its parents (the smallest limit wins).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

__all__ = ["cgroup_cpu_limit", "usable_cpus"]

_SELF = Path("/proc/self")


def usable_cpus(proc_self: Path = _SELF) -> int:
    """The CPUs this process may use: affinity and cgroup quota, at least 1.

    ``proc_self`` stands for ``/proc/self`` (its ``cgroup`` and ``mountinfo`` files).
    """
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        count = os.cpu_count() or 1
    limit = cgroup_cpu_limit(proc_self)
    if limit is not None:
        count = min(count, math.ceil(limit))
    return max(1, count)


def cgroup_cpu_limit(proc_self: Path = _SELF) -> float | None:
    """The CPU quota of this process's cgroup in CPUs (``1.5``), or ``None`` for none."""
    try:
        memberships = (proc_self / "cgroup").read_text()
        mounts = (proc_self / "mountinfo").read_text()
    except OSError:
        return None
    limits = [
        limit
        for folder, mount_point, version in _cpu_cgroup_folders(memberships, mounts)
        if (limit := _smallest_limit(folder, mount_point, version)) is not None
    ]
    return min(limits) if limits else None


def _cpu_cgroup_folders(memberships: str, mounts: str) -> list[tuple[Path, Path, int]]:
    """For each cgroup hierarchy with the ``cpu`` controller that this process is in and
    that is mounted: its folder for this process, the mount point, and the version."""
    # /proc/self/cgroup: "0::/path" (v2) or "4:cpu,cpuacct:/path" (v1).
    paths: dict[str, str] = {}
    for line in memberships.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            paths["v2"] = path
        elif "cpu" in controllers.split(","):
            paths["v1"] = path
    found: list[tuple[Path, Path, int]] = []
    # /proc/self/mountinfo: "id parent major:minor root mount-point options ... - type source super-options".
    for line in mounts.splitlines():
        fields, _, tail = line.partition(" - ")
        before, after = fields.split(), tail.split()
        if len(before) < 5 or len(after) < 3:
            continue
        root, mount_point, kind = _unescape(before[3]), Path(_unescape(before[4])), after[0]
        if kind == "cgroup2" and "v2" in paths:
            version, path = 2, paths["v2"]
        elif kind == "cgroup" and "v1" in paths and "cpu" in after[2].split(","):
            version, path = 1, paths["v1"]
        else:
            continue
        # The mount shows the hierarchy from ``root`` down (a container sees only its own
        # cgroup, mounted as the top): the process's folder is its path below ``root``.
        relative = os.path.relpath(path, root)
        folder = mount_point if relative.startswith("..") else mount_point / relative
        found.append((folder, mount_point, version))
    return found


def _smallest_limit(folder: Path, mount_point: Path, version: int) -> float | None:
    """The smallest CPU limit of ``folder`` and its parents up to ``mount_point``."""
    smallest: float | None = None
    while True:
        limit = _limit_v2(folder) if version == 2 else _limit_v1(folder)
        if limit is not None and (smallest is None or limit < smallest):
            smallest = limit
        if folder == mount_point or mount_point not in folder.parents:
            return smallest
        folder = folder.parent


def _limit_v2(folder: Path) -> float | None:
    try:
        quota, period = (folder / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    return _ratio(quota, period)


def _limit_v1(folder: Path) -> float | None:
    try:
        quota = (folder / "cpu.cfs_quota_us").read_text().strip()
        period = (folder / "cpu.cfs_period_us").read_text().strip()
    except OSError:
        return None
    return _ratio(quota, period)


def _ratio(quota: str, period: str) -> float | None:
    """``quota / period`` in CPUs; ``None`` for no limit (``max`` or ``-1``)."""
    try:
        spent, every = int(quota), int(period)
    except ValueError:
        return None  # "max"
    if spent <= 0 or every <= 0:
        return None
    return spent / every


def _unescape(field: str) -> str:
    """mountinfo escapes spaces, tabs, newlines and backslashes as octal (``\\040``)."""
    return re.sub(r"\\([0-7]{3})", lambda octal: chr(int(octal.group(1), 8)), field)
