"""The protocol (docs/integrator-io.md), row by row, against the real ``stack-runtime serve`` over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from ..conftest import FIXTURES
from ..wire import (
    BAD_CONNECTOR,
    FUNCTION_NOT_STRING,
    INVALID_FUNCTION,
    NEITHER,
    NO_DIY,
    NO_FUNCTION,
    NO_OPTIONS,
    NOT_SERIALIZABLE,
)
from .conftest import TOKEN
from .server import RunningServer, start

JSON = {"Content-Type": "application/json"}


def call(
    server: RunningServer, envelope: Any, *, token: str | None = TOKEN, **kwargs: Any
) -> requests.Response:
    headers = dict(JSON)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    headers.update(kwargs.pop("headers", {}))
    return requests.post(
        server.url + "/function", data=json.dumps(envelope), headers=headers, timeout=30, **kwargs
    )


def hook(function: str, options: Any = None, **extra: Any) -> dict[str, Any]:
    return {"diy": True, "type": "hook", "function": function, "options": options or {}, **extra}


def errors_of(response: requests.Response, status: int = 422) -> list[dict[str, Any]]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()["errors"]  # type: ignore[no-any-return]


# -- validation ---------------------------------------------------------------------------


def test_neither_diy_nor_connector(server: RunningServer) -> None:
    assert errors_of(call(server, {"function": "echo", "options": {}})) == [NEITHER]


def test_misspelled_connector_id_does_not_count(server: RunningServer) -> None:
    envelope = {"connectorId": "conn-1", "function": "flat", "options": {}}
    assert errors_of(call(server, envelope)) == [NEITHER]


def test_unknown_connector(server: RunningServer) -> None:
    envelope = {"_connectorId": "nope", "function": "flat", "options": {}}
    assert errors_of(call(server, envelope)) == [BAD_CONNECTOR]


def test_diy_not_configured(tmp_path: Path) -> None:
    running = start(
        "serve", FIXTURES / "connectors_only", tmp_path / "log", extra=["--workers", "1"]
    )
    try:
        assert errors_of(call(running, {"diy": True, "function": "x", "options": {}})) == [NO_DIY]
        ok = call(running, {"_connectorId": "only", "function": "hello", "options": {}})
        assert ok.status_code == 200 and ok.json() == "hello"
    finally:
        running.stop()


def test_all_errors_collected_in_order(server: RunningServer) -> None:
    assert errors_of(call(server, {})) == [NEITHER, NO_FUNCTION, NO_OPTIONS]
    assert errors_of(call(server, {"function": 7, "options": None})) == [
        NEITHER,
        FUNCTION_NOT_STRING,
        NO_OPTIONS,
    ]


@pytest.mark.parametrize("value", ["", 0, False, None])
def test_falsy_function_counts_as_missing(server: RunningServer, value: Any) -> None:
    envelope = {"diy": True, "function": value, "options": {}}
    assert errors_of(call(server, envelope)) == [NO_FUNCTION]


@pytest.mark.parametrize("value", [5, [], {}, True])
def test_non_string_function(server: RunningServer, value: Any) -> None:
    envelope = {"diy": True, "function": value, "options": {}}
    assert errors_of(call(server, envelope)) == [FUNCTION_NOT_STRING]


@pytest.mark.parametrize("value", ["", 0, False, None])
def test_falsy_options_count_as_missing(server: RunningServer, value: Any) -> None:
    envelope = {"diy": True, "function": "flatEcho", "options": value}
    assert errors_of(call(server, envelope)) == [NO_OPTIONS]


def test_options_missing(server: RunningServer) -> None:
    assert errors_of(call(server, {"diy": True, "function": "flatEcho"})) == [NO_OPTIONS]


@pytest.mark.parametrize("value", [{}, []])
def test_empty_options_are_present(server: RunningServer, value: Any) -> None:
    response = call(server, {"diy": True, "function": "flatEcho", "options": value})
    assert response.status_code == 200 and response.json() == value


@pytest.mark.parametrize("value", ["false", {}, [], 1])
def test_truthy_diy_values_select_diy(server: RunningServer, value: Any) -> None:
    response = call(server, {"diy": value, "function": "flatEcho", "options": {"a": 1}})
    assert response.status_code == 200 and response.json() == {"a": 1}


def test_validation_key_order_is_the_reference(server: RunningServer) -> None:
    body = call(server, {"diy": True, "options": {}}).text
    assert body == (
        '{"errors":[{"code":"missing_required_field","message":'
        '"Missing required field function in the extension options."}]}'
    )
    body = call(server, hook("nope")).text
    assert body == (
        '{"errors":[{"message":"The function passed in the extension options '
        'doesn\'t map to a function.","code":"invalid_function"}]}'
    )


# -- resolution ---------------------------------------------------------------------------


def test_missing_namespace(server: RunningServer) -> None:
    envelope = {"diy": True, "type": "export", "function": "x", "options": {}}
    assert errors_of(call(server, envelope)) == [
        {"message": "The object export doesn't exist in the module.", "code": "object_not_found"}
    ]


def test_unknown_function(server: RunningServer) -> None:
    assert errors_of(call(server, hook("doesNotExist"))) == [INVALID_FUNCTION]


@pytest.mark.parametrize(
    ("type_", "function"),
    [
        (None, "os"),
        (None, "json"),
        (None, "loads"),
        (None, "shared_helper"),
        (None, "_private"),
        (None, "__init__"),
        (None, "wrappers"),
        (None, "__class__"),
        ("hook", "os"),
        ("hook", "json"),
        ("hook", "sys"),
        ("hook", "_private"),
        ("hook", "CodedError"),
        ("hook", "Color"),
        ("hook", "shared_helper"),
        ("hook", "shared_json"),
        ("hook", "datetime"),
        ("hook", "__init__"),
        ("wrapper", "_hidden"),
        ("wrapper", "__init__"),
        ("wrapper", "mro"),
        ("setting", "__init__"),
        ("setting", "__class__"),
        ("utility", "notAFunction"),
        ("utility", "keys"),
    ],
)
def test_things_that_are_not_extension_functions(
    server: RunningServer, type_: str | None, function: str
) -> None:
    envelope: dict[str, Any] = {"diy": True, "function": function, "options": {"x": 1}}
    if type_:
        envelope["type"] = type_
    assert errors_of(call(server, envelope)) == [INVALID_FUNCTION]


@pytest.mark.parametrize("type_", ["os", "json", "loads", "_private", "__class__", "__dict__"])
def test_imported_modules_and_private_names_are_not_namespaces(
    server: RunningServer, type_: str
) -> None:
    envelope = {"diy": True, "type": type_, "function": "system", "options": "true"}
    assert errors_of(call(server, envelope)) == [
        {"message": f"The object {type_} doesn't exist in the module.", "code": "object_not_found"}
    ]


def test_refused_functions_are_not_run(server: RunningServer, tmp_path: Path) -> None:
    target = tmp_path / "ran"
    # os.system by every route: an imported module as namespace, a flat name.
    for envelope in (
        {"diy": True, "type": "os", "function": "system", "options": f"touch {target}"},
        {"diy": True, "function": "os", "options": {"path": str(target)}},
        {"diy": True, "function": "_private", "options": {"path": str(target)}},
    ):
        assert call(server, envelope).status_code == 422
    assert not target.exists()
    # the control: a public function of the extension does run.
    assert call(server, {"diy": True, "function": "marker", "options": {"path": str(target)}}).ok
    assert target.read_text() == "ran"


@pytest.mark.parametrize(
    ("envelope", "expected"),
    [
        ({"diy": True, "function": "flatEcho", "options": {"a": 1}}, {"a": 1}),
        ({"diy": True, "type": "", "function": "flatEcho", "options": {"a": 1}}, {"a": 1}),
        ({"diy": True, "type": "wrapper", "function": "ping", "options": {}}, {"statusCode": 200}),
        (
            {"diy": True, "type": "setting", "function": "persistSettings", "options": {"s": 1}},
            {"saved": {"s": 1}},
        ),
        ({"diy": True, "type": "utility", "function": "sum", "options": {"numbers": [1, 2]}}, 3),
        ({"diy": True, "type": "utilities", "function": "sum", "options": {"numbers": [4]}}, 4),
        (
            {
                "_connectorId": "conn-1",
                "type": "hook",
                "function": "preSavePage",
                "options": {"data": [1]},
            },
            {"data": [1], "connector": "conn-1"},
        ),
        ({"_connectorId": "conn-1", "function": "flat", "options": {}}, "conn-1 flat"),
        # any other type is the attribute's own name: here a submodule of the extension
        (
            {"diy": True, "type": "helpers", "function": "shared_helper", "options": {}},
            "helper ran",
        ),
        (
            {
                "_connectorId": "abc123def456abc123def456",
                "type": "installer",
                "function": "installConnector",
                "options": {},
            },
            {"success": True, "step": "install"},
        ),
        (
            {"_connectorId": "abc123def456abc123def456", "function": "whoami", "options": {}},
            {"connector": "abc123def456abc123def456"},
        ),
    ],
)
def test_namespaces_resolve(server: RunningServer, envelope: dict[str, Any], expected: Any) -> None:
    response = call(server, envelope)
    assert response.status_code == 200, response.text
    assert response.json() == expected


# -- the call -----------------------------------------------------------------------------


def test_export_dates_become_aware_datetimes(server: RunningServer) -> None:
    options = {
        "lastExportDateTime": "2024-03-01T10:00:00.000Z",
        "currentExportDateTime": 1709287200000,
    }
    result = call(server, hook("describeDates", options)).json()
    assert result == {
        "lastExportDateTime": ["datetime", "2024-03-01 10:00:00+00:00"],
        "currentExportDateTime": ["datetime", "2024-03-01 10:00:00+00:00"],
    }


def test_unparsable_export_date_is_kept(server: RunningServer) -> None:
    result = call(server, hook("describeDates", {"lastExportDateTime": "last tuesday"})).json()
    assert result == {"lastExportDateTime": ["str", "last tuesday"]}


def test_raised_error_with_code(server: RunningServer) -> None:
    assert errors_of(call(server, hook("raiseCoded"))) == [
        {"message": "it broke", "code": "my_code"}
    ]


def test_raised_error_without_code_uses_class_name(server: RunningServer) -> None:
    response = call(server, hook("raisePlain"))
    assert errors_of(response) == [{"message": "bad value", "code": "ValueError"}]
    assert "Traceback" not in response.text and "hooks.py" not in response.text


def test_async_raise(server: RunningServer) -> None:
    assert errors_of(call(server, hook("asyncRaise"))) == [
        {"message": "async broke", "code": "my_code"}
    ]


def test_sys_exit_in_a_function_is_an_error_not_an_exit(server: RunningServer) -> None:
    # SystemExit carries a ``code`` attribute (the exit status), so that is the code.
    assert errors_of(call(server, hook("exitProcessCall"))) == [{"message": "3", "code": 3}]
    assert call(server, hook("echo", {"still": "serving"})).json() == {"still": "serving"}


def test_returning_nothing_is_an_empty_200(server: RunningServer) -> None:
    response = call(server, hook("returnNothing"))
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    "function",
    [
        "returnDatetime",
        "returnTuple",
        "returnSet",
        "returnEnum",
        "returnUuid",
        "returnObject",
        "returnIntKeys",
    ],
)
def test_non_json_results_are_refused(server: RunningServer, function: str) -> None:
    assert errors_of(call(server, hook(function))) == [NOT_SERIALIZABLE]


def test_nan_and_infinity_become_null(server: RunningServer) -> None:
    response = call(server, hook("returnNan"))
    assert response.status_code == 200
    assert response.text == '{"nan":null,"inf":null,"ninf":null}'


def test_response_size_limit_is_inclusive(server: RunningServer) -> None:
    # "x" * n serializes to n + 2 characters (the quotes).
    at_limit = call(server, hook("returnSized", {"length": 98}, maxResponseSize=100))
    assert at_limit.status_code == 200 and len(at_limit.json()) == 98
    over = call(server, hook("returnSized", {"length": 99}, maxResponseSize=100))
    assert errors_of(over) == [
        {
            "message": "response stream exceeded limit of 100 bytes.",
            "code": "response_size_exceeded",
        }
    ]


def test_default_response_limit_is_5_mib(server: RunningServer) -> None:
    limit = 5 * 1024 * 1024
    assert call(server, hook("returnSized", {"length": limit - 2})).status_code == 200
    assert errors_of(call(server, hook("returnSized", {"length": limit - 1}))) == [
        {
            "message": f"response stream exceeded limit of {limit} bytes.",
            "code": "response_size_exceeded",
        }
    ]


def test_size_is_counted_in_utf16_units_like_the_reference(server: RunningServer) -> None:
    # "é" is 2 UTF-8 bytes but 1 UTF-16 unit; "😀" is 4 bytes and 2 units.
    text = "é" * 10 + "😀"
    response = call(server, hook("returnUnicode", {"text": text}, maxResponseSize=14))
    assert response.status_code == 200 and response.json() == text
    assert (
        call(server, hook("returnUnicode", {"text": text}, maxResponseSize=13)).status_code == 422
    )


def test_def_runs_in_a_worker_thread(server: RunningServer) -> None:
    assert call(server, hook("threadName")).json().startswith("extension")


def test_async_function_is_awaited(server: RunningServer) -> None:
    assert call(server, hook("asyncEcho", {"data": [1]})).json() == {"async": True, "data": [1]}


def test_call_timeout(server: RunningServer) -> None:
    response = call(server, hook("sleepy", {"seconds": 5}))
    assert errors_of(response) == [
        {
            "message": "The function sleepy did not finish within 3 seconds.",
            "code": "function_timeout",
        }
    ]
    assert call(server, hook("echo", {"after": 1})).json() == {"after": 1}


def test_big_body_round_trip(server: RunningServer) -> None:
    records = [{"id": i, "name": "x" * 100} for i in range(20000)]
    response = call(server, hook("echo", {"data": records}))
    assert response.status_code == 200 and response.json()["data"] == records


# -- authentication -------------------------------------------------------------------------


def assert_unauthorized(response: requests.Response) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "invalid system token"
    assert response.text == '{"errors":[{"code":"unauthorized","message":"Invalid system token."}]}'


def test_missing_token(server: RunningServer) -> None:
    assert_unauthorized(call(server, hook("echo"), token=None))


def test_wrong_token(server: RunningServer) -> None:
    assert_unauthorized(call(server, hook("echo"), token="wrong"))
    assert_unauthorized(call(server, hook("echo"), token=TOKEN + "x"))


def test_non_bearer_scheme(server: RunningServer) -> None:
    headers = {"Authorization": f"Basic {TOKEN}"}
    assert_unauthorized(call(server, hook("echo"), token=None, headers=headers))


def test_token_in_body(server: RunningServer) -> None:
    response = call(server, hook("echo", {"a": 1}, access_token=TOKEN), token=None)
    assert response.status_code == 200 and response.json() == {"a": 1}


def test_token_in_query(server: RunningServer) -> None:
    response = call(server, hook("echo", {"a": 2}), token=None, params={"access_token": TOKEN})
    assert response.status_code == 200 and response.json() == {"a": 2}


def test_header_wins_over_body_token(server: RunningServer) -> None:
    assert_unauthorized(call(server, hook("echo", access_token=TOKEN), token="wrong"))


def test_previous_token_accepted_during_rotation(server: RunningServer) -> None:
    assert call(server, hook("echo", {"a": 3}), token="old-token").json() == {"a": 3}


def test_unauthorized_body_is_not_run(server: RunningServer, tmp_path: Path) -> None:
    target = tmp_path / "ran"
    envelope = {"diy": True, "function": "marker", "options": {"path": str(target)}}
    assert_unauthorized(call(server, envelope, token="wrong"))
    assert not target.exists()


# -- bad requests ---------------------------------------------------------------------------


def test_malformed_json_is_a_json_400(server: RunningServer) -> None:
    response = requests.post(
        server.url + "/function",
        data=b'{"diy": tru',
        headers={**JSON, "Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    [error] = errors_of(response, 400)
    assert error["code"] == "invalid_json"


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"42", b"null"])
def test_non_object_body_is_a_json_400(server: RunningServer, body: bytes) -> None:
    response = requests.post(
        server.url + "/function",
        data=body,
        headers={**JSON, "Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert errors_of(response, 400) == [
        {"code": "invalid_body", "message": "The request body must be a JSON object."}
    ]


def test_non_json_content_type_is_treated_as_empty(server: RunningServer) -> None:
    response = requests.post(
        server.url + "/function",
        data=json.dumps(hook("echo")),
        headers={"Content-Type": "text/plain", "Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert errors_of(response) == [NEITHER, NO_FUNCTION, NO_OPTIONS]


def test_body_over_50_mb_is_413(server: RunningServer) -> None:
    body = b"{" + b" " * (50 * 1024 * 1024) + b"}"
    response = requests.post(
        server.url + "/function",
        data=body,
        headers={**JSON, "Authorization": f"Bearer {TOKEN}"},
        timeout=60,
    )
    [error] = errors_of(response, 413)
    assert error["code"] == "payload_too_large"
    assert call(server, hook("echo", {"after": 413})).json() == {"after": 413}


def test_chunked_body_over_50_mb_is_413(server: RunningServer) -> None:
    def chunks() -> Any:
        yield b"{"
        for _ in range(51):
            yield b" " * (1024 * 1024)
        yield b"}"

    try:
        response = requests.post(
            server.url + "/function",
            data=chunks(),
            headers={**JSON, "Authorization": f"Bearer {TOKEN}"},
            timeout=60,
        )
    except requests.ConnectionError:
        pass  # the host may close the connection before the client finished sending
    else:
        assert errors_of(response, 413)[0]["code"] == "payload_too_large"
    assert call(server, hook("echo", {"after": "chunked"})).json() == {"after": "chunked"}


def test_body_just_under_50_mb_is_accepted(server: RunningServer) -> None:
    filler = "y" * (50 * 1024 * 1024 - 200)
    response = call(
        server, {"diy": True, "function": "flatEcho", "options": {"n": 1}, "pad": filler}
    )
    assert response.status_code == 200 and response.json() == {"n": 1}


def test_unknown_route_and_method_are_json(server: RunningServer) -> None:
    missing = requests.get(server.url + "/nope", timeout=10)
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "not_found"
    wrong = requests.get(server.url + "/function", timeout=10)
    assert wrong.status_code == 405 and "errors" in wrong.json()


# -- health and operations ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/healthCheck"])
def test_health(server: RunningServer, path: str) -> None:
    response = requests.get(server.url + path, timeout=10)
    assert response.status_code == 200 and response.json() == {"success": True}


@pytest.mark.parametrize("path", ["/livez", "/readyz"])
def test_live_and_ready(server: RunningServer, path: str) -> None:
    assert requests.get(server.url + path, timeout=10).status_code == 200


@pytest.mark.parametrize("path", ["/openConnections", "/stopServer"])
def test_operations_need_the_token(server: RunningServer, path: str) -> None:
    assert_unauthorized(requests.get(server.url + path, timeout=10))
    assert_unauthorized(requests.get(server.url + path, params={"access_token": "x"}, timeout=10))


def test_operations_and_metrics_take_the_token_in_the_query(server: RunningServer) -> None:
    """As ``POST /function``: the header when there is one, else the query's access_token;
    every refusal is the same 401."""
    for path in ("/openConnections", "/metrics"):
        good = requests.get(server.url + path, params={"access_token": TOKEN}, timeout=10)
        assert good.status_code == 200, (path, good.text)
        assert_unauthorized(
            requests.get(server.url + path, params={"access_token": "x"}, timeout=10)
        )
        wrong_header = {"Authorization": "Bearer wrong"}
        assert_unauthorized(
            requests.get(
                server.url + path, params={"access_token": TOKEN}, headers=wrong_header, timeout=10
            )
        )
    assert_unauthorized(requests.get(server.url + "/metrics", timeout=10))


def test_open_connections_counts_other_clients(server: RunningServer) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    baseline = int(requests.get(server.url + "/openConnections", headers=auth, timeout=10).text)
    sessions = [requests.Session() for _ in range(3)]
    for session in sessions:
        session.get(server.url + "/healthCheck", timeout=10)  # keeps its connection open
    try:
        count = int(requests.get(server.url + "/openConnections", headers=auth, timeout=10).text)
        assert count == baseline + 3
    finally:
        for session in sessions:
            session.close()


def test_logs(server: RunningServer) -> None:
    options = {
        "bearerToken": "one-time-secret-bearer",
        "_integrationId": "int-1",
        "_flowId": "flow-1",
        "connection": {"_id": "c1", "encrypted": {"apiKey": "encrypted-secret-value"}},
    }
    call(server, hook("echo", options), headers={"traceid": "trace-abc"})
    call(server, hook("echo"), token=None, params={"access_token": TOKEN})
    log = server.output()
    invoked = [line for line in log.splitlines() if "traceId=trace-abc" in line]
    assert any(
        "logName=callFunctionInvoked, type=hook, function=echo, _integrationId=int-1, "
        "_flowId=flow-1" in line
        for line in invoked
    ), log
    assert any(
        "logName=reqFinished, method=POST, url=/function, statusCode=200" in line
        for line in invoked
    )
    for secret in (TOKEN, "one-time-secret-bearer", "encrypted-secret-value", "old-token"):
        assert secret not in log


def test_traceback_goes_to_the_log(server: RunningServer) -> None:
    call(server, hook("raisePlain"))
    log = server.output()
    assert "Traceback" in log and "raise ValueError" in log
