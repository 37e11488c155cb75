"""Uninstaller steps."""

from __future__ import annotations

from stack_runtime.types import UninstallerOptions, UninstallerResult


def preUninstallFunction(options: UninstallerOptions) -> UninstallerResult:
    """Nothing to clean up outside integrator.io for this integration."""
    return {"success": True}
