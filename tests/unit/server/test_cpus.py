"""``usable_cpus``: the default number of ``serve`` workers, from the CPUs the process may use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stack_runtime.server import cpus
from stack_runtime.server.cpus import cgroup_cpu_limit, usable_cpus
from stack_runtime.server.gunicorn import gunicorn_options
from stack_runtime.settings import Settings


def fake_proc(tmp_path: Path, cgroup: str, mounts: list[tuple[str, str, str, str]]) -> Path:
    """A stand-in for ``/proc/self``: its ``cgroup`` file and a ``mountinfo`` with
    ``(root, mount point, type, super options)`` mounts (mount points under ``tmp_path``)."""
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "cgroup").write_text(cgroup)
    lines = [
        f"{30 + i} 20 0:{40 + i} {root} {point} rw,nosuid - {kind} {kind} {options}"
        for i, (root, point, kind, options) in enumerate(mounts)
    ]
    lines.insert(0, "20 1 253:0 / / rw,relatime - ext4 /dev/vda rw")
    (proc / "mountinfo").write_text("\n".join(lines) + "\n")
    return proc


def write(folder: Path, **files: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name.replace("__", ".")).write_text(text + "\n")


def v2(tmp_path: Path, path: str, root: str = "/") -> tuple[Path, Path]:
    mount = tmp_path / "cgroup2"
    proc = fake_proc(tmp_path, f"0::{path}\n", [(root, str(mount), "cgroup2", "rw")])
    return proc, mount


def v1(tmp_path: Path, path: str, root: str = "/") -> tuple[Path, Path]:
    mount = tmp_path / "cpu,cpuacct"
    cgroup = f"12:memory:{path}\n4:cpu,cpuacct:{path}\n1:name=systemd:{path}\n"
    mounts = [
        ("/", str(tmp_path / "memory"), "cgroup", "rw,memory"),
        (root, str(mount), "cgroup", "rw,cpu,cpuacct"),
    ]
    return fake_proc(tmp_path, cgroup, mounts), mount


def test_a_cgroup_v2_quota_is_read_in_cpus(tmp_path: Path) -> None:
    proc, mount = v2(tmp_path, "/system.slice/app.service")
    write(mount / "system.slice" / "app.service", cpu__max="150000 100000")
    assert cgroup_cpu_limit(proc) == 1.5


def test_no_quota_is_none(tmp_path: Path) -> None:
    proc, mount = v2(tmp_path, "/app")
    write(mount / "app", cpu__max="max 100000")
    write(mount, cpu__max="max 100000")
    assert cgroup_cpu_limit(proc) is None


def test_the_smallest_limit_of_the_cgroup_and_its_parents_wins(tmp_path: Path) -> None:
    proc, mount = v2(tmp_path, "/kubepods/pod1/app")
    write(mount / "kubepods", cpu__max="400000 100000")
    write(mount / "kubepods" / "pod1", cpu__max="50000 100000")
    write(mount / "kubepods" / "pod1" / "app", cpu__max="max 100000")
    assert cgroup_cpu_limit(proc) == 0.5


def test_a_container_sees_its_own_cgroup_mounted_as_the_top(tmp_path: Path) -> None:
    """Without a cgroup namespace, /proc/self/cgroup names the host's path while the
    mount shows only the container's own cgroup (its root field is that path)."""
    proc, mount = v2(tmp_path, "/machine/libpod-1234", root="/machine/libpod-1234")
    write(mount, cpu__max="100000 100000")
    assert cgroup_cpu_limit(proc) == 1.0


def test_a_cgroup_v1_quota_is_read(tmp_path: Path) -> None:
    proc, mount = v1(tmp_path, "/docker/abc")
    write(mount / "docker" / "abc", cpu__cfs_quota_us="200000", cpu__cfs_period_us="100000")
    write(mount / "docker", cpu__cfs_quota_us="-1", cpu__cfs_period_us="100000")
    write(tmp_path / "memory" / "docker" / "abc", cpu__cfs_quota_us="1", cpu__cfs_period_us="100")
    assert cgroup_cpu_limit(proc) == 2.0


def test_a_cgroup_v1_without_quota_is_none(tmp_path: Path) -> None:
    proc, mount = v1(tmp_path, "/", root="/")
    write(mount, cpu__cfs_quota_us="-1", cpu__cfs_period_us="100000")
    assert cgroup_cpu_limit(proc) is None


def test_unreadable_or_odd_files_are_no_limit(tmp_path: Path) -> None:
    assert cgroup_cpu_limit(tmp_path / "nowhere") is None
    proc, mount = v2(tmp_path, "/app")
    write(mount / "app", cpu__max="garbage")
    assert cgroup_cpu_limit(proc) is None


def test_usable_cpus_is_the_affinity_under_the_quota_rounded_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc, mount = v2(tmp_path, "/app")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5, 6, 7})
    write(mount / "app", cpu__max="max 100000")
    assert usable_cpus(proc) == 8
    write(mount / "app", cpu__max="250000 100000")
    assert usable_cpus(proc) == 3
    write(mount / "app", cpu__max="10000 100000")
    assert usable_cpus(proc) == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3})
    write(mount / "app", cpu__max="400000 100000")
    assert usable_cpus(proc) == 1


def test_this_process_counts_its_affinity() -> None:
    """Here, for real: never more than the CPUs this process may run on."""
    assert 1 <= usable_cpus() <= len(os.sched_getaffinity(0))


def test_serve_defaults_to_the_usable_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpus.os, "sched_getaffinity", lambda pid: {0, 1, 2})
    monkeypatch.setattr(cpus, "cgroup_cpu_limit", lambda proc_self=None: 1.0)
    assert gunicorn_options(Settings())["workers"] == 1
    assert gunicorn_options(Settings(workers=5))["workers"] == 5
