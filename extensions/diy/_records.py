"""Helpers shared by the hooks and wrappers; private, so never callable by name."""

from __future__ import annotations

import re
from typing import Any

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_email(value: Any) -> str | None:
    """Lower-cased, trimmed e-mail address, or ``None`` when it is not one."""
    if not isinstance(value, str):
        return None
    email = value.strip().lower()
    return email if _EMAIL.match(email) else None


def full_name(record: dict[str, Any]) -> str:
    """``"First Last"`` from whichever name fields the record has."""
    parts = [record.get("firstName"), record.get("lastName")]
    return " ".join(str(p).strip() for p in parts if p)
