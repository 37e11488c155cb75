"""Uninstaller functions (type "uninstaller"): run while an integration app is removed."""

from __future__ import annotations

from stack_runtime.types import UninstallerOptions, UninstallerResult


def preUninstall(options: UninstallerOptions) -> UninstallerResult:
    """Runs before uninstalling starts: clean up outside integrator.io here."""
    return {"success": True}


def removeFlows(options: UninstallerOptions) -> UninstallerResult:
    """An uninstall step: remove what the matching install step created."""
    return {"success": True, "stepsToUpdate": [{"name": "Remove flows", "completed": True}]}
