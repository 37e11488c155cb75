"""Realistic ``options`` for each kind of extension function, as integrator.io sends them.

Tests and ``stack-runtime invoke`` use these to call a function with the envelope
integrator.io would build, given only what matters (the records, the pending
settings, the connection)::

    from stack_runtime import samples

    options = samples.pre_save_page([{"id": 1}], pageIndex=2)

Every builder takes keyword overrides that replace top-level fields. The ids are
fixed made-up values in integrator.io's format (24 hex characters), the
``bearerToken`` is a placeholder: a function that calls back the API needs a real
one (or a local server, see :mod:`stack_runtime.client`).

A *kind* is what integrator.io calls the function for: ``preSavePage``,
``preMap``, ``ping``, ``persistSettings``... integrator.io lets authors name their
functions freely (the hook's kind is where it is configured in a flow), but the
usual name of a function is its kind, so the kit takes the function's name as its
kind unless told otherwise. :func:`kind_type` gives the envelope ``type`` of a
kind and :func:`options_for` builds the options of a kind.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from .exceptions import SampleError
from .types import (
    BaseOptions,
    Connection,
    ExportOptions,
    FlowOptions,
    FormInitOptions,
    ImportOptions,
    ImportResponse,
    InstallerOptions,
    PersistSettingsOptions,
    PingOptions,
    PostAggregateOptions,
    PostMapOptions,
    PostResponseMapOptions,
    PostSubmitOptions,
    PreMapOptions,
    PreSaveOptions,
    PreSavePageOptions,
    Record,
    RefreshMetadataOptions,
)

__all__ = [
    "INTEGRATION_ID",
    "FLOW_ID",
    "EXPORT_ID",
    "IMPORT_ID",
    "CONNECTION_ID",
    "JOB_ID",
    "BEARER_TOKEN",
    "KIND_TYPES",
    "kind_type",
    "options_for",
    "takes_records",
    "base",
    "pre_save_page",
    "pre_map",
    "post_map",
    "post_submit",
    "post_response_map",
    "post_aggregate",
    "form_init",
    "pre_save",
    "ping",
    "export",
    "import_",
    "installer",
    "persist_settings",
    "refresh_metadata",
]

INTEGRATION_ID = "65f0c0ffee0000000000a001"
FLOW_ID = "65f0c0ffee0000000000b002"
EXPORT_ID = "65f0c0ffee0000000000c003"
IMPORT_ID = "65f0c0ffee0000000000d004"
CONNECTION_ID = "65f0c0ffee0000000000e005"
JOB_ID = "65f0c0ffee0000000000f006"
#: A placeholder: integrator.io sends a real one-time token here.
BEARER_TOKEN = "sample-one-time-bearer-token"
_STARTED_AT = "2024-05-01T12:00:00.000Z"

#: The envelope ``type`` of each function kind integrator.io defines.
KIND_TYPES: Mapping[str, str] = {
    "preSavePage": "hook",
    "preMap": "hook",
    "postMap": "hook",
    "postSubmit": "hook",
    "postResponseMap": "hook",
    "postAggregate": "hook",
    "formInit": "hook",
    "preSave": "hook",
    "ping": "wrapper",
    "export": "wrapper",
    "import": "wrapper",
    "persistSettings": "setting",
    "refreshMetadata": "setting",
}


def kind_type(kind: str | None) -> str | None:
    """The envelope ``type`` of a function kind (``"hook"`` for ``preMap``), else ``None``.

    Only kinds whose namespace is certain are known: the hooks, the wrappers,
    ``persistSettings`` and ``refreshMetadata``. Installer, uninstaller and
    utility functions are named by their authors.
    """
    return KIND_TYPES.get(kind or "")


def _records(records: Sequence[Record] | None) -> list[Record]:
    if records is None:
        return []
    if isinstance(records, (str, bytes, Mapping)) or not isinstance(records, Sequence):
        raise SampleError(f"records must be a list of records, got {type(records).__name__}")
    return copy.deepcopy(list(records))


def _merge(options: dict[str, Any], fields: Mapping[str, Any]) -> Any:
    options.update(fields)
    return options


def _settings(step: str) -> dict[str, Any]:
    return {"integration": {}, "flowGrouping": {}, "flow": {}, step: {}}


def base(**fields: Any) -> BaseOptions:
    """The fields every call carries: ``bearerToken``, ``_integrationId``, ``settings``,
    ``configuration``."""
    options: dict[str, Any] = {
        "bearerToken": BEARER_TOKEN,
        "_integrationId": INTEGRATION_ID,
        "settings": {"integration": {}},
        "configuration": {},
    }
    return cast(BaseOptions, _merge(options, fields))


def _flow(step: str, **fields: Any) -> FlowOptions:
    options: dict[str, Any] = {
        "bearerToken": BEARER_TOKEN,
        "_integrationId": INTEGRATION_ID,
        "_flowId": FLOW_ID,
        "_connectionId": CONNECTION_ID,
        "settings": _settings(step),
        "configuration": {},
        "testMode": False,
        "job": {
            "_id": JOB_ID,
            "type": "flow",
            "status": "running",
            "_flowId": FLOW_ID,
            "_integrationId": INTEGRATION_ID,
            "startedAt": _STARTED_AT,
        },
    }
    return cast(FlowOptions, _merge(options, fields))


def _success_responses(records: Sequence[Record]) -> list[ImportResponse]:
    return [
        {"statusCode": 200, "id": f"dest-{index + 1}", "ignored": False, "errors": [], "_json": {}}
        for index in range(len(records))
    ]


def pre_save_page(records: Sequence[Record] | None = None, **fields: Any) -> PreSavePageOptions:
    """``preSavePage``: the page ``records`` of the first page of an export."""
    options: dict[str, Any] = dict(_flow("export"))
    options.update(
        {"data": _records(records), "errors": [], "retryData": {}, "_exportId": EXPORT_ID}
    )
    options["pageIndex"] = 0
    return cast(PreSavePageOptions, _merge(options, fields))


def pre_map(records: Sequence[Record] | None = None, **fields: Any) -> PreMapOptions:
    """``preMap``: ``records`` about to be mapped by an import."""
    options: dict[str, Any] = dict(_flow("import"))
    options.update({"data": _records(records), "_importId": IMPORT_ID})
    return cast(PreMapOptions, _merge(options, fields))


def post_map(
    records: Sequence[Record] | None = None,
    post_map_data: Sequence[Record] | None = None,
    **fields: Any,
) -> PostMapOptions:
    """``postMap``: ``records`` before mapping and ``post_map_data`` after (default: the same)."""
    before = _records(records)
    after = _records(post_map_data) if post_map_data is not None else copy.deepcopy(before)
    options: dict[str, Any] = dict(_flow("import"))
    options.update({"preMapData": before, "postMapData": after, "_importId": IMPORT_ID})
    return cast(PostMapOptions, _merge(options, fields))


def post_submit(
    records: Sequence[Record] | None = None,
    response_data: Sequence[ImportResponse] | None = None,
    **fields: Any,
) -> PostSubmitOptions:
    """``postSubmit``: ``records`` as submitted and the destination's answers
    (default: a 200 with an id for each)."""
    submitted = _records(records)
    responses = (
        copy.deepcopy(list(response_data))
        if response_data is not None
        else _success_responses(submitted)
    )
    options: dict[str, Any] = dict(_flow("import"))
    options.update(
        {
            "preMapData": copy.deepcopy(submitted),
            "postMapData": submitted,
            "responseData": responses,
            "_importId": IMPORT_ID,
        }
    )
    return cast(PostSubmitOptions, _merge(options, fields))


def post_response_map(
    records: Sequence[Record] | None = None,
    response_data: Sequence[ImportResponse] | None = None,
    **fields: Any,
) -> PostResponseMapOptions:
    """``postResponseMap``: ``records`` with the response mapped in, and the responses."""
    mapped = _records(records)
    responses = (
        copy.deepcopy(list(response_data))
        if response_data is not None
        else _success_responses(mapped)
    )
    options: dict[str, Any] = dict(_flow("import"))
    options.update(
        {"postResponseMapData": mapped, "responseMapData": responses, "_importId": IMPORT_ID}
    )
    return cast(PostResponseMapOptions, _merge(options, fields))


def post_aggregate(success: bool = True, **fields: Any) -> PostAggregateOptions:
    """``postAggregate``: the aggregated file was uploaded (or, ``success=False``, not)."""
    outcome: dict[str, Any] = {"success": success, "_json": {"name": "aggregate-2024-05-01.csv"}}
    if not success:
        outcome.update(code="upload_failed", message="The file could not be uploaded.")
    options: dict[str, Any] = dict(_flow("import"))
    options.update({"postAggregateData": outcome, "_importId": IMPORT_ID})
    return cast(PostAggregateOptions, _merge(options, fields))


def form_init(resource: Record | None = None, **fields: Any) -> FormInitOptions:
    """``formInit``: the settings form of ``resource`` (default: the integration)."""
    options: dict[str, Any] = dict(base())
    options.update(
        {
            "resource": copy.deepcopy(resource)
            if resource is not None
            else {"_id": INTEGRATION_ID, "name": "Sample integration", "settings": {}},
            "license": {"edition": "standard"},
            "sandbox": False,
        }
    )
    return cast(FormInitOptions, _merge(options, fields))


def pre_save(
    new_resource: Record | None = None, old_resource: Record | None = None, **fields: Any
) -> PreSaveOptions:
    """``preSave``: a resource about to be saved, and what it was."""
    new = copy.deepcopy(new_resource) if new_resource is not None else {"_id": EXPORT_ID}
    old = copy.deepcopy(old_resource) if old_resource is not None else copy.deepcopy(new)
    options: dict[str, Any] = dict(base())
    options.update({"newResource": new, "oldResource": old, "sandbox": False})
    return cast(PreSaveOptions, _merge(options, fields))


def _connection(connection: Connection | None) -> Connection:
    if connection is not None:
        return copy.deepcopy(connection)
    return {
        "_id": CONNECTION_ID,
        "type": "wrapper",
        "name": "Sample wrapper connection",
        "encrypted": {},
        "unencrypted": {},
    }


def ping(connection: Connection | None = None, **fields: Any) -> PingOptions:
    """``ping``: check ``connection`` (default: a wrapper connection with nothing saved)."""
    options: dict[str, Any] = dict(base())
    options.update({"connection": _connection(connection)})
    return cast(PingOptions, _merge(options, fields))


def export(
    connection: Connection | None = None, state: Mapping[str, Any] | None = None, **fields: Any
) -> ExportOptions:
    """``export``: one page of a wrapper export; ``state`` is the previous call's."""
    options: dict[str, Any] = dict(base())
    options.update({"connection": _connection(connection), "_exportId": EXPORT_ID})
    if state is not None:
        options["state"] = copy.deepcopy(dict(state))
    return cast(ExportOptions, _merge(options, fields))


def import_(
    records: Sequence[Record] | None = None, connection: Connection | None = None, **fields: Any
) -> ImportOptions:
    """``import``: a wrapper import of ``records`` (as mapped)."""
    mapped = _records(records)
    options: dict[str, Any] = dict(base())
    options.update(
        {
            "connection": _connection(connection),
            "preMapData": copy.deepcopy(mapped),
            "postMapData": mapped,
            "_importId": IMPORT_ID,
        }
    )
    return cast(ImportOptions, _merge(options, fields))


def installer(**fields: Any) -> InstallerOptions:
    """Installer, uninstaller, ``update``, ``changeEdition`` and ``initChild`` functions."""
    options: dict[str, Any] = dict(base())
    options.update({"opts": {"edition": "standard"}})
    return cast(InstallerOptions, _merge(options, fields))


def persist_settings(
    pending: Mapping[str, Any] | None = None, **fields: Any
) -> PersistSettingsOptions:
    """``persistSettings``: the settings fields a user saved."""
    options: dict[str, Any] = dict(base())
    options.update({"pending": copy.deepcopy(dict(pending or {})), "opts": {}})
    return cast(PersistSettingsOptions, _merge(options, fields))


def refresh_metadata(
    field_meta: Mapping[str, Any] | None = None, **fields: Any
) -> RefreshMetadataOptions:
    """``refreshMetadata``: refresh the choices of a settings field."""
    options: dict[str, Any] = dict(base())
    options.update(
        {
            "fieldMeta": copy.deepcopy(dict(field_meta))
            if field_meta is not None
            else {"name": "sample_field", "type": "select", "options": []}
        }
    )
    return cast(RefreshMetadataOptions, _merge(options, fields))


_WITH_RECORDS: Mapping[str, Callable[..., Any]] = {
    "preSavePage": pre_save_page,
    "preMap": pre_map,
    "postMap": post_map,
    "postSubmit": post_submit,
    "postResponseMap": post_response_map,
    "import": import_,
}
_WITHOUT_RECORDS: Mapping[str, Callable[..., Any]] = {
    "postAggregate": post_aggregate,
    "formInit": form_init,
    "preSave": pre_save,
    "ping": ping,
    "export": export,
    "persistSettings": persist_settings,
    "refreshMetadata": refresh_metadata,
}
_BY_TYPE: Mapping[str, Callable[..., Any]] = {
    "installer": installer,
    "uninstaller": installer,
}


def takes_records(kind: str | None) -> bool:
    """True when functions of ``kind`` are called with a page of records."""
    return (kind or "") in _WITH_RECORDS


def options_for(
    kind: str | None,
    records: Sequence[Record] | None = None,
    *,
    type: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Sample options for a function of ``kind`` (``None`` or an unknown kind: by ``type``).

    ``records`` fill the page of the kinds that take one (the record hooks and
    the import wrapper); giving records to any other kind raises
    :class:`SampleError`.
    """
    builder = _WITH_RECORDS.get(kind or "")
    if builder is not None:
        return dict(builder(records, **fields))
    if records is not None:
        takers = ", ".join(_WITH_RECORDS)
        raise SampleError(
            f"a function of kind {kind or '(unknown)'} takes no records; records go to "
            f"these kinds: {takers}"
        )
    builder = _WITHOUT_RECORDS.get(kind or "") or _BY_TYPE.get(type or "", base)
    return dict(builder(**fields))
