"""Installer functions (type "installer"): the lifecycle of an integration app.

Integration apps (connectors) name these functions on their install steps and
on the app itself. Each gets the license details in ``options["opts"]``. Call
integrator.io's API back with ``options["bearerToken"]`` to create or change
resources (see ``stack_runtime.client.IntegratorClient``).
"""

from __future__ import annotations

from stack_runtime.types import (
    ChangeEditionOptions,
    InitChildOptions,
    InstallerOptions,
    InstallerResult,
    LifecycleResult,
    UpdateOptions,
)


def verifyCredentials(options: InstallerOptions) -> InstallerResult:
    """An install step: check what the user entered, then mark the step done."""
    if not options.get("postBody", {}).get("apiKey"):
        raise ValueError("Enter an API key to continue.")
    return {"success": True, "stepsToUpdate": [{"name": "Verify credentials", "completed": True}]}


def update(options: UpdateOptions) -> LifecycleResult:
    """A new version of the app was released: bring this installation up to date."""
    return {"success": True}


def changeEdition(options: ChangeEditionOptions) -> LifecycleResult:
    """The license changed edition: turn features on or off."""
    return {"success": True, "edition": options.get("opts", {}).get("edition", "standard")}


def initChild(options: InitChildOptions) -> LifecycleResult:
    """A child integration was added: set it up."""
    return {"success": True, "_childIntegrationId": options.get("_childIntegrationId")}
