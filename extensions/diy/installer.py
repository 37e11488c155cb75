"""Installer steps, called one by one while a user installs the integration."""

from __future__ import annotations

from stack_runtime.types import InstallerOptions, InstallerResult


class InstallError(Exception):
    """A step that cannot go on; ``code`` becomes the error code integrator.io shows."""

    code = "install_failed"


def verifyCredentials(options: InstallerOptions) -> InstallerResult:
    """Check that the user gave an API key before flows are created."""
    if not (options.get("postBody") or {}).get("apiKey"):
        raise InstallError("Enter the CRM API key to continue.")
    return {"success": True, "stepsToUpdate": [{"name": "Verify credentials", "completed": True}]}


def createFlows(options: InstallerOptions) -> InstallerResult:
    """Mark the flow-creation step as done."""
    return {"success": True, "stepsToUpdate": [{"name": "Create flows", "completed": True}]}
