"""Which Lambda runtime a deployment package is built for, and which wheels fit it.

Lambda's managed Python runtimes: ``python3.11`` runs on Amazon Linux 2
(glibc 2.26); ``python3.12`` to ``python3.14`` on Amazon Linux 2023 (glibc 2.34).
Both architectures, ``x86_64`` and ``arm64``, exist for each. A wheel fits when
it is built for that CPython (or is pure Python) and for a manylinux glibc no
newer than the runtime's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..exceptions import TargetError

__all__ = ["ARCHITECTURES", "PYTHON_VERSIONS", "LambdaTarget"]

#: Lambda's architecture names and the machine names wheels use for them.
ARCHITECTURES = {"x86_64": "x86_64", "arm64": "aarch64"}

#: The managed Python runtimes stack-runtime supports, with their glibc (major, minor).
PYTHON_VERSIONS = {"3.11": (2, 26), "3.12": (2, 34), "3.13": (2, 34), "3.14": (2, 34)}


@dataclass(frozen=True)
class LambdaTarget:
    """A Lambda runtime and architecture: ``python3.11`` on ``x86_64``, say."""

    arch: str = "x86_64"
    python: str = "3.11"

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise TargetError(
                f"architecture {self.arch!r} is not a Lambda architecture; "
                f"choose {' or '.join(ARCHITECTURES)}"
            )
        if not re.fullmatch(r"\d+\.\d+", self.python) or self.python not in PYTHON_VERSIONS:
            raise TargetError(
                f"Python {self.python} is not a supported Lambda runtime; "
                f"choose one of {', '.join(PYTHON_VERSIONS)}"
            )

    @property
    def runtime(self) -> str:
        """The Lambda runtime identifier, ``python3.11``."""
        return f"python{self.python}"

    @property
    def machine(self) -> str:
        """The machine name in wheel tags: ``x86_64`` or ``aarch64``."""
        return ARCHITECTURES[self.arch]

    @property
    def glibc(self) -> tuple[int, int]:
        """The runtime's glibc version."""
        return PYTHON_VERSIONS[self.python]

    def platform_tags(self) -> list[str]:
        """Every manylinux platform tag whose wheels run on this runtime, newest first.

        pip does not widen a ``--platform`` to older glibc versions by itself,
        so each compatible tag is passed.
        """
        major, newest = self.glibc
        tags = [f"manylinux_{major}_{minor}_{self.machine}" for minor in range(newest, 16, -1)]
        tags.append(f"manylinux2014_{self.machine}")
        if self.machine == "x86_64":
            tags += [f"manylinux_2_{minor}_x86_64" for minor in range(16, 4, -1)]
            tags += ["manylinux2010_x86_64", "manylinux1_x86_64"]
        return tags

    def describe(self) -> str:
        """``python3.11 on x86_64 (glibc 2.26)``."""
        return f"{self.runtime} on {self.arch} (glibc {self.glibc[0]}.{self.glibc[1]})"
