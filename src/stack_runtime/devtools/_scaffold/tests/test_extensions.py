"""Tests of the extension functions, called the way integrator.io calls them.

The ``stack`` fixture comes with stack-runtime (its pytest plugin loads itself):
it imports ./extensions afresh for each test and calls functions through the
same dispatcher the server uses. ``stack.call`` returns the result as
integrator.io would read it, or raises ``ExtensionCallError`` with the 422's
errors. ``stack.call("preMap", records=[...])`` builds the options integrator.io
would send around the records; ``stack.options("persistSettings", pending=...)``
builds them for you to adjust.

Run them with ``pytest``. Another extensions folder: ``pytest --stack-extensions DIR``
or ``stack_extensions = DIR`` in your pytest configuration.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stack_runtime.testing import ExtensionCallError, Stack


def test_hello_is_a_top_level_function(stack: Stack) -> None:
    assert stack.call("hello", {"name": "Ada"}, type=None) == {"hello": "Ada"}


def test_pre_save_page_reports_records_without_id(stack: Stack) -> None:
    result = stack.call("preSavePage", records=[{"id": 1}, {"name": "no id"}])
    assert result["data"] == [{"id": 1}]
    assert [error["code"] for error in result["errors"]] == ["missing_id"]


def test_pre_save_page_on_a_delta_export(stack: Stack) -> None:
    # Options travel as JSON, as from integrator.io: a datetime is sent as an ISO string,
    # and the host hands the export dates to the hook as timezone-aware datetimes again.
    since = datetime(2024, 5, 1, tzinfo=UTC)
    options = stack.options("preSavePage", [{"id": 1}], lastExportDateTime=since)
    assert stack.call("preSavePage", options)["data"] == [{"id": 1}]


def test_pre_map_answers_one_entry_per_record(stack: Stack) -> None:
    result = stack.call("preMap", records=[{"name": "  Ada "}, {"name": "Grace"}])
    assert result == [{"data": {"name": "Ada"}}, {"data": {"name": "Grace"}}]


def test_post_map_fails_records_without_name(stack: Stack) -> None:
    options = stack.options("postMap", [{"n": 1}, {"n": 2}], post_map_data=[{"name": "Ada"}, {}])
    result = stack.call("postMap", options)
    assert result[0] == {"data": {"name": "Ada"}}
    assert result[1]["errors"][0]["code"] == "missing_name"


def test_post_submit_flags_missing_ids(stack: Stack) -> None:
    responses = [{"statusCode": 200, "id": "9"}, {"statusCode": 200}]
    result = stack.call(
        "postSubmit", stack.options("postSubmit", [{}, {}], response_data=responses)
    )
    assert "errors" not in result[0] and result[1]["errors"][0]["code"] == "no_id"


def test_post_response_map_keeps_the_records(stack: Stack) -> None:
    assert stack.call("postResponseMap", records=[{"id": 1}]) == [{"id": 1, "checked": True}]


def test_post_aggregate_raises_when_the_upload_failed(stack: Stack) -> None:
    assert stack.call("postAggregate") is None
    with pytest.raises(ExtensionCallError) as failed:
        stack.call("postAggregate", stack.options("postAggregate", success=False))
    assert failed.value.codes == ["RuntimeError"]


def test_form_init_and_pre_save(stack: Stack) -> None:
    assert stack.call("formInit")["layout"] == {"fields": ["region"]}
    options = stack.options("preSave", new_resource={"name": " Orders "})
    assert stack.call("preSave", options) == {"name": "Orders"}


def test_ping_needs_an_api_key(stack: Stack) -> None:
    assert stack.call("ping")["statusCode"] == 401
    connection = {"encrypted": {"apiKey": "k"}, "unencrypted": {}}
    assert stack.call("ping", stack.options("ping", connection=connection)) == {"statusCode": 200}


def test_export_pages_through_every_item(stack: Stack) -> None:
    records, state, pages = [], None, 0
    while True:
        page = stack.call("export", stack.options("export", state=state))
        records += page["data"]
        state, pages = page["state"], pages + 1
        if page["lastPage"]:
            break
    assert pages == 3 and [r["id"] for r in records] == list(range(1, 8))


def test_import_answers_each_record(stack: Stack) -> None:
    result = stack.call("import", records=[{"id": 1, "name": "Ada"}, {"id": 2}])
    assert [r["statusCode"] for r in result] == [200, 422]


def test_settings_refuse_an_unknown_region(stack: Stack) -> None:
    saved = stack.call("persistSettings", stack.options("persistSettings", pending={}))
    assert saved == {"success": True, "pending": {"region": "us"}}
    with pytest.raises(ExtensionCallError) as failed:
        stack.call("persistSettings", stack.options("persistSettings", pending={"region": "mars"}))
    assert failed.value.status == 422 and failed.value.codes == ["invalid_settings"]


def test_refresh_metadata_lists_the_regions(stack: Stack) -> None:
    assert [o[0] for o in stack.call("refreshMetadata")["options"]] == ["us", "eu"]


def test_installer_steps(stack: Stack) -> None:
    options = stack.options("verifyCredentials", type="installer", postBody={"apiKey": "k"})
    assert stack.call("verifyCredentials", options, type="installer")["success"] is True
    with pytest.raises(ExtensionCallError, match="Enter an API key"):
        stack.call("verifyCredentials", type="installer")
    assert stack.call("changeEdition", type="installer") == {"success": True, "edition": "standard"}


def test_uninstaller_and_utility(stack: Stack) -> None:
    assert stack.call("preUninstall", type="uninstaller") == {"success": True}
    assert stack.call("countRecords", {"data": [1, 2, 3]}, type="utility") == {"count": 3}


def test_results_must_be_json_and_fit_the_size_limit(stack: Stack) -> None:
    result = stack.invoke("preMap", records=[{"name": "x" * 100}], max_response_size=50)
    assert result.status == 422 and result.codes == ["response_size_exceeded"]
