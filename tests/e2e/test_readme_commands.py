"""Every command is in the README's table of commands, and every flag that ``--help`` shows is
in that command's section of the commands page of the site (``docs/commands.md``)."""

from __future__ import annotations

import re

from ..conftest import ROOT
from ..docs.markdown import DOCS, section
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


def readme_rows() -> list[str]:
    """The commands of the README's table of commands, by name, in order."""
    table = section(ROOT / "README.md", "## Commands")
    return re.findall(r"^\| `stack-runtime ([a-z][-a-z]*)` \|", table, re.M)


def test_every_command_has_a_row_in_the_readme() -> None:
    listed = commands()
    assert {"serve", "dev", "invoke", "init", "package-lambda"} <= set(listed), listed
    assert readme_rows() == listed


def test_every_flag_that_help_lists_is_on_the_commands_page() -> None:
    """Each flag a command's ``--help`` lists (``-o`` and ``--output``, ``--direct-path`` and
    ``--no-direct-path``) is in that command's section of ``docs/commands.md``: in its
    synopsis and in its table of flags."""
    missing: dict[str, list[str]] = {}
    for command in commands():
        shown = flags(command)
        assert command == "init" or "--extensions" in shown, shown  # the parse found them
        text = section(DOCS / "commands.md", f"## `stack-runtime {command}`")
        synopsis, _, table = text.partition("| flag |")
        for where, part in (("synopsis", synopsis), ("table", table)):
            absent = [f for f in sorted(shown) if not re.search(rf"(?<![\w-]){f}(?![\w-])", part)]
            if absent:
                missing[f"{command} ({where})"] = absent
    assert not missing, f"docs/commands.md lacks {missing}"
