"""Your do-it-yourself integration's extension functions.

integrator.io calls a function with one argument, ``options`` (a dict parsed from
its JSON), and sends on what the function returns. To fail, raise: the error
becomes a 422 whose ``code`` is the exception's ``code`` attribute (else its class
name) and whose ``message`` is ``str(exc)``. A function may be ``def`` or
``async def``.

The sibling modules hold each namespace (the envelope's ``type``):

    hooks.py        type "hook"        preSavePage, preMap, postMap, postSubmit, ...
    wrappers.py     type "wrapper"     ping, export, import
    settings.py     type "setting"     persistSettings, refreshMetadata
    installer.py    type "installer"   install steps, update, changeEdition, initChild
    uninstaller.py  type "uninstaller" uninstall steps
    utilities.py    type "utility"     anything else you want to call

A function defined here, at the top level, is called when the envelope has no
``type`` (a "flat" call). Only public functions defined in a module (or listed
in its ``__all__``) can be called; helpers named ``_like_this`` never are.
"""

from __future__ import annotations

from typing import Any


def hello(options: dict[str, Any]) -> dict[str, Any]:
    """A top-level function: ``stack-runtime invoke hello --flat``."""
    return {"hello": options.get("name", "world")}
