"""podman for the container tests, and the Debian bookworm images they start from.

No container registry is reached: the images are made here. ``debootstrap`` makes a
bare Debian bookworm root with Python 3.11 (venv, headers), git and make, which is
imported into podman once a day (:func:`debian_image`). It stands for a fresh machine
(tests/container/test_fresh_machine.py) and, with a virtual environment in ``/usr/local``
that puts ``python`` and ``pip`` on the ``PATH``, for the ``python:3.11-slim`` base the
Dockerfile names (:func:`slim_stand_in`; users build on the real one).

Both trust the certificate authorities this machine trusts (its bundle is copied in when
the images are made) so that apt and pip inside reach their registries wherever this
machine does. The images live in podman storage of their own (under
``STACK_CONTAINER_CACHE``, default ``<temp dir>/stack-runtime-containers``), where the
stand-in tagged ``python:3.11-slim`` cannot be mistaken for a real one. podman runs
containers with ``runc``, with default limits lowered to what this machine allows
(a ``containers.conf`` of its own).
"""

from __future__ import annotations

import datetime
import hashlib
import os
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["DEBIAN_PACKAGES", "Podman", "debian_image", "slim_stand_in"]

# What the fresh machine has besides Debian's minimal base: what a new CI machine has.
DEBIAN_PACKAGES = ("python3", "python3-venv", "python3-dev", "git", "make", "ca-certificates")
TRUST = Path("/etc/ssl/certs/ca-certificates.crt")
SLIM = "localhost/python:3.11-slim"


class Podman:
    """``podman`` with its own storage, run root and ``containers.conf``."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        for tool in ("podman", "runc", "debootstrap"):
            if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
                raise RuntimeError(f"{tool} is missing: run scripts/install-system-deps container")
        if os.geteuid() != 0:
            raise RuntimeError("the container tests run as root (debootstrap, podman's network)")
        cache.mkdir(parents=True, exist_ok=True)
        conf = cache / "containers.conf"
        conf.write_text(_containers_conf())
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}
        self.base = [
            "podman",
            "--root",
            str(cache / "storage"),
            "--runroot",
            str(cache / "run"),
            "--tmpdir",
            str(cache / "tmp"),
        ]

    def __call__(
        self, *args: str | Path, check: bool = True, timeout: float = 600, quiet: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """``podman ARGS``; its output, and an error with that output when it fails."""
        command = [*self.base, *map(str, args)]
        done = subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"{' '.join(map(str, args[:3]))} ... exited {done.returncode}:\n"
                f"{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
            )
        if not quiet and done.returncode != 0:
            print(done.stderr[-2000:])
        return done

    def popen(self, *args: str | Path, log: Path) -> subprocess.Popen[bytes]:
        """``podman ARGS`` in the background, its output to ``log``."""
        with log.open("wb") as handle:
            return subprocess.Popen(
                [*self.base, *map(str, args)], env=self.env, stdout=handle, stderr=subprocess.STDOUT
            )

    def exists(self, image: str) -> bool:
        return self("image", "exists", image, check=False, quiet=True).returncode == 0

    def build(self, context: Path, tag: str, *extra: str, timeout: float = 900) -> str:
        """``podman build`` with no pull (there is no registry) and the docker format (an
        OCI image drops ``HEALTHCHECK``); the build's output."""
        done = self(
            "build", "--pull=never", "--format", "docker", "-t", tag, *extra, context,
            timeout=timeout,
        )  # fmt: skip
        # The images an earlier build of the same tag left without a name.
        self("image", "prune", "--force", check=False, quiet=True)
        return done.stdout + done.stderr

    def drop_other_tags(self, repository: str, keep: str) -> None:
        """Remove the images of ``repository`` other than ``keep`` (yesterday's bases)."""
        listed = self("images", "--format", "{{.Repository}}:{{.Tag}}", repository).stdout
        for name in listed.split():
            if name != keep:
                self("rmi", "--force", name, check=False, quiet=True)


def _containers_conf() -> str:
    """runc, and default limits no higher than this process's own: podman's defaults
    (a million open files) are refused where a container may not raise its limits."""
    files = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    processes = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    if processes == resource.RLIM_INFINITY or processes > pid_max:
        processes = pid_max
    if files == resource.RLIM_INFINITY:
        files = 1048576
    return (
        "[containers]\n"
        f'default_ulimits = ["nofile={files}:{files}", "nproc={processes}:{processes}"]\n'
        "[engine]\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
    )


def debian_image(podman: Podman) -> str:
    """A bare Debian bookworm with :data:`DEBIAN_PACKAGES`, trusting this machine's
    certificate authorities; made at most once a day (about a minute)."""
    recipe = f"bookworm minbase {' '.join(DEBIAN_PACKAGES)}\n".encode()
    key = hashlib.sha256(recipe + TRUST.read_bytes()).hexdigest()[:12]
    repository = "localhost/stack-runtime-test/debian"
    tag = f"{repository}:{datetime.date.today():%Y%m%d}-{key}"
    if podman.exists(tag):
        return tag
    with tempfile.TemporaryDirectory(dir=podman.cache, prefix="debootstrap-") as scratch:
        root = Path(scratch) / "root"
        started = time.monotonic()
        include = f"--include={','.join(DEBIAN_PACKAGES)}"
        done = subprocess.run(
            ["debootstrap", "--variant=minbase", include, "bookworm", str(root)],
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        assert done.returncode == 0, f"debootstrap failed:\n{done.stdout[-4000:]}{done.stderr}"
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for item in (root / cache).glob("*"):
                if item.is_file():
                    item.unlink()
        # This machine's trust: its bundle as one more local authority, pip told to use
        # the system's bundle (a pip from PyPI would use its own).
        shutil.copyfile(TRUST, root / "usr/local/share/ca-certificates/machine-trust.crt")
        trusted = subprocess.run(
            ["chroot", str(root), "update-ca-certificates"], capture_output=True, text=True
        )
        assert trusted.returncode == 0, trusted.stdout + trusted.stderr
        (root / "etc/pip.conf").write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            [*podman.base, "import", "-", tag],
            stdin=tar.stdout,
            env=podman.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        tar.wait()
        assert imported.returncode == 0, imported.stderr
        print(f"made {tag} in {time.monotonic() - started:.0f} s")
    podman.drop_other_tags(repository, tag)
    return tag


def slim_stand_in(podman: Podman, debian: str, context: Path) -> str:
    """``python:3.11-slim`` for the Dockerfile's ``FROM``, made from ``debian``: Python
    3.11 with its headers, ``python`` and ``pip`` on the ``PATH`` (a venv in /usr/local)."""
    (context / "Containerfile").write_text(
        f"FROM {debian}\n"
        "RUN python3 -m venv /usr/local && python -c 'import sysconfig, os; "
        'assert os.path.exists(sysconfig.get_path("include") + "/Python.h")\'\n'
    )
    podman.build(context, SLIM)
    return SLIM


def run_script(
    podman: Podman, image: str, script: str, *, mounts: Sequence[str] = (), timeout: float
) -> subprocess.CompletedProcess[str]:
    """``sh -c SCRIPT`` in a new container of ``image``; exit status and output."""
    volumes = [arg for mount in mounts for arg in ("-v", mount)]
    return podman("run", "--rm", *volumes, image, "sh", "-c", script, check=False, timeout=timeout)
