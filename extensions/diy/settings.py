"""Settings-page functions of the integration."""

from __future__ import annotations

from stack_runtime.types import (
    PersistSettingsOptions,
    PersistSettingsResult,
    RefreshMetadataOptions,
    RefreshMetadataResult,
)

_ALLOWED_REGIONS = ("us", "eu", "ap")


def persistSettings(options: PersistSettingsOptions) -> PersistSettingsResult:
    """Validate the settings a user saved; refuse an unknown region."""
    pending = options.get("pending") or {}
    region = pending.get("region", "us")
    if region not in _ALLOWED_REGIONS:
        raise ValueError(f"Unknown region {region!r}: choose one of {', '.join(_ALLOWED_REGIONS)}.")
    return {"success": True, "pending": dict(pending, region=region)}


def refreshMetadata(options: RefreshMetadataOptions) -> RefreshMetadataResult:
    """Options for a settings field: the regions a user can choose."""
    field = dict(options.get("fieldMeta") or {})
    field["options"] = [[r, r.upper()] for r in _ALLOWED_REGIONS]
    return field
