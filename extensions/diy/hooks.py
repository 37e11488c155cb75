"""Hooks: reshape pages of records while a flow runs.

integrator.io calls each hook with ``options`` that hold the page in
``options["data"]`` plus ids (``_flowId``, ``_exportId``/``_importId``,
``_integrationId``), the ``settings`` of the flow and integration, and a
one-time ``bearerToken`` for calling back integrator.io's API.

The annotations come from ``stack_runtime.types``: optional, they let an editor
complete ``options["..."]`` and a type checker catch a result of the wrong shape.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import datetime
from typing import Any

from stack_runtime.types import (
    ErrorEntry,
    PostMapOptions,
    PostMapResult,
    PostResponseMapOptions,
    PostResponseMapResult,
    PostSubmitOptions,
    PostSubmitResult,
    PreMapOptions,
    PreMapResult,
    PreSavePageOptions,
    PreSavePageResult,
)

from ._records import full_name, normalize_email

# ``os`` and ``json`` are imported here, yet a call can never reach ``os.system``
# or ``json.loads``: only the functions this module defines are callable.
_REGION = os.environ.get("CRM_REGION", "us")
_LOG_PREFIX = json.dumps({"integration": "crm-contacts"})


def preSavePage(options: PreSavePageOptions) -> PreSavePageResult:
    """Drop inactive contacts and enrich the rest before the page is saved.

    Records without a valid e-mail are reported as errors for that record, not
    dropped silently. Returns ``{data, errors, abort, newErrorsAndRetryData}``.
    """
    kept: list[dict[str, Any]] = []
    errors: list[ErrorEntry] = list(options.get("errors") or [])
    since: datetime | None = options.get("lastExportDateTime")
    for record in options.get("data") or []:
        if record.get("status") == "inactive":
            continue
        email = normalize_email(record.get("email"))
        if email is None:
            errors.append(
                {
                    "code": "invalid_email",
                    "message": f"Contact {record.get('id')} has no valid e-mail address.",
                    "source": "preSavePage",
                }
            )
            continue
        enriched = dict(record, email=email, fullName=full_name(record), region=_REGION)
        if since is not None:
            enriched["changedSinceLastExport"] = (
                str(record.get("updatedAt", "")) > since.isoformat()
            )
        kept.append(enriched)
    return {"data": kept, "errors": errors, "abort": False, "newErrorsAndRetryData": []}


def preMap(options: PreMapOptions) -> PreMapResult:
    """Shape each contact for the marketing platform; one ``{data}`` per record."""
    out: PreMapResult = []
    for record in options.get("data") or []:
        tags = sorted({str(t).strip().lower() for t in record.get("tags") or [] if str(t).strip()})
        out.append({"data": dict(record, tags=tags, source="crm")})
    return out


def postMap(options: PostMapOptions) -> PostMapResult:
    """Check each mapped record; a record without ``email`` becomes an error."""
    out: PostMapResult = []
    for index, record in enumerate(options.get("postMapData") or []):
        if not record or not record.get("email"):
            out.append(
                {"errors": [{"code": "missing_email", "message": f"Record {index} has no email."}]}
            )
        else:
            out.append({"data": record})
    return out


def postSubmit(options: PostSubmitOptions) -> PostSubmitResult:
    """Turn the platform's duplicate-contact answers into successes, keep the rest."""
    out: PostSubmitResult = []
    for response in options.get("responseData") or []:
        errors = response.get("errors") or []
        if errors and all(e.get("code") == "duplicate_contact" for e in errors):
            response = {**response, "statusCode": 200, "errors": [], "ignored": True}
        out.append(response)
    return out


async def postResponseMap(options: PostResponseMapOptions) -> PostResponseMapResult:
    """An ``async`` hook: stamp each record with when its answer was mapped.

    Returns ``postResponseMapData``, one record per record received, in order.
    """
    await asyncio.sleep(0)
    stamp = datetime.now().astimezone().isoformat()
    return [dict(record, mappedAt=stamp) for record in options.get("postResponseMapData") or []]
