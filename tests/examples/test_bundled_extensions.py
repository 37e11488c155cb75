"""The bundled example extensions (``extensions/``), tested the way an author tests theirs.

The ``stack`` fixture comes from stack-runtime's own pytest plugin: it finds the
``extensions`` folder above this file, imports it afresh for each test and calls
functions through the real dispatcher, so the results are what integrator.io
would get.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stack_runtime.testing import ExtensionCallError, Stack

CONNECTOR = "5d8a3b6c7e2f4a1b9c0d1e2f"


def test_describe_is_a_top_level_function(stack: Stack) -> None:
    result = stack.call("describe", stack.options("describe"), type=None)
    assert result["name"] == "CRM contacts to marketing lists"
    assert result["integrationId"] == stack.options("describe")["_integrationId"]


def test_pre_save_page_cleans_enriches_and_reports(stack: Stack) -> None:
    page = [
        {"id": 1, "email": " Ada@Example.com ", "firstName": "Ada", "lastName": "Lovelace"},
        {"id": 2, "status": "inactive", "email": "gone@example.com"},
        {"id": 3, "email": "not an address"},
    ]
    result = stack.call("preSavePage", records=page)
    assert [r["id"] for r in result["data"]] == [1]
    assert result["data"][0]["email"] == "ada@example.com"
    assert result["data"][0]["fullName"] == "Ada Lovelace"
    assert [e["code"] for e in result["errors"]] == ["invalid_email"]
    assert result["abort"] is False


def test_pre_save_page_compares_with_the_last_export_date(stack: Stack) -> None:
    options = stack.options(
        "preSavePage",
        [
            {"id": 1, "email": "a@example.com", "updatedAt": "2024-06-01T00:00:00+00:00"},
            {"id": 2, "email": "b@example.com", "updatedAt": "2024-01-01T00:00:00+00:00"},
        ],
        lastExportDateTime=datetime(2024, 3, 1, tzinfo=UTC),
    )
    result = stack.call("preSavePage", options)
    assert [r["changedSinceLastExport"] for r in result["data"]] == [True, False]


def test_pre_map_normalizes_tags_one_entry_per_record(stack: Stack) -> None:
    result = stack.call("preMap", records=[{"tags": [" VIP ", "vip", "Lead", " "]}, {}])
    assert result == [
        {"data": {"tags": ["lead", "vip"], "source": "crm"}},
        {"data": {"tags": [], "source": "crm"}},
    ]


def test_post_map_fails_records_without_email(stack: Stack) -> None:
    mapped = [{"email": "a@example.com"}, {"name": "no email"}]
    result = stack.call("postMap", stack.options("postMap", [{}, {}], post_map_data=mapped))
    assert result[0] == {"data": {"email": "a@example.com"}}
    assert result[1]["errors"][0]["code"] == "missing_email"


def test_post_submit_turns_duplicates_into_ignored_successes(stack: Stack) -> None:
    responses = [
        {"statusCode": 422, "errors": [{"code": "duplicate_contact", "message": "exists"}]},
        {"statusCode": 422, "errors": [{"code": "rate_limited", "message": "slow down"}]},
    ]
    options = stack.options("postSubmit", [{"id": 1}, {"id": 2}], response_data=responses)
    result = stack.call("postSubmit", options)
    assert result[0]["statusCode"] == 200 and result[0]["ignored"] is True
    assert result[1] == responses[1]


def test_post_response_map_is_async_and_keeps_one_record_each(stack: Stack) -> None:
    result = stack.call("postResponseMap", records=[{"id": 1}, {"id": 2}])
    assert [r["id"] for r in result] == [1, 2]
    assert all(datetime.fromisoformat(r["mappedAt"]).tzinfo is not None for r in result)


def test_ping_wants_an_api_key(stack: Stack) -> None:
    assert stack.call("ping")["statusCode"] == 401
    connection = {"encrypted": {"apiKey": "secret"}}
    assert stack.call("ping", stack.options("ping", connection=connection)) == {"statusCode": 200}


def test_export_pages_until_the_last_one(stack: Stack) -> None:
    ids: list[int] = []
    state = None
    for _ in range(10):
        page = stack.call("export", stack.options("export", state=state, configuration={}))
        ids += [record["id"] for record in page["data"]]
        state = page["state"]
        if page["lastPage"]:
            break
    assert ids == list(range(1, 26))


def test_import_answers_each_record(stack: Stack) -> None:
    result = stack.call("import", records=[{"id": 7, "email": "a@example.com"}, {"id": 8}])
    assert result[0] == {"statusCode": 200, "id": "mkt-7", "ignored": False}
    assert result[1]["statusCode"] == 422


def test_settings_refuse_an_unknown_region(stack: Stack) -> None:
    with pytest.raises(ExtensionCallError) as failed:
        stack.call("persistSettings", stack.options("persistSettings", pending={"region": "mars"}))
    assert failed.value.status == 422
    assert failed.value.errors == [
        {"code": "ValueError", "message": "Unknown region 'mars': choose one of us, eu, ap."}
    ]
    refreshed = stack.call("refreshMetadata")
    assert [choice[0] for choice in refreshed["options"]] == ["us", "eu", "ap"]


def test_installer_step_needs_an_api_key(stack: Stack) -> None:
    result = stack.invoke("verifyCredentials", type="installer")
    assert result.status == 422 and result.codes == ["install_failed"]
    options = stack.options("verifyCredentials", type="installer", postBody={"apiKey": "k"})
    assert stack.call("verifyCredentials", options, type="installer")["success"] is True
    assert stack.call("preUninstallFunction", type="uninstaller") == {"success": True}


def test_connector_namespaces_of_every_shape(stack: Stack) -> None:
    page = stack.call("preSavePage", records=[{"id": 1}], connector=CONNECTOR)
    assert page["data"] == [{"id": 1, "syncedBy": "orders-connector"}]
    assert stack.call("update", type="installer", connector=CONNECTOR)["version"] == "1.1.0"
    saved = stack.call(
        "persistSettings",
        stack.options("persistSettings", pending={"syncDays": 3}),
        connector=CONNECTOR,
    )
    assert saved["settings"] == {"syncDays": 3}


def test_private_helpers_are_never_callable(stack: Stack) -> None:
    result = stack.invoke("normalize_email", {"x": 1}, type="hook")
    assert result.codes == ["invalid_function"]
