"""The README's table of commands lists every command and every flag that ``--help`` shows."""

from __future__ import annotations

import re

from ..conftest import ROOT
from .commands import stack_runtime


def commands() -> list[str]:
    """The subcommands ``stack-runtime --help`` lists."""
    result = stack_runtime("--help")
    assert result.returncode == 0, result.stderr
    listing = result.stdout.decode().split("positional arguments:", 1)[1].split("\noptions:")[0]
    return re.findall(r"^    ([a-z][-a-z]*)(?:\s|$)", listing, re.M)


def flags(command: str) -> set[str]:
    """Every option string ``stack-runtime COMMAND --help`` lists, short and long."""
    result = stack_runtime(command, "--help")
    assert result.returncode == 0, result.stderr
    found: set[str] = set()
    options = result.stdout.decode().split("\noptions:\n", 1)[1]
    for line in options.splitlines():
        if line.startswith("  -"):
            invocation = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
            found.update(re.findall(r"(?<![\w-])--?[a-zA-Z][-a-zA-Z0-9]*", invocation))
    return found - {"-h", "--help"}


def table_rows() -> dict[str, str]:
    """The README's commands table: each command's synopsis (its first cell), by name."""
    readme = (ROOT / "README.md").read_text()
    table = readme.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(stack-runtime ([a-z][-a-z]*)[^`]*)` \|", table, re.M)
    return {name: synopsis for synopsis, name in rows}


def test_every_flag_that_help_lists_is_in_the_table() -> None:
    """Each command of ``stack-runtime --help`` has a row, and each flag its ``--help``
    lists (``-o`` and ``--output``, ``--direct-path`` and ``--no-direct-path``) is in it."""
    listed = commands()
    assert {"serve", "dev", "invoke", "init", "package-lambda"} <= set(listed), listed
    rows = table_rows()
    assert sorted(rows) == sorted(listed)
    missing: dict[str, list[str]] = {}
    for command in listed:
        shown = flags(command)
        assert command == "init" or "--extensions" in shown, shown  # the parse found them
        absent = [
            f for f in sorted(shown) if not re.search(rf"(?<![\w-]){f}(?![\w-])", rows[command])
        ]
        if absent:
            missing[command] = absent
    assert not missing, f"the README's table of commands lacks {missing}"
