"""Typed shapes of the ``options`` each extension function receives and of what it returns.

Optional for authors: a function that takes and returns plain dicts works the
same. Annotating with these gives an editor completion on ``options["..."]`` and
lets a type checker (mypy, pyright) catch a result of the wrong shape::

    from stack_runtime.types import PreMapOptions, PreMapResult

    def preMap(options: PreMapOptions) -> PreMapResult:
        return [{"data": dict(record, source="crm")} for record in options["data"]]

Every class here is a :class:`typing.TypedDict`: at run time the values are the
plain ``dict`` and ``list`` objects parsed from integrator.io's JSON, so importing
this module costs nothing on the request path. Each field is documented where it
is declared; fields marked ``Required`` are always sent, the others only when
they apply (a delta export's dates, a connector's settings, ...).

The shapes follow the extension function kinds integrator.io documents and the reference host's documentation.
integrator.io may send more fields than are listed; they are still there in the
dict.
"""

# No ``from __future__ import annotations`` here: TypedDict reads ``Required`` at run time
# only from evaluated annotations, and stack_runtime.shapes checks results with them.
from datetime import datetime
from typing import Any, Literal, Required, TypeAlias, TypedDict

__all__ = [
    # shared pieces
    "Record",
    "ErrorEntry",
    "RetryData",
    "NewErrorAndRetryData",
    "RecordResult",
    "ImportResponse",
    "Connection",
    "Job",
    "FileInfo",
    "BaseOptions",
    "FlowOptions",
    # hooks
    "PreSavePageOptions",
    "PreSavePageResult",
    "PreMapOptions",
    "PreMapResult",
    "PostMapOptions",
    "PostMapResult",
    "PostSubmitOptions",
    "PostSubmitResult",
    "PostResponseMapOptions",
    "PostResponseMapResult",
    "AggregateOutcome",
    "PostAggregateOptions",
    "PostAggregateResult",
    "FormInitOptions",
    "FormInitResult",
    "PreSaveOptions",
    "PreSaveResult",
    # wrappers
    "PingOptions",
    "PingResult",
    "ExportDelta",
    "ExportOnce",
    "ExportTest",
    "ExportOptions",
    "ExportResult",
    "ImportOptions",
    "ImportResult",
    # integration-app lifecycle
    "InstallerOptions",
    "InstallerResult",
    "StepUpdate",
    "UninstallerOptions",
    "UninstallerResult",
    "UpdateOptions",
    "ChangeEditionOptions",
    "InitChildOptions",
    "LifecycleResult",
    # settings pages and utilities
    "PersistSettingsOptions",
    "PersistSettingsResult",
    "RefreshMetadataOptions",
    "RefreshMetadataResult",
    "UtilityOptions",
]

Record: TypeAlias = dict[str, Any]
"""One record of a page. Most sources give a JSON object; a few (CSV without a
header row, some file formats) give an array, which arrives as a ``list``."""


# -- shared pieces -------------------------------------------------------------------------


class ErrorEntry(TypedDict, total=False):
    """One error about a record or a call, as integrator.io shows it on a job."""

    code: Required[str]
    """A short machine-readable code, such as ``"invalid_email"``."""
    message: Required[str]
    """The text a user reads in integrator.io's error list."""
    source: str
    """Where the error came from (the application, or your hook's name)."""
    retryDataKey: str
    """Key into ``retryData`` of the record this error is about (preSavePage)."""


class RetryData(TypedDict, total=False):
    """What integrator.io keeps to retry one failed record."""

    data: Record
    """The record as it will be retried."""
    stage: str
    """The step of the flow where it failed."""
    traceKey: str
    """The record's trace key, to follow it through the flow."""


class NewErrorAndRetryData(TypedDict):
    """A new error raised by a preSavePage hook, with the record to retry."""

    retryData: Record
    """The record a user can edit and retry."""
    errors: list[ErrorEntry]
    """The errors to show for it."""


class RecordResult(TypedDict, total=False):
    """preMap and postMap answer one of these per input record, in order.

    ``{"data": record}`` keeps the record, ``{"data": record, "errors": [...]}``
    keeps it and logs errors, ``{"errors": [...]}`` fails it and ``{}`` ignores it.
    """

    data: Record
    """The record to go on with."""
    errors: list[ErrorEntry]
    """Errors for this record."""


class ImportResponse(TypedDict, total=False):
    """The canonical answer of an import for one record (postSubmit, import wrappers)."""

    statusCode: Required[int]
    """200 on success, 401 for an authorization or connection failure, 422 otherwise."""
    id: str
    """The record's id in the destination application."""
    ignored: bool
    """True when the record was deliberately not imported."""
    errors: list[ErrorEntry]
    """What went wrong (may accompany a 200 for a partial success)."""
    _json: Any
    """The destination's complete response for this record (an HTTP body, say);
    read and write it to drive child imports."""
    dataURI: str
    """A link to the record in the destination application, when it has one."""
    _headerId: str
    """For imports of header and lines: the header record this response belongs to."""


class Connection(TypedDict, total=False):
    """The connection a wrapper works with."""

    _id: str
    """The connection's id."""
    type: str
    """``"wrapper"`` for a wrapper connection."""
    name: str
    """The connection's name in integrator.io."""
    encrypted: dict[str, Any]
    """Secrets saved on the connection (API keys, passwords). Never log these."""
    unencrypted: dict[str, Any]
    """Plain settings saved on the connection (base URLs, account ids)."""


class Job(TypedDict, total=False):
    """The job (one run of a flow) a hook is called in; absent in previews."""

    _id: str
    """The job's id."""
    type: str
    """``"flow"`` for a flow run."""
    status: str
    """``"running"`` while the hooks are called."""
    _flowId: str
    """The flow being run."""
    _integrationId: str
    """The integration the flow belongs to."""
    startedAt: str
    """ISO 8601 time the job started."""


class FileInfo(TypedDict, total=False):
    """Metadata of the source file a record came from (file exports only)."""

    fileMeta: dict[str, Any]
    """Details of the file, such as ``fileName``."""


class BaseOptions(TypedDict, total=False):
    """Fields every call carries."""

    bearerToken: str
    """A one-time token to call back integrator.io's API during this call
    (see :class:`stack_runtime.client.IntegratorClient`). Never log it."""
    _integrationId: str
    """The integration the call is made for."""
    settings: dict[str, Any]
    """Custom settings in scope: ``integration``, ``flowGrouping``, ``flow`` and the
    export's or import's own, each a dict."""
    configuration: dict[str, Any]
    """The function's own configuration, as entered next to the function's name in
    integrator.io."""


class FlowOptions(BaseOptions, total=False):
    """Fields every hook called while a flow runs carries."""

    _flowId: str
    """The flow being run."""
    _connectionId: str
    """The connection of the export or import the hook belongs to."""
    testMode: bool
    """True in test runs and previews: skip side effects when it is set."""
    job: Job
    """The running job (absent in previews)."""


# -- hooks ------------------------------------------------------------------------------------


class PreSavePageOptions(FlowOptions, total=False):
    """``preSavePage``: a page the export produced, before it is saved."""

    data: Required[list[Record]]
    """The page of records."""
    errors: list[ErrorEntry]
    """Errors the export already found on this page."""
    retryData: dict[str, RetryData]
    """Retry data of those errors, by ``retryDataKey``."""
    files: list[FileInfo]
    """File exports only: ``files[i]`` describes the file ``data[i]`` came from."""
    _exportId: str
    """The export running."""
    pageIndex: int
    """0-based index of this page in the export."""
    lastExportDateTime: datetime
    """Delta exports only: when the last run started (a timezone-aware ``datetime``;
    the host converts integrator.io's string)."""
    currentExportDateTime: datetime
    """Delta exports only: when this run started (a timezone-aware ``datetime``)."""


class PreSavePageResult(TypedDict, total=False):
    """What ``preSavePage`` returns."""

    data: Required[list[Record]]
    """The page to save: records may be changed, added or removed."""
    errors: list[ErrorEntry]
    """The page's errors (return the ones you received to keep them)."""
    abort: bool
    """True stops the export from producing more pages."""
    newErrorsAndRetryData: list[NewErrorAndRetryData]
    """New errors, each with a record a user can retry."""


class PreMapOptions(FlowOptions, total=False):
    """``preMap``: records about to be mapped by an import."""

    data: Required[list[Record]]
    """The records, before mapping."""
    _importId: str
    """The import running."""


PreMapResult: TypeAlias = list[RecordResult]
"""One :class:`RecordResult` per input record, same length and order as ``data``."""


class PostMapOptions(FlowOptions, total=False):
    """``postMap``: records just mapped by an import."""

    preMapData: Required[list[Record]]
    """The records before mapping."""
    postMapData: Required[list[Record]]
    """The same records after mapping, in the same order."""
    _importId: str
    """The import running."""


PostMapResult: TypeAlias = list[RecordResult]
"""One :class:`RecordResult` per record, same length and order as ``postMapData``."""


class PostSubmitOptions(FlowOptions, total=False):
    """``postSubmit``: what the destination answered for each submitted record."""

    preMapData: Required[list[Record]]
    """The records before mapping."""
    postMapData: Required[list[Record]]
    """The records as submitted."""
    responseData: Required[list[ImportResponse]]
    """The destination's answer for each record."""
    _importId: str
    """The import running."""


PostSubmitResult: TypeAlias = list[ImportResponse]
"""``responseData``, changed as needed; same length and order."""


class PostResponseMapOptions(FlowOptions, total=False):
    """``postResponseMap``: records after a lookup's or import's response was mapped in."""

    postResponseMapData: Required[list[Record]]
    """The records with the response fields mapped in."""
    responseMapData: list[ImportResponse]
    """The responses that were mapped, one per record."""
    _importId: str
    """The import whose response was mapped (imports)."""
    _exportId: str
    """The lookup whose response was mapped (lookups)."""


PostResponseMapResult: TypeAlias = list[Record]
"""``postResponseMapData``, changed as needed; same length and order."""


class AggregateOutcome(TypedDict, total=False):
    """How uploading an aggregated file went."""

    success: bool
    """True when the file reached the destination."""
    _json: dict[str, Any]
    """Details, such as the uploaded file's ``name``."""
    code: str
    """Error code, when it failed."""
    message: str
    """Error message, when it failed."""
    source: str
    """Where the error came from, when it failed."""


class PostAggregateOptions(FlowOptions, total=False):
    """``postAggregate``: after a file import uploaded its aggregated file (read-only)."""

    postAggregateData: Required[AggregateOutcome]
    """The outcome of the upload."""
    _importId: str
    """The file import."""


PostAggregateResult: TypeAlias = None
"""``postAggregate`` returns nothing; raise to report a failure."""


class FormInitOptions(BaseOptions, total=False):
    """``formInit``: build the settings form of an integration app's resource."""

    resource: Record
    """The resource the form is for (an integration, a flow, ...)."""
    parentResource: Record
    """Its parent resource, when it has one."""
    grandparentResource: Record
    """The parent's parent, when there is one."""
    license: Record
    """The integration app license in force."""
    parentLicense: Record
    """The parent integration's license, for child integrations."""
    sandbox: bool
    """True in a sandbox environment."""


FormInitResult: TypeAlias = dict[str, Any]
"""The form definition to show."""


class PreSaveOptions(BaseOptions, total=False):
    """``preSave``: a resource a user is about to save in integrator.io's UI."""

    newResource: Required[Record]
    """The resource as it will be saved."""
    oldResource: Record
    """The resource as it was."""
    sandbox: bool
    """True in a sandbox environment."""


PreSaveResult: TypeAlias = Record
"""The resource to save (usually ``newResource``, changed)."""


# -- wrappers ---------------------------------------------------------------------------------


class PingOptions(BaseOptions, total=False):
    """``ping``: check that a wrapper connection works."""

    connection: Required[Connection]
    """The connection to check."""
    _exportId: str
    """The export using the connection, when pinged from one."""
    _importId: str
    """The import using the connection, when pinged from one."""


class PingResult(TypedDict, total=False):
    """What ``ping`` returns."""

    statusCode: Required[Literal[200, 401]]
    """200 when the connection works, 401 when it does not."""
    errors: list[ErrorEntry]
    """Why it does not."""


class ExportDelta(TypedDict, total=False):
    """Delta exports: what changed since the last run."""

    dateField: str
    """The field to compare."""
    lastExecutionTime: int
    """When the last run started, in epoch milliseconds."""


class ExportOnce(TypedDict, total=False):
    """Once exports: records not exported yet."""

    booleanField: str
    """The field that marks a record as exported."""


class ExportTest(TypedDict, total=False):
    """Test exports: a small sample."""

    limit: int
    """At most this many records."""


class ExportOptions(BaseOptions, total=False):
    """``export``: one page of a wrapper export. Called again with the returned ``state``
    until a result says ``lastPage``."""

    connection: Required[Connection]
    """The wrapper connection."""
    type: Literal["delta", "once", "test"]
    """The kind of export; absent means export everything."""
    delta: ExportDelta
    """Set for delta exports."""
    once: ExportOnce
    """Set for once exports."""
    test: ExportTest
    """Set for test exports."""
    state: dict[str, Any]
    """The ``state`` the previous call returned; absent on the first call."""
    _exportId: str
    """The wrapper export."""


class ExportResult(TypedDict, total=False):
    """One page of a wrapper export."""

    data: Required[list[Record]]
    """The records of this page."""
    errors: list[ErrorEntry]
    """Errors met while exporting it."""
    lastPage: bool
    """True when no page follows."""
    state: dict[str, Any]
    """Handed back in the next call's ``options["state"]``."""
    connectionOffline: bool
    """True when the connection went offline: integrator.io marks it and stops."""


class ImportOptions(BaseOptions, total=False):
    """``import``: a wrapper import of one page of records."""

    connection: Required[Connection]
    """The wrapper connection."""
    preMapData: list[Record]
    """The records before mapping."""
    postMapData: Required[list[Record]]
    """The records to import, after mapping."""
    _importId: str
    """The wrapper import."""


ImportResult: TypeAlias = list[ImportResponse]
"""One :class:`ImportResponse` per record, same length and order as ``postMapData``."""


# -- integration-app lifecycle ------------------------------------------------------------------


class StepUpdate(TypedDict, total=False):
    """An install step of the integration to update."""

    name: Required[str]
    """The step's name, as on the integration."""
    completed: bool
    """True once the step is done."""


class InstallerOptions(BaseOptions, total=False):
    """Installer functions: the connector installer and each install step."""

    opts: dict[str, Any]
    """The integration app's license details and what the user entered in the step."""
    _connectorId: str
    """The integration app being installed."""
    postBody: dict[str, Any]
    """What the install step's form posted, for steps that ask the user."""


class InstallerResult(TypedDict, total=False):
    """What an install step returns."""

    success: bool
    """True when the step worked."""
    stepsToUpdate: list[StepUpdate]
    """Install steps whose state changed."""


class UninstallerOptions(BaseOptions, total=False):
    """Uninstaller functions: before uninstalling, each uninstall step, and the last one."""

    opts: dict[str, Any]
    """The integration app's license details."""
    _connectorId: str
    """The integration app being uninstalled."""


UninstallerResult: TypeAlias = InstallerResult
"""What an uninstall step returns: the same shape as an install step's."""


class UpdateOptions(BaseOptions, total=False):
    """``update``: bring an installed integration up to a new version of the app."""

    opts: dict[str, Any]
    """The integration app's license details."""


class ChangeEditionOptions(BaseOptions, total=False):
    """``changeEdition``: the license changed to another edition."""

    opts: dict[str, Any]
    """The license details, with the new edition."""


class InitChildOptions(BaseOptions, total=False):
    """``initChild``: set up a child integration of an integration app."""

    opts: dict[str, Any]
    """The license details and what identifies the child."""
    _childIntegrationId: str
    """The child integration being set up."""


LifecycleResult: TypeAlias = dict[str, Any] | None
"""``update``, ``changeEdition`` and ``initChild`` may return details or nothing."""


# -- settings pages and utilities -------------------------------------------------------------


class PersistSettingsOptions(BaseOptions, total=False):
    """``persistSettings``: a user saved an integration app's settings page."""

    pending: Required[dict[str, Any]]
    """The settings fields as the user saved them."""
    opts: dict[str, Any]
    """The integration app's license details."""


class PersistSettingsResult(TypedDict, total=False):
    """What ``persistSettings`` returns."""

    success: Required[bool]
    """True when the settings were accepted."""
    pending: dict[str, Any]
    """The settings to store, changed as needed."""


class RefreshMetadataOptions(BaseOptions, total=False):
    """``refreshMetadata``: a user asked to refresh the choices of a settings field."""

    fieldMeta: dict[str, Any]
    """The settings field being refreshed."""
    opts: dict[str, Any]
    """The integration app's license details."""


RefreshMetadataResult: TypeAlias = dict[str, Any]
"""The field, with its new metadata (its ``options``, say)."""


UtilityOptions: TypeAlias = dict[str, Any]
"""``utilities`` functions take whatever the caller sends."""
