"""mkdocs hook (``hooks:`` in mkdocs.yml): the tables of settings on the configuration page
and on the Lambda page come from the settings table in the code,
:data:`stack_runtime.settings.SETTINGS`, at every build, so they cannot drift from what the
commands and the Lambda face read.

Each page marks its table's place with a line: ``<!-- settings-reference -->`` (every
setting) on the configuration page, ``<!-- settings-reference lambda -->`` (what the Lambda
face reads) on the Lambda page. A build of a page set where either page lacks its line fails.
"""

from __future__ import annotations

from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.pages import Page

from stack_runtime.settings import settings_reference

#: Page -> (the line that marks the table's place, whose settings: None for all).
PAGES: dict[str, tuple[str, str | None]] = {
    "configuration.md": ("<!-- settings-reference -->", None),
    "lambda.md": ("<!-- settings-reference lambda -->", "lambda"),
}


def on_page_markdown(markdown: str, page: Page, **kwargs: Any) -> str:
    """Put the table of settings where a page of :data:`PAGES` has its marker."""
    if page.file.src_uri not in PAGES:
        return markdown
    marker, reader = PAGES[page.file.src_uri]
    if marker not in markdown:
        raise PluginError(
            f"{page.file.src_uri} has no line {marker} to put the table of settings on"
        )
    return markdown.replace(marker, settings_reference(reader), 1)
