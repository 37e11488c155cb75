"""Hooks (type "hook"): change pages of records while a flow runs.

In integrator.io, pick a hook on an export or import step, choose this stack and
type the function's name. The names below are the hook kinds; you may name your
functions anything (``stack-runtime invoke myHook --kind preMap`` tells the kit
which kind of options to build).

Every hook gets ``options`` with ids (``_integrationId``, ``_flowId``,
``_exportId`` or ``_importId``, ``_connectionId``), the ``settings`` in scope, the
``configuration`` typed next to the function's name, ``testMode`` (true in
previews) and a one-time ``bearerToken`` for calling back integrator.io's API.

The annotations (``PreSavePageOptions`` ...) are optional: they let your editor
complete ``options["..."]`` and a type checker catch a result of the wrong shape.
"""

from __future__ import annotations

from stack_runtime.types import (
    ErrorEntry,
    FormInitOptions,
    FormInitResult,
    PostAggregateOptions,
    PostMapOptions,
    PostMapResult,
    PostResponseMapOptions,
    PostResponseMapResult,
    PostSubmitOptions,
    PostSubmitResult,
    PreMapOptions,
    PreMapResult,
    PreSaveOptions,
    PreSavePageOptions,
    PreSavePageResult,
    PreSaveResult,
)


def preSavePage(options: PreSavePageOptions) -> PreSavePageResult:
    """Runs on each page an export produces, before it is saved.

    Add, change or drop records. Return the page's errors too (the ones you
    received, plus your own); ``abort: True`` stops the export after this page.
    """
    errors: list[ErrorEntry] = list(options.get("errors", []))
    kept = []
    for record in options["data"]:
        if not record.get("id"):
            errors.append(
                {"code": "missing_id", "message": "A record has no id.", "source": "preSavePage"}
            )
            continue
        kept.append(record)
    return {"data": kept, "errors": errors, "abort": False, "newErrorsAndRetryData": []}


def preMap(options: PreMapOptions) -> PreMapResult:
    """Runs before an import maps its records.

    Return exactly one entry per record, in order: ``{"data": record}`` to go on,
    ``{"errors": [...]}`` to fail that record, ``{}`` to skip it.
    """
    results: PreMapResult = []
    for record in options["data"]:
        trimmed = {key: v.strip() if isinstance(v, str) else v for key, v in record.items()}
        results.append({"data": trimmed})
    return results


def postMap(options: PostMapOptions) -> PostMapResult:
    """Runs after an import mapped its records (``postMapData``), next to the
    originals (``preMapData``). One entry per record, as preMap."""
    results: PostMapResult = []
    for mapped in options["postMapData"]:
        if not mapped.get("name"):
            results.append(
                {"errors": [{"code": "missing_name", "message": "The mapped record has no name."}]}
            )
        else:
            results.append({"data": mapped})
    return results


def postSubmit(options: PostSubmitOptions) -> PostSubmitResult:
    """Runs after the destination answered (``responseData``, one per record).

    Return ``responseData``, changed as you need, same length and order.
    """
    responses = options["responseData"]
    for response in responses:
        if response.get("statusCode") == 200 and not response.get("id"):
            response["errors"] = [{"code": "no_id", "message": "The destination returned no id."}]
    return responses


def postResponseMap(options: PostResponseMapOptions) -> PostResponseMapResult:
    """Runs after a lookup's or import's response was mapped into the records.

    Return ``postResponseMapData``, changed as you need, same length and order.
    """
    return [dict(record, checked=True) for record in options["postResponseMapData"]]


def postAggregate(options: PostAggregateOptions) -> None:
    """Runs after a file import uploaded its aggregated file; returns nothing.

    Raise to mark the step as failed.
    """
    outcome = options["postAggregateData"]
    if not outcome.get("success"):
        raise RuntimeError(f"The file upload failed: {outcome.get('message', 'no details')}")


def formInit(options: FormInitOptions) -> FormInitResult:
    """An integration app's settings form is opening: return the form to show."""
    settings = options.get("resource", {}).get("settings", {})
    return {
        "fieldMap": {
            "region": {
                "id": "region",
                "name": "region",
                "type": "select",
                "label": "Region",
                "defaultValue": settings.get("region", "us"),
            }
        },
        "layout": {"fields": ["region"]},
    }


def preSave(options: PreSaveOptions) -> PreSaveResult:
    """A user is saving a resource in integrator.io: return it, changed as you need."""
    resource = dict(options["newResource"])
    if isinstance(resource.get("name"), str):
        resource["name"] = resource["name"].strip()
    return resource
