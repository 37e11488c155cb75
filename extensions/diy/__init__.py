"""A do-it-yourself integration: contacts from a CRM into a marketing platform.

integrator.io calls these functions through the stack. Each one takes the
``options`` integrator.io sends and returns the result, or raises to report an
error. Namespaces live in the sibling modules: ``hooks``, ``wrappers``,
``settings``, ``installer`` and ``uninstaller``.

A function defined here, at the top level, is called when integrator.io sends
no ``type`` (a "flat" call).
"""

from __future__ import annotations

from typing import Any


def describe(options: dict[str, Any]) -> dict[str, Any]:
    """What this integration offers; handy to check that a stack answers."""
    return {
        "name": "CRM contacts to marketing lists",
        "hooks": ["preSavePage", "preMap", "postMap", "postSubmit", "postResponseMap"],
        "wrappers": ["ping", "export", "import"],
        "integrationId": options.get("_integrationId"),
    }
