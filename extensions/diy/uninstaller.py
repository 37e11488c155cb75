"""Uninstaller steps."""

from __future__ import annotations

from typing import Any


def preUninstallFunction(options: dict[str, Any]) -> dict[str, Any]:
    """Nothing to clean up outside integrator.io for this integration."""
    return {"success": True}
