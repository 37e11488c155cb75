"""An integration app (connector): its namespaces are attributes of the package.

``hooks`` is a dict, ``installer`` a class and ``settings`` an object: each of
these shapes works, as does a submodule file like the DIY example uses.
"""

from __future__ import annotations

from typing import Any


def _stamp(record: dict[str, Any], connector: str) -> dict[str, Any]:
    return dict(record, syncedBy=connector)


def pre_save_page(options: dict[str, Any]) -> dict[str, Any]:
    """Stamp each record with the connector that synced it."""
    data = [_stamp(r, "orders-connector") for r in options.get("data") or []]
    return {"data": data, "errors": [], "abort": False}


hooks = {"preSavePage": pre_save_page}


class installer:
    """Install, update and edition changes of the integration app."""

    @staticmethod
    def installConnector(options: dict[str, Any]) -> dict[str, Any]:
        return {"success": True, "_integrationId": options.get("_integrationId")}

    @staticmethod
    def update(options: dict[str, Any]) -> dict[str, Any]:
        return {"success": True, "version": "1.1.0"}

    @staticmethod
    def changeEdition(options: dict[str, Any]) -> dict[str, Any]:
        return {"success": True, "edition": (options.get("opts") or {}).get("edition", "standard")}


class _Settings:
    def __init__(self) -> None:
        self.defaults = {"syncDays": 7}

    def persistSettings(self, options: dict[str, Any]) -> dict[str, Any]:
        """Merge the saved settings over the defaults."""
        return {"success": True, "settings": {**self.defaults, **(options.get("pending") or {})}}


settings = _Settings()
