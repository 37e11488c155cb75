"""mkdocs hook (``hooks:`` in mkdocs.yml): the configuration page's table of settings comes
from the settings table in the code, :data:`stack_runtime.settings.SETTINGS`, at every build,
so it cannot drift from what the commands read.

The page marks the table's place with a line ``<!-- settings-reference -->``; a build of a
page set without that line on the configuration page fails.
"""

from __future__ import annotations

from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.pages import Page

from stack_runtime.settings import settings_reference

MARKER = "<!-- settings-reference -->"
PAGE = "configuration.md"


def on_page_markdown(markdown: str, page: Page, **kwargs: Any) -> str:
    """Put the table of settings where the configuration page has the marker."""
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise PluginError(f"{PAGE} has no line {MARKER} to put the table of settings on")
    return markdown.replace(MARKER, settings_reference(), 1)
