"""Settings pages (type "setting"): an integration's settings form saves and refreshes here."""

from __future__ import annotations

from stack_runtime.types import (
    PersistSettingsOptions,
    PersistSettingsResult,
    RefreshMetadataOptions,
    RefreshMetadataResult,
)

_REGIONS = ("us", "eu")


class SettingsRejected(Exception):
    """A refused save; ``code`` is the error code integrator.io shows."""

    code = "invalid_settings"


def persistSettings(options: PersistSettingsOptions) -> PersistSettingsResult:
    """A user saved the settings (``pending``): check them and return what to store."""
    pending = dict(options["pending"])
    region = pending.setdefault("region", "us")
    if region not in _REGIONS:
        raise SettingsRejected(f"Unknown region {region!r}: choose one of {', '.join(_REGIONS)}.")
    return {"success": True, "pending": pending}


def refreshMetadata(options: RefreshMetadataOptions) -> RefreshMetadataResult:
    """A user refreshed a settings field: return the field with its new choices."""
    field = dict(options.get("fieldMeta", {}))
    field["options"] = [[region, region.upper()] for region in _REGIONS]
    return field
