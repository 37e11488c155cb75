"""Read the repository's Markdown as the tests need it: code blocks, links and anchors."""

from __future__ import annotations

import re
import shlex
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from ..conftest import ROOT

__all__ = [
    "DOCS",
    "Block",
    "Link",
    "anchors",
    "code_blocks",
    "documents",
    "links",
    "prose",
    "section",
    "shell_commands",
]

DOCS = ROOT / "docs"

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<info>[^\n`]*)$", re.M)
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
_LINK = re.compile(
    r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?(?P<target>[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"
)
_AUTOLINK = re.compile(r"<(?P<target>[a-zA-Z][a-zA-Z0-9+.-]*:[^>\s]+)>")
_HREF = re.compile(r"""\b(?:href|src)\s*=\s*["'](?P<target>[^"']+)["']""")
_BARE_URL = re.compile(r"(?P<target>\b(?:https?|ftp)://[^\s)>\]]+)")
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$", re.M)


def documents() -> list[Path]:
    """The Markdown the repository publishes: the root's pages and every page of the site."""
    root = [ROOT / name for name in ("README.md", "CONTRIBUTING.md", "CHANGELOG.md")]
    return [p for p in root if p.is_file()] + sorted(DOCS.rglob("*.md"))


class Block(NamedTuple):
    """A fenced code block: its info string (``sh``, ``python``...), text and first line."""

    info: str
    text: str
    line: int


def code_blocks(text: str, info: str | None = None) -> list[Block]:
    """The fenced code blocks of ``text`` (only those whose info string is ``info``), in order;
    an indented fence (inside a list item) is dedented by its indentation."""
    blocks = []
    position = 0
    while opening := _FENCE.search(text, position):
        indent, fence = opening.group("indent"), opening.group("fence")
        closing = re.compile(rf"^ *{re.escape(fence[0])}{{{len(fence)},}}\s*$", re.M)
        end = closing.search(text, opening.end())
        assert end, f"an unclosed code block at line {text.count(chr(10), 0, opening.start()) + 1}"
        body = text[opening.end() + 1 : end.start()]
        body = "\n".join(line.removeprefix(indent) for line in body.splitlines())
        found = opening.group("info").strip()
        if info is None or found == info:
            blocks.append(Block(found, body + "\n", text.count("\n", 0, opening.start()) + 1))
        position = end.end()
    return blocks


def _blank(text: str) -> str:
    return re.sub(r"[^\n]", " ", text)


def prose(text: str) -> str:
    """``text`` without its code: every character of a fenced block or an inline code span
    becomes a space, so positions and line numbers stay those of ``text``."""
    out = []
    position = 0
    while opening := _FENCE.search(text, position):
        fence = opening.group("fence")
        closing = re.compile(rf"^ *{re.escape(fence[0])}{{{len(fence)},}}\s*$", re.M)
        end = closing.search(text, opening.end())
        stop = end.end() if end else len(text)
        out.append(text[position : opening.start()])
        out.append(_blank(text[opening.start() : stop]))
        position = stop
    out.append(text[position:])
    return _INLINE_CODE.sub(lambda m: _blank(m.group(0)), "".join(out))


class Link(NamedTuple):
    """A link in a document: where it points and its line."""

    target: str
    line: int


def links(text: str) -> Iterator[Link]:
    """Every link of ``text`` outside code: ``[text](target)``, ``<scheme:...>``,
    ``href=``/``src=``, and a bare URL (which a Markdown viewer may turn into a link)."""
    plain = prose(text)
    seen: set[int] = set()
    for pattern in (_LINK, _AUTOLINK, _HREF, _BARE_URL):
        for match in pattern.finditer(plain):
            start = match.start("target")
            if start not in seen:  # a URL that is also a link's target counts once
                seen.add(start)
                yield Link(match.group("target"), plain.count("\n", 0, start) + 1)


def _slug_github(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.lower())
    return text.replace(" ", "-")


def _slug_mkdocs(heading: str) -> str:
    """Python-Markdown's (mkdocs') anchor for a heading: its ``toc`` extension's slugify."""
    text = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _heading_text(raw: str) -> str:
    """A heading's text as rendered: code spans and links reduced to their text."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", raw)
    return text.replace("`", "").replace("*", "")


def anchors(path: Path, text: str | None = None) -> set[str]:
    """The anchors of the headings of ``path`` (whose text is ``text``, if given), as its
    viewer makes them: mkdocs for the site's pages, GitHub for the others (a repeated heading
    gets ``-1``, ``-2``...)."""
    slug = _slug_mkdocs if path.is_relative_to(DOCS) else _slug_github
    text = path.read_text() if text is None else text
    found: set[str] = set()
    for match in _HEADING.finditer(prose(text)):  # no "# comment" of a shell block
        line = _HEADING.fullmatch(text[match.start() : match.end()])
        assert line, match
        anchor = slug(_heading_text(line.group(2)))
        candidate, n = anchor, 0
        while candidate in found:
            n += 1
            candidate = f"{anchor}-{n}"
        found.add(candidate)
    return found


def section(path: Path, heading: str) -> str:
    """The text under the heading ``heading`` (its level's ``#``s included, e.g. ``## Commands``)
    of ``path``, up to the next heading of the same or a higher level."""
    text = path.read_text()
    level = len(heading) - len(heading.lstrip("#"))
    start = None
    for match in _HEADING.finditer(prose(text)):  # no "# comment" of a shell block
        if start is None and text[match.start() : match.end()].strip() == heading:
            start = match.end()
        elif start is not None and len(match.group(1)) <= level:
            return text[start : match.start()]
    assert start is not None, f"{path.name} has no heading {heading!r}"
    return text[start:]


def shell_commands(block: str) -> list[tuple[str, str | None]]:
    """The commands of an ``sh`` block, each with the output a ``# {...}`` line under it
    says it prints: lines ending in ``\\`` and quotes left open join the next line."""
    commands: list[tuple[str, str | None]] = []
    pending = ""
    for line in block.splitlines():
        if not pending and line.startswith("# "):
            if commands and line[2:].lstrip().startswith(("{", "[")):
                commands[-1] = (commands[-1][0], line[2:])
            continue
        pending += line + "\n"
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # a quote still open
            continue
        if not pending.rstrip("\n").endswith("\\"):
            if pending.strip():
                commands.append((pending.strip(), None))
            pending = ""
    assert not pending, f"an unfinished command: {pending}"
    return commands
